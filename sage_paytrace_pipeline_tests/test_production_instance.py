"""The root dagster.yaml is a working production instance on the local PostgreSQL.

Each test gets a database of its own (created here, dropped after), so runs left by earlier CI
runs or by other tests never count. The daemon tests run the daemons the run queue and run
retries need (queue, run retries, run monitoring) in this process, on the workspace.yaml code
location, so the runs go exactly where production's would: queued by the CLI, dequeued and
launched by the daemon into a code server, executed by a run worker. The sensor and schedule
daemons stay off: the activity sensor would otherwise start runs of its own for the sandbox's day.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.controller import (
    create_daemon_of_type,
    daemon_controller_from_instance,
)

from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.defs.paytrace.test_assets import (
    DAY,
    load_two_days,
    materialize_day,
)
from sage_paytrace_pipeline_tests.defs.receivables.conftest import (
    set_pipeline_environment,
)

REPO = Path(__file__).resolve().parents[1]
PG_DEFAULTS = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres",
               "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "test"}
# What the run queue and run retries need; see the module docstring for why not all daemons.
RUN_DAEMONS = ("QUEUED_RUN_COORDINATOR", "EVENT_LOG_CONSUMER", "MONITORING")
EXPORT_ROUTE = "/v1/transactions/export/by_date_range"
RUN_TIMEOUT_SECONDS = 150


def _connect(database: str):
    return psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=os.environ["DAGSTER_PG_PORT"],
                            user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"],
                            dbname=database, connect_timeout=3)


@contextmanager
def fresh_database(admin_database: str) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards even if a code server still holds it."""
    name = f"dagster_test_{uuid.uuid4().hex[:12]}"
    admin = _connect(admin_database)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgres_instance_home(tmp_path, monkeypatch) -> Iterator[Path]:
    for name, value in PG_DEFAULTS.items():
        monkeypatch.setenv(name, os.environ.get(name, value))
    try:
        _connect(os.environ["DAGSTER_PG_DB"]).close()
    except psycopg2.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {os.environ['DAGSTER_PG_HOST']}:{os.environ['DAGSTER_PG_PORT']}: {error}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # artifacts stay out of the repo
    with fresh_database(os.environ["DAGSTER_PG_DB"]) as database:
        monkeypatch.setenv("DAGSTER_PG_DB", database)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        yield home
        let_code_servers_finish(home)


def processes_started_for(home: Path) -> list[int]:
    """Processes whose command line names this test's Dagster home: its code servers and run workers."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(home) in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except (OSError, ValueError):
            continue  # the process ended while we looked
    return pids


def let_code_servers_finish(home: Path, timeout: float = 30) -> None:
    """A code server clears a finished run from its books through the database: dropping the
    database under it leaves it retrying for ever, so it gets time to finish (and is ended after)."""
    deadline = time.monotonic() + timeout
    while processes_started_for(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in processes_started_for(home):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.postgres
def test_production_instance_settings(postgres_instance_home):
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        settings = instance.get_concurrency_config()
        assert settings.pool_config.default_pool_limit == 1
        assert settings.run_queue_config.max_concurrent_runs == 4
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.run_monitoring_enabled
        # Without it a crashed worker's pool slot would block every later run (see the retry test).
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


@pytest.mark.postgres
@pytest.mark.slow
def test_a_day_materializes_on_the_postgres_instance(postgres_instance_home, paytrace_sandbox, tmp_path):
    load_two_days(paytrace_sandbox)
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        result = materialize_day(paytrace_sandbox, tmp_path / "wh.duckdb", instance=instance)
        assert result.success
        record = instance.get_latest_materialization_event(dg.AssetKey("paytrace_transactions"))
        assert record is not None and record.run_id == result.run_id


# ##### The daemon: run queue and run retries


@pytest.fixture
def code_location_environment(paytrace_sandbox, tmp_path, monkeypatch):
    """The variables the code location and its run workers read, on the sandbox and a demo company."""
    load_two_days(paytrace_sandbox)
    create_demo_company(tmp_path / "sage100.sqlite3", seed=11, customers=20, today=date(2026, 3, 2))
    set_pipeline_environment(monkeypatch, paytrace_sandbox, tmp_path)
    return paytrace_sandbox


def queue_daily_run(day: date) -> str:
    """Submit the daily job for a day as an operator would (`dagster job launch`): it only queues."""
    run_id = str(uuid.uuid4())
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", "workspace.yaml",
         "-j", "paytrace_daily_job", "--run-id", run_id, "--tags", json.dumps({"dagster/partition": day.isoformat()})],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=os.environ.copy(), check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return run_id


@contextmanager
def run_daemons(instance: dg.DagsterInstance) -> Iterator[None]:
    with daemon_controller_from_instance(
        instance, workspace_load_target=WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")]),
        gen_daemons=lambda inst: [create_daemon_of_type(kind, inst) for kind in RUN_DAEMONS],
        heartbeat_interval_seconds=5, error_interval_seconds=5,
    ):
        yield


def wait_for(condition: Callable[[], object], what: str, timeout: float = RUN_TIMEOUT_SECONDS) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def finished_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    run = wait_for(lambda: (found := instance.get_run_by_id(run_id)) and found.is_finished and found,
                   f"run {run_id} to finish")
    return run  # type: ignore[return-value]


def event_types(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.dagster_event_type.value for entry in instance.all_logs(run_id) if entry.dagster_event_type]


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from its "Started process for run (pid: N)" engine event."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        pid = entry.dagster_event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(pid.value)
    return None


@pytest.mark.postgres
@pytest.mark.slow
def test_the_daemon_dequeues_and_runs_a_queued_day(postgres_instance_home, code_location_environment):
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        run_id = queue_daily_run(DAY)
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.QUEUED
        with run_daemons(instance):
            run = finished_run(instance, run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS, event_types(instance, run_id)
        assert run.tags["dagster/partition"] == DAY.isoformat()
        assert {"PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_SUCCESS"} <= set(event_types(instance, run_id))
        record = instance.get_latest_materialization_event(dg.AssetKey("receivable_exceptions"))
        assert record is not None and record.run_id == run_id


@pytest.mark.postgres
@pytest.mark.slow
def test_the_daemon_retries_a_run_whose_worker_crashed(postgres_instance_home, code_location_environment):
    sandbox = code_location_environment
    # The day's export hangs long enough for the worker to be killed mid-step.
    sandbox.engine.set_faults([{"route": EXPORT_ROUTE, "kind": "latency", "latency_seconds": 20, "count": 1}])
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        run_id = queue_daily_run(DAY)
        with run_daemons(instance):
            wait_for(lambda: sandbox.engine.stats()["faults_by_kind"].get("latency"), "the stalled export call")
            pid = wait_for(lambda: run_worker_pid(instance, run_id), "the run worker's pid")
            os.kill(int(pid), signal.SIGKILL)  # type: ignore[arg-type]
            crashed = finished_run(instance, run_id)
            retry_id = wait_for(lambda: instance.get_run_by_id(run_id).tags.get("dagster/auto_retry_run_id"),
                                "the daemon's retry")
            retry = finished_run(instance, str(retry_id))
        assert crashed.status == dg.DagsterRunStatus.FAILURE
        assert crashed.tags.get("dagster/failure_reason") != "STEP_FAILURE"
        assert retry.status == dg.DagsterRunStatus.SUCCESS, event_types(instance, retry.run_id)
        assert retry.parent_run_id == run_id and retry.tags["dagster/retry_number"] == "1"
        assert retry.tags["dagster/partition"] == DAY.isoformat()
