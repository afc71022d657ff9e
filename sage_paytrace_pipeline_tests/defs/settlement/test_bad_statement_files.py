"""A statement file that cannot be loaded is visible: a failed WARN asset check on bank_deposits,
whose fix names the config key, and an alert on the configured channels (a real local webhook)."""

from __future__ import annotations

import dagster as dg
import pytest

from sage_paytrace_pipeline.config import AlertSettings
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.alerts.sensors import build_alert_sensors
from sage_paytrace_pipeline_tests.defs.alerts.receivers import webhook_receiver
from sage_paytrace_pipeline_tests.defs.receivables.conftest import REPO


@pytest.fixture
def statement_run(tmp_path, monkeypatch):
    """Runs bank_statements_job on a folder holding `files` (name -> text) on a temporary instance."""
    (tmp_path / "config.yaml").write_text((REPO / "config" / "example.yaml").read_text())
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    # required of every run; this job reads only the folder and the warehouse, so nothing is contacted
    for name, value in {"PAYTRACE_API_URL": "http://127.0.0.1:9", "PAYTRACE_USERNAME": "demo_api",
                        "PAYTRACE_PASSWORD": "not-used", "SAGE100_DATABASE": str(tmp_path / "sage.sqlite3")}.items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "bank_statements"
    folder.mkdir()
    with dg.instance_for_test() as instance:
        def run(files: dict[str, str]) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
            for name, text in files.items():
                (folder / name).write_text(text)
            result = defs().resolve_job_def("bank_statements_job").execute_in_process(instance=instance)
            assert result.success  # a refused file warns; it does not fail the run
            return instance, result

        yield run


def the_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (check,) = [check for check in result.get_asset_check_evaluations()
                if check.check_name == "statement_files_loaded"]
    return check


def test_a_garbage_file_fails_the_warn_check_with_the_config_key_to_set(statement_run):
    _, result = statement_run({"garbage.csv": "this is not,a bank statement\n1,2\n"})
    check = the_check(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.asset_key == dg.AssetKey("bank_deposits")
    assert "garbage.csv line 1" in check.description and "under bank.csv in the config" in check.description
    assert "CsvFormat" not in check.description and check.metadata["refused"].value == 1


def test_the_check_passes_when_every_file_loads(statement_run):
    _, result = statement_run({})
    assert the_check(result).passed


def test_the_refused_file_reaches_the_alert_channels(statement_run, monkeypatch):
    instance, result = statement_run({"garbage.csv": "this is not,a bank statement\n"})
    success = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    run = instance.get_run_by_id(result.run_id)
    settings = AlertSettings.model_validate({"slack": {}})
    (sensor,) = [sensor for sensor in build_alert_sensors(settings) if sensor.name == "failed_check_slack_alert"]
    with webhook_receiver("/services/T000/B000/XXXXSECRET") as slack:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        sensor(dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=success[0].event_log_entry.dagster_event,
            dagster_instance=instance, dagster_run=run))
    (post,) = slack.posts
    text = post["json"]["text"]
    assert text.startswith("*[sage-paytrace] bank_statements_job: 1 failed check*")
    assert "Failed check (WARN): bank_deposits statement_files_loaded: 1 statement file refused" in text
    assert "garbage.csv line 1" in text and "bank.csv" in text


def test_a_run_whose_checks_pass_sends_nothing(statement_run, monkeypatch):
    instance, result = statement_run({})
    success = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    (sensor,) = [sensor for sensor in build_alert_sensors(AlertSettings.model_validate({"slack": {}}))
                 if sensor.name == "failed_check_slack_alert"]
    with webhook_receiver() as slack:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        sensor(dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=success[0].event_log_entry.dagster_event,
            dagster_instance=instance, dagster_run=instance.get_run_by_id(result.run_id)))
    assert slack.posts == []
