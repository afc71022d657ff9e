"""A system that is not there fails its step at once with one sentence: no step retries, no password."""

from __future__ import annotations

import time

import dagster as dg

from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage, outage_sentence
from sage_paytrace_pipeline.defs.sage100.assets import build_sage100_assets
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.paytrace.errors import PayTraceUnreachable
from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError, Sage100WriteError
from sage_paytrace_pipeline_tests.defs.conftest import example_settings

DAY = "2026-03-02"
RETRY = dg.RetryPolicy(max_retries=3, delay=0)
ODBC_DOWN = Sage100ConnectionError("cannot connect to ODBC DSN SOTAMAS90, company ABC: [08001] no server "
                                   "(DSN=SOTAMAS90;UID=ops;PWD=hunter2;COMPANY=ABC). Check the DSN name")


def step_events(asset: dg.AssetsDefinition, **resources) -> list[dg.DagsterEvent]:
    result = dg.materialize([asset], raise_on_error=False, resources=resources)
    assert not result.success
    return result.all_events


def failures_and_retries(events: list[dg.DagsterEvent]) -> tuple[list[dg.DagsterEvent], int]:
    failures = [e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return failures, sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in events)


def test_an_odbc_failure_in_a_generator_asset_fails_once_with_the_password_masked():
    @dg.asset(retry_policy=RETRY)
    @fails_fast_on_outage
    def sage_writes():
        yield dg.Output(1)  # outputs before the outage are not the point: the failure is
        raise ODBC_DOWN

    failures, retries = failures_and_retries(step_events(sage_writes))
    assert retries == 0 and len(failures) == 1
    description = failures[0].step_failure_data.user_failure_data.description
    assert description.startswith("cannot connect to ODBC DSN SOTAMAS90, company ABC")
    assert "hunter2" not in description and "PWD=" in description  # masked, still says a password was set


def test_paytrace_unreachable_in_a_plain_asset_is_not_retried():
    @dg.asset(retry_policy=RETRY)
    @fails_fast_on_outage
    def paytrace_reads():
        raise PayTraceUnreachable("PayTrace at https://paytrace.invalid: host name not found; check it",
                                  url="https://paytrace.invalid", reason="host name not found")

    failures, retries = failures_and_retries(step_events(paytrace_reads))
    assert retries == 0
    assert failures[0].step_failure_data.user_failure_data.description == (
        "PayTrace at https://paytrace.invalid: host name not found; check it")


def test_a_transient_sage_write_failure_keeps_its_step_retries():
    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=1, delay=0))
    @fails_fast_on_outage
    def sage_posts():
        raise Sage100WriteError("lost session; rolled back")

    _, retries = failures_and_retries(step_events(sage_posts))
    assert retries == 1


def test_a_missing_demo_company_fails_the_snapshot_naming_the_file_and_the_variable(tmp_path):
    customers = build_sage100_assets(load_time_config())[0]
    missing = tmp_path / "no_such_company.sqlite3"
    started = time.monotonic()
    result = dg.materialize([customers], partition_key=DAY, raise_on_error=False, resources={
        "settings": example_settings(), "sage100": Sage100Resource(database=str(missing)),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "wh.duckdb"), schema="pipeline")})
    assert not result.success and time.monotonic() - started < 10
    failures, retries = failures_and_retries(result.all_events)
    assert retries == 0
    assert failures[0].step_failure_data.user_failure_data.description == (
        f"Sage 100 demo company {missing} does not exist; check SAGE100_DATABASE, or create it with "
        f"`sage-paytrace sandbox sage100 create --db {missing}`")


def test_the_sentence_masks_a_braced_odbc_password_too():
    error = Sage100ConnectionError("cannot connect: Driver={X};PWD={se;cret};Company=ABC")
    sentence = outage_sentence(error)
    assert "se;cret" not in sentence and "cret}" not in sentence and sentence.endswith(";Company=ABC")
