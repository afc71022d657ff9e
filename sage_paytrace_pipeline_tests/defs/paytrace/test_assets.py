"""`paytrace_transactions` reads one business day from the sandbox into DuckDB, card-free."""

import socket
import time
from datetime import date

import dagster as dg
import duckdb

from sage_paytrace_pipeline.defs.paytrace.assets import build_paytrace_assets
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    generate_activity,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline_tests.defs.conftest import example_settings

DAY = date(2026, 3, 2)
paytrace_transactions, _ = build_paytrace_assets(load_time_config())


def load_two_days(handle) -> None:
    plan, _ = generate_activity(DAY, date(2026, 3, 3), seed=11, profile=MerchantProfile(customers=8))
    outcome = apply_plan(handle.engine, plan)
    assert outcome.failures == []


def resources_for(handle, warehouse) -> dict:
    return {
        "settings": example_settings(),
        "paytrace": PayTraceResource(api_url=handle.base_url, username=handle.username,
                                     password=handle.password, integrator_id="SPPTEST00001"),
        "io_manager": WarehouseIOManager(database=str(warehouse), schema="pipeline"),
    }


def materialize_day(handle, warehouse, instance=None) -> dg.ExecuteInProcessResult:
    return dg.materialize([paytrace_transactions], partition_key=DAY.isoformat(),
                          resources=resources_for(handle, warehouse), instance=instance)


def test_one_export_call_per_day_and_typed_rows(paytrace_sandbox, tmp_path):
    load_two_days(paytrace_sandbox)
    before = paytrace_sandbox.engine.stats()
    calls_before = before["calls_by_route"].get("/v1/transactions/export/by_date_range", 0)
    result = materialize_day(paytrace_sandbox, tmp_path / "wh.duckdb")
    assert result.success
    stats = paytrace_sandbox.engine.stats()
    calls = stats["calls_by_route"]["/v1/transactions/export/by_date_range"] - calls_before
    assert calls == 1, "reads are one export per day, never one call per transaction"
    assert stats["calls_without_integrator_id"] == before["calls_without_integrator_id"]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 "where table_name = 'paytrace_transactions'").fetchall())
        rows = con.execute("select count(*), count(distinct transaction_id), min(business_date), "
                           "max(business_date) from pipeline.paytrace_transactions").fetchone()
        statuses = {row[0] for row in con.execute(
            "select distinct status from pipeline.paytrace_transactions").fetchall()}
    assert types["business_date"] == "DATE" and types["amount_cents"] == "BIGINT"
    assert types["created_at"].startswith("TIMESTAMP")
    assert rows[0] == rows[1] > 0 and rows[2] == rows[3] == DAY
    assert {"SETTLED", "DECLINED"} <= statuses
    metadata = result.asset_materializations_for_node("paytrace_transactions")[0].metadata
    assert metadata["transactions"].value == rows[0]


def test_rematerializing_a_day_replaces_its_rows(paytrace_sandbox, tmp_path):
    load_two_days(paytrace_sandbox)
    warehouse = tmp_path / "wh.duckdb"
    assert materialize_day(paytrace_sandbox, warehouse).success
    assert materialize_day(paytrace_sandbox, warehouse).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total, distinct = con.execute("select count(*), count(distinct transaction_id) "
                                      "from pipeline.paytrace_transactions").fetchone()
    assert total == distinct
    assert find_card_numbers(warehouse.read_bytes().decode("latin-1")) == []


def test_paytrace_unreachable_fails_the_step_at_once_without_step_retries(tmp_path):
    """Connection refused: one sentence with the URL and what to check, no step retry (API_RETRY skipped)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    resources = {
        "settings": example_settings(),
        "paytrace": PayTraceResource(api_url=url, username="demo", password="never-shown-99",
                                     outage_budget_seconds=1.0),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "wh.duckdb"), schema="pipeline"),
    }
    started = time.monotonic()
    result = dg.materialize([paytrace_transactions], partition_key=DAY.isoformat(), resources=resources,
                            raise_on_error=False)
    assert not result.success and time.monotonic() - started < 15
    events = result.all_events
    assert not [e for e in events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    (failure,) = [e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data
    assert data.user_failure_data.description == (
        f"PayTrace at {url}: connection refused; check PAYTRACE_API_URL and that the service is running and "
        "reachable")
    assert "never-shown-99" not in str(data.error)
