"""The code location loads, in process and through the workspace file the webserver reads."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sage_paytrace_pipeline.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_definitions_validate_loadable():
    dg.Definitions.validate_loadable(defs())


def test_daily_job_and_partitions():
    definitions = defs()
    job = definitions.resolve_job_def("paytrace_daily_job")
    assert dg.AssetKey("paytrace_transactions") in definitions.resolve_asset_graph().get_all_asset_keys()
    partitions = job.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    assert partitions.end_offset == 1 and str(partitions.timezone) == "America/Los_Angeles"


@pytest.mark.slow
def test_workspace_yaml_validates_with_the_dagster_cli(tmp_path):
    # An empty DAGSTER_HOME: validating code must not need the production (PostgreSQL) instance.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_defs_modules_reads_no_config(tmp_path):
    # A config path that does not exist fails any read: only building the definitions may read it.
    script = ("import importlib, pkgutil, sage_paytrace_pipeline.defs as d\n"
              "for module in pkgutil.walk_packages(d.__path__, d.__name__ + '.'):\n"
              "    importlib.import_module(module.name)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False,
                            timeout=120, env={**os.environ, "SAGE_PAYTRACE_CONFIG": str(tmp_path / "absent.yaml")})
    assert result.returncode == 0, result.stderr
