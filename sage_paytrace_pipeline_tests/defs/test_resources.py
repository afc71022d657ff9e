"""The resources as the code location wires them from the environment: a missing variable fails the run
with one line naming it (not Dagster's config traceback), and loading the definitions creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from sage_paytrace_pipeline.config import REQUIRED_ENVIRONMENT, ConfigError
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline_tests.defs.conftest import EXAMPLE_CONFIG

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-24"
NOISE = ("Traceback", "PostProcessingError", "dagster._", "File \"", "Error executing resource_fn", "\n")


@pytest.fixture
def environment(tmp_path, monkeypatch):
    """Every variable the resources need, pointing nowhere harmful (the run stops before using them)."""
    values = {
        "PAYTRACE_API_URL": "http://127.0.0.1:9",
        "PAYTRACE_USERNAME": "user",
        "PAYTRACE_PASSWORD": "not-a-real-password",
        "SAGE100_DATABASE": str(tmp_path / "company.db"),
        "SAGE_PAYTRACE_WAREHOUSE": str(tmp_path / "warehouse" / "warehouse.duckdb"),
        "SAGE_PAYTRACE_CONFIG": str(EXAMPLE_CONFIG),
    }
    assert set(values) == set(REQUIRED_ENVIRONMENT)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The run's error as the UI and the failure alerts show it (resources start once per run here)."""
    return result.get_run_failure_event().event_specific_data.error.message.strip()


@pytest.mark.parametrize("variable", REQUIRED_ENVIRONMENT)
def test_a_missing_variable_fails_the_run_with_one_line_naming_it(variable, environment, monkeypatch):
    monkeypatch.delenv(variable)
    job = defs().resolve_job_def("paytrace_daily_job")
    result = job.execute_in_process(partition_key=DAY, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert variable in message and "missing environment variable" in message, message
    assert len(message) < 300, message
    # the exception's own text (what the UI and an alert show first): one line, no Dagster internals
    text = message.split(": ", 1)[1]
    assert not any(noise in text for noise in NOISE), message


def test_execute_in_process_raises_the_one_line_error(environment, monkeypatch):
    monkeypatch.delenv("PAYTRACE_PASSWORD")
    monkeypatch.delenv("SAGE100_DATABASE")
    with pytest.raises(ConfigError) as caught:
        defs().resolve_job_def("paytrace_daily_job").execute_in_process(partition_key=DAY)
    text = str(caught.value)
    assert "PAYTRACE_PASSWORD" in text and "SAGE100_DATABASE" in text and "PayTrace API password" in text
    assert "not-a-real-password" not in text
    assert not any(noise in text for noise in NOISE), text


@pytest.mark.slow
def test_dagster_asset_materialize_names_the_missing_variable(environment, tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "PAYTRACE_PASSWORD"}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize",
         "-m", "sage_paytrace_pipeline.definitions",
         "--select", "paytrace_transactions,paytrace_record_exceptions", "--partition", DAY],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "PostProcessingError" not in output and "You have attempted to fetch the environment variable" not in output
    [line] = {line.strip() for line in output.splitlines() if "missing environment variable" in line
              and line.strip().startswith("error: missing")} or [output[-2000:]]
    assert "PAYTRACE_PASSWORD (PayTrace API password)" in line, line
    assert "Traceback" not in output and "Stack Trace" not in output, "checked before the run: one line"


def test_loading_the_definitions_creates_no_warehouse_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SAGE_PAYTRACE_WAREHOUSE", raising=False)
    monkeypatch.chdir(tmp_path)
    dg.Definitions.validate_loadable(defs())
    assert list(tmp_path.iterdir()) == []


def test_the_warehouse_folder_is_made_when_the_warehouse_is_first_written(tmp_path):
    from sage_paytrace_pipeline.defs.warehouse import WarehouseResource

    path = tmp_path / "new" / "warehouse.duckdb"
    resource = WarehouseResource(database=str(path))
    assert not path.parent.exists()
    with resource.get_connection() as connection:
        connection.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert path.is_file()


def test_the_warehouse_folder_is_made_when_the_io_manager_first_writes(tmp_path):
    from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager

    @dg.asset
    def numbers() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2]})

    path = tmp_path / "new" / "warehouse.duckdb"
    manager = WarehouseIOManager(database=str(path), schema="pipeline")
    assert not path.parent.exists()
    assert dg.materialize([numbers], resources={"io_manager": manager}).success
    assert path.is_file()


def test_the_activity_sensor_skips_naming_the_missing_variables(environment, monkeypatch):
    monkeypatch.delenv("PAYTRACE_PASSWORD")
    monkeypatch.delenv("PAYTRACE_USERNAME")
    definitions = defs()
    sensor = definitions.resolve_sensor_def("paytrace_activity_sensor")
    with dg.build_sensor_context(resources={"paytrace": definitions.resources["paytrace"]},
                                 definitions=definitions) as context:
        data = sensor.evaluate_tick(context)
    assert data.run_requests == []
    assert data.skip_message == ("missing environment variables: PAYTRACE_USERNAME (PayTrace API user); "
                                 "PAYTRACE_PASSWORD (PayTrace API password)")


def test_the_run_failure_the_ui_shows_has_no_stack_under_the_line(environment, monkeypatch):
    monkeypatch.delenv("SAGE100_DATABASE")
    monkeypatch.delenv("SAGE_PAYTRACE_DEBUG", raising=False)
    result = defs().resolve_job_def("paytrace_daily_job").execute_in_process(partition_key=DAY, raise_on_error=False)
    error = result.get_run_failure_event().event_specific_data.error
    assert error.message.startswith("missing environment variables: SAGE100_DATABASE (")
    assert error.stack == [] and error.cause is None


def test_the_debug_flag_brings_the_traceback_back(environment, monkeypatch):
    monkeypatch.delenv("SAGE100_DATABASE")
    monkeypatch.setenv("SAGE_PAYTRACE_DEBUG", "1")
    result = defs().resolve_job_def("paytrace_daily_job").execute_in_process(partition_key=DAY, raise_on_error=False)
    error = result.get_run_failure_event().event_specific_data.error
    text = error.to_string()
    assert "SAGE100_DATABASE" in text and "require_environment" in text
