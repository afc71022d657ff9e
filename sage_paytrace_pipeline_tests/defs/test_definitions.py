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


def test_definitions_follow_the_config_the_process_now_names(tmp_path, monkeypatch):
    # One process may load definitions for several configs (a test session, the demo): each load
    # reads the config the variable names now, never one cached from an earlier load.
    example = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
    first_days = {}
    for first_day in ("2026-01-01", "2026-03-02"):
        config = tmp_path / f"config-{first_day}.yaml"
        config.write_text(example.read_text().replace('first_business_day: "2026-01-01"',
                                                      f'first_business_day: "{first_day}"'))
        monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
        partitions = defs().resolve_job_def("paytrace_daily_job").partitions_def
        first_days[first_day] = partitions.get_first_partition_key()
    assert first_days == {"2026-01-01": "2026-01-01", "2026-03-02": "2026-03-02"}
