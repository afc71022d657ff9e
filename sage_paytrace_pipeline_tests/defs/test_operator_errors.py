"""One-line errors from the plain Dagster CLI: config and environment mistakes, selections Dagster refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sage_paytrace_pipeline.config import REQUIRED_ENVIRONMENT, ConfigError
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.operator_errors import one_line, running_the_plain_cli

REPO = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAY = "2026-11-02"


def _select(definitions: dg.Definitions, selection: str) -> dg.JobDefinition:
    """What `dagster asset materialize --select SELECTION` does before it runs anything."""
    repository = definitions.get_repository_def()
    keys = dg.AssetSelection.from_coercible(selection.split(",")).resolve(repository.asset_graph)
    job = repository.get_implicit_job_def_for_assets(keys)
    assert job is not None
    return job.get_subset(asset_selection=keys)


def _multi_assets(definitions: dg.Definitions) -> list[dg.AssetsDefinition]:
    return [a for a in definitions.assets or () if isinstance(a, dg.AssetsDefinition) and len(a.keys) > 1]


def test_each_group_can_be_selected():
    definitions = defs()
    groups = {group for a in _multi_assets(definitions) for group in a.group_names_by_key.values()}
    assert {"paytrace", "receivables", "settlement", "refunds"} <= groups
    for group in sorted(groups):
        assert _select(definitions, f"group:{group}").asset_layer is not None


def test_part_of_an_asset_made_in_one_step_is_refused_with_what_to_select():
    definitions = defs()
    for assets_def in _multi_assets(definitions):
        keys = sorted(key.to_user_string() for key in assets_def.keys)
        group = next(iter(assets_def.group_names_by_key.values()))
        with pytest.raises(dg.DagsterInvalidSubsetError) as refused:
            _select(definitions, keys[0])
        sentence = one_line(refused.value)
        assert sentence is not None and "\n" not in sentence
        assert sentence.startswith(f"{keys[0]} is made in one step with {', '.join(keys[1:])}: ")
        assert f"(--select {','.join(keys)})" in sentence and f"--select group:{group}" in sentence
        assert _select(definitions, ",".join(keys)) is not None, "the suggested selection runs"


def test_a_config_error_is_found_in_the_chain_dagster_wraps_it_in():
    try:
        try:
            raise ConfigError("config.yaml: merchnat: unknown key")
        except ConfigError as error:
            raise RuntimeError("Error while building definitions for alerts/sensors.py") from error
    except RuntimeError as wrapped:
        assert one_line(wrapped) == "config.yaml: merchnat: unknown key"
    assert one_line(RuntimeError("something else")) is None


def test_only_the_plain_cli_that_runs_the_job_in_process_checks_the_environment_at_load():
    assert running_the_plain_cli(["/venv/bin/dagster", "asset", "materialize", "-m", "x"])
    assert running_the_plain_cli(["dagster", "job", "execute", "-m", "x"])
    assert not running_the_plain_cli(["/venv/bin/dagster", "dev"])
    assert not running_the_plain_cli(["/venv/bin/dagster", "api", "grpc"])


def _materialize(tmp_path: Path, select: str, **environment: str) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    cleared = {*REQUIRED_ENVIRONMENT, "SAGE_PAYTRACE_DEBUG"}
    env = {name: value for name, value in os.environ.items() if name not in cleared}
    env |= {"DAGSTER_HOME": str(home), "PAYTRACE_API_URL": "http://127.0.0.1:9", "PAYTRACE_USERNAME": "user",
            "PAYTRACE_PASSWORD": "not-a-real-password", "SAGE100_DATABASE": str(tmp_path / "sage.sqlite3"),
            "SAGE_PAYTRACE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
            "SAGE_PAYTRACE_CONFIG": str(REPO / "config" / "example.yaml"), **environment}
    env = {name: value for name, value in env.items() if value}
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "sage_paytrace_pipeline.definitions", "--select", select,
         "--partition", DAY], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def _error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """What the operator reads, without the warnings Dagster prints about its own commands."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.slow
def test_a_misspelled_key_is_one_line_and_the_traceback_comes_with_the_debug_flag(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text((REPO / "config" / "example.yaml").read_text().replace("\nmerchant:", "\nmerchnat:", 1))
    [line] = _error_lines(_materialize(tmp_path, "*", SAGE_PAYTRACE_CONFIG=str(bad)))
    assert line.startswith(f"error: {bad}: merchnat: unknown key (check the spelling against config/example.yaml)")
    assert "SAGE_PAYTRACE_DEBUG=1" in line

    debug = _materialize(tmp_path, "*", SAGE_PAYTRACE_CONFIG=str(bad), SAGE_PAYTRACE_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "merchnat: unknown key" in debug.stderr


@pytest.mark.slow
def test_a_missing_variable_is_one_line_before_any_run(tmp_path):
    [line] = _error_lines(_materialize(tmp_path, "*", PAYTRACE_PASSWORD="", SAGE100_DATABASE=""))
    assert line.startswith("error: missing environment variables: PAYTRACE_PASSWORD (PayTrace API password); "
                           "SAGE100_DATABASE (")
    assert "RUN_START" not in line and not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.slow
def test_a_single_asset_of_a_multi_asset_is_refused_with_what_to_select(tmp_path):
    [line] = _error_lines(_materialize(tmp_path, "paytrace_transactions"))
    assert line.startswith(
        "error: paytrace_transactions is made in one step with paytrace_record_exceptions: add it to the selection "
        "(--select paytrace_transactions,paytrace_record_exceptions), select its group (--select group:paytrace) "
        "or select the whole day (--select '*')")
    assert "DagsterInvalidSubsetError" not in line


def _code_location_error(monkeypatch, **environment: str):
    """The code location's load error as the UI gets it: the workspace file's code server (a real
    gRPC subprocess, as under `dagster dev`) loads the definitions and reports what failed."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance, WorkspaceProcessContext(
            instance, WorkspaceFileTarget([str(REPO / "workspace.yaml")])) as workspace:
        [entry] = workspace.create_request_context().get_code_location_entries().values()
        return entry.load_error


@pytest.mark.slow
def test_the_ui_shows_a_misspelled_key_as_one_line_without_a_stack(tmp_path, monkeypatch):
    bad = tmp_path / "config.yaml"
    bad.write_text((REPO / "config" / "example.yaml").read_text().replace("\nmerchant:", "\nmerchnat:", 1))
    monkeypatch.delenv("SAGE_PAYTRACE_DEBUG", raising=False)
    error = _code_location_error(monkeypatch, SAGE_PAYTRACE_CONFIG=str(bad))
    assert error is not None
    assert error.message == f"{bad}: merchnat: unknown key (check the spelling against config/example.yaml)\n"
    assert error.stack == [] and error.cause is None and error.context is None

    debug = _code_location_error(monkeypatch, SAGE_PAYTRACE_CONFIG=str(bad), SAGE_PAYTRACE_DEBUG="1")
    assert debug is not None
    frames = "".join(debug.stack) + "".join(debug.cause.stack if debug.cause else [])
    assert "merchnat: unknown key" in debug.to_string() and "load_time_config" in frames
