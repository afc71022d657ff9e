"""`paytrace_activity_sensor` does not queue a second run for a day whose run is queued or running.

Run records on a real DagsterInstance (a temporary DAGSTER_HOME with SQLite storage): the changed
day with such a run gets no request and keeps its previous cursor entry, so the first tick after
the run ends asks for a run if the day changed meanwhile. A finished run, a run of another day or
of another job holds nothing.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.utils import make_new_run_id

from sage_paytrace_pipeline.defs.automation.sensors import hold_days
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline_tests.defs.automation.test_sensors import (
    TODAY,
    YESTERDAY,
    keys,
    sale,
    tick,
    yesterday_and_today,
)


@pytest.fixture
def client(paytrace_sandbox):
    with PayTraceClient(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                        password=paytrace_sandbox.password) as paytrace:
        yield paytrace


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


def a_run(instance: dg.DagsterInstance, day: str, status: dg.DagsterRunStatus,
          job: str = "paytrace_daily_job") -> dg.DagsterRun:
    """A run record of `job` for `day` in `status`, as the run queue and the run workers leave them (a
    queued run names the code location it is to be launched from)."""
    location = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("sage_paytrace_pipeline"), "__repository__")
    return instance.run_storage.add_run(dg.DagsterRun(
        job_name=job, run_id=make_new_run_id(), status=status, tags={"dagster/partition": day},
        remote_job_origin=location.get_job_origin(job)))


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                    dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
def test_a_day_whose_run_is_queued_or_running_gets_no_second_run(paytrace_sandbox, client, instance, status):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox, instance=instance)
    sale(client, "12.50")  # today changes while its run is in the queue
    a_run(instance, TODAY, status)

    second = tick(paytrace_sandbox, cursor=first.cursor, instance=instance)

    assert second.run_requests == []
    assert f"changed on {TODAY}, whose run is queued or running" in second.skip_message
    assert json.loads(second.cursor)["days"][TODAY] == json.loads(first.cursor)["days"][TODAY]


def test_the_first_tick_after_the_run_ends_asks_for_what_changed(paytrace_sandbox, client, instance):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox, instance=instance)
    sale(client, "12.50")
    run = a_run(instance, TODAY, dg.DagsterRunStatus.STARTED)
    held = tick(paytrace_sandbox, cursor=first.cursor, instance=instance)
    instance.report_run_failed(run)  # it ended (failed or not, the day is free again)

    after = tick(paytrace_sandbox, cursor=held.cursor, instance=instance)

    assert list(keys(after)) == [TODAY]
    assert json.loads(after.cursor)["days"][TODAY] != json.loads(first.cursor)["days"][TODAY]


def test_a_new_day_with_a_run_already_queued_stays_out_of_the_cursor(paytrace_sandbox, client, instance):
    yesterday_and_today(paytrace_sandbox, client)
    a_run(instance, TODAY, dg.DagsterRunStatus.QUEUED)  # e.g. the daily close asked first

    data = tick(paytrace_sandbox, instance=instance)

    assert list(keys(data)) == [YESTERDAY]
    assert list(json.loads(data.cursor)["days"]) == [YESTERDAY]


def test_finished_runs_other_days_and_other_jobs_hold_nothing(paytrace_sandbox, client, instance):
    yesterday_and_today(paytrace_sandbox, client)
    a_run(instance, TODAY, dg.DagsterRunStatus.SUCCESS)
    a_run(instance, TODAY, dg.DagsterRunStatus.FAILURE)
    a_run(instance, TODAY, dg.DagsterRunStatus.STARTED, job="settlement_daily_job")
    a_run(instance, "2026-02-27", dg.DagsterRunStatus.STARTED)

    data = tick(paytrace_sandbox, instance=instance)

    assert sorted(keys(data)) == [YESTERDAY, TODAY]


def test_held_days_keep_their_previous_mark_or_stay_out():
    current = {"2026-03-01": "new-1", "2026-03-02": "new-2", "2026-03-03": "new-3"}
    previous = {"2026-03-01": "old-1", "2026-03-02": "old-2"}
    assert hold_days(current, previous, {"2026-03-02", "2026-03-03"}) == {"2026-03-01": "new-1", "2026-03-02": "old-2"}
