"""`paytrace_activity_sensor` against the real sandbox over HTTP, on the sandbox's frozen clock.

The fixture's clock is Monday 2026-03-02 10:00 America/Los_Angeles; with the default lookback of
two days the sensor watches 2026-03-01 and 2026-03-02 (PayTrace's today, not the host's).
"""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.automation.sensors import (
    build_paytrace_activity_sensor,
    day_watermark,
    watched_days,
)
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.models import (
    Address,
    CardInput,
    Transaction,
    TransactionStatus,
)

EXPORT = "/v1/transactions/export/by_date_range"
TODAY, YESTERDAY = "2026-03-02", "2026-03-01"
VISA = CardInput(number="4012000098765439", expiration_month=12, expiration_year=2030, csc="999")
paytrace_activity_sensor = build_paytrace_activity_sensor(load_time_config())


@pytest.fixture
def client(paytrace_sandbox):
    with PayTraceClient(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                        password=paytrace_sandbox.password) as paytrace:
        yield paytrace


def sale(client: PayTraceClient, amount: str = "25.00") -> int:
    result = client.sale_keyed(VISA, Decimal(amount), invoice_id=f"INV-{amount}",
                               billing_address=Address(name="Ana Lopez", zip="99201"))
    return result.transaction_id


def yesterday_and_today(handle, client) -> tuple[int, int]:
    """One sale on Sunday (settled by Sunday's 20:00 batch) and one pending on Monday morning."""
    handle.engine.set_clock(at=datetime(2026, 3, 1, 9, 0))
    settled = sale(client, "40.00")
    handle.engine.set_clock(at=datetime(2026, 3, 2, 9, 30))
    pending = sale(client, "25.00")
    handle.engine.set_clock(at=datetime(2026, 3, 2, 10, 0))
    return settled, pending


def tick(handle, cursor: str | None = None, password: str | None = None,
         instance: dg.DagsterInstance | None = None, **resources):
    """One evaluation as the daemon does it: the code location's sensor, run requests resolved (on an
    instance without runs unless one is given)."""
    paytrace = PayTraceResource(api_url=handle.base_url, username=handle.username,
                                password=password or handle.password)
    definitions = code_location()
    sensor = definitions.resolve_sensor_def("paytrace_activity_sensor")
    with dg.build_sensor_context(cursor=cursor, resources={"paytrace": paytrace, **resources},
                                 definitions=definitions,
                                 instance=instance or dg.DagsterInstance.ephemeral()) as context:
        return sensor.evaluate_tick(context)


@functools.cache
def code_location() -> dg.Definitions:
    return defs()


def keys(data) -> dict[str, str]:
    return {request.partition_key: request.run_key for request in data.run_requests}


def exports(handle) -> int:
    return handle.engine.stats()["calls_by_route"].get(EXPORT, 0)


def test_first_tick_requests_each_day_with_activity_keyed_by_its_watermark(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    data = tick(paytrace_sandbox)
    marks = json.loads(data.cursor)["days"]
    assert keys(data) == {day: f"{day}:{marks[day]}" for day in (YESTERDAY, TODAY)}
    assert marks[TODAY].startswith("1-") and marks[TODAY] != marks[YESTERDAY]
    assert all(request.tags["trigger"] == "sensor" for request in data.run_requests)


def test_a_day_without_activity_gets_no_run(paytrace_sandbox, client):
    sale(client)  # today only
    data = tick(paytrace_sandbox)
    assert list(keys(data)) == [TODAY]
    assert list(json.loads(data.cursor)["days"]) == [TODAY]


def test_nothing_at_all_is_a_skip(paytrace_sandbox):
    data = tick(paytrace_sandbox)
    assert data.run_requests == [] and "no PayTrace activity for 2026-03-01..2026-03-02" in data.skip_message


def test_unchanged_activity_requests_nothing(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    second = tick(paytrace_sandbox, cursor=first.cursor)
    assert second.run_requests == [] and "no change" in second.skip_message
    assert json.loads(second.cursor) == json.loads(first.cursor)


def test_a_new_sale_changes_only_its_day(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    sale(client, "12.50")
    second = tick(paytrace_sandbox, cursor=first.cursor)
    assert list(keys(second)) == [TODAY] and keys(second)[TODAY] != keys(first)[TODAY]


def test_a_void_changes_only_its_day(paytrace_sandbox, client):
    _, pending = yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    client.void(pending)
    second = tick(paytrace_sandbox, cursor=first.cursor)
    assert list(keys(second)) == [TODAY] and keys(second)[TODAY] != keys(first)[TODAY]


def test_the_nightly_settlement_changes_only_the_settled_day(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    paytrace_sandbox.engine.set_clock(at=datetime(2026, 3, 2, 20, 30))  # past the 20:00 cutoff
    second = tick(paytrace_sandbox, cursor=first.cursor)
    assert list(keys(second)) == [TODAY] and keys(second)[TODAY] != keys(first)[TODAY]
    third = tick(paytrace_sandbox, cursor=second.cursor)
    assert third.run_requests == []


def test_days_leaving_the_window_leave_the_cursor(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    paytrace_sandbox.engine.set_clock(at=datetime(2026, 3, 3, 8, 0))
    second = tick(paytrace_sandbox, cursor=first.cursor)
    cursor = json.loads(second.cursor)
    assert list(cursor["days"]) == [TODAY] and cursor["today"] == "2026-03-03"
    assert list(keys(second)) == [TODAY]  # Monday's sale settled overnight


def test_one_export_call_per_tick(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    for _ in range(5):
        sale(client, "3.00")
    before = exports(paytrace_sandbox)
    cursor = tick(paytrace_sandbox).cursor
    assert exports(paytrace_sandbox) == before + 1
    tick(paytrace_sandbox, cursor=cursor)
    assert exports(paytrace_sandbox) == before + 2


def test_paytrace_down_skips_and_keeps_the_cursor(paytrace_sandbox, client):
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox)
    sale(client, "9.99")
    paytrace_sandbox.engine.set_faults([{"route": "*", "kind": "http_503"}])
    down = tick(paytrace_sandbox, cursor=first.cursor)
    # The day watermarks stay; the failing tick is counted (defs/automation/outage.py, test_outage.py).
    assert down.run_requests == [] and json.loads(down.cursor)["days"] == json.loads(first.cursor)["days"]
    assert json.loads(down.cursor)["outage"]["failures"] == 1
    assert "PayTraceTransientError" in down.skip_message
    paytrace_sandbox.engine.clear_faults()
    back = tick(paytrace_sandbox, cursor=down.cursor)
    assert list(keys(back)) == [TODAY]  # the sale made during the outage is not lost


def test_refused_credentials_skip_without_the_password(paytrace_sandbox):
    data = tick(paytrace_sandbox, cursor='{"days": {}}', password="wrong-secret-77")
    assert "PayTraceAuthenticationError" in data.skip_message
    assert "wrong-secret-77" not in data.skip_message and "wrong-secret-77" not in data.cursor
    assert json.loads(data.cursor)["days"] == {}


def test_before_the_first_business_day_nothing_is_watched(paytrace_sandbox):
    paytrace_sandbox.engine.set_clock(at=datetime(2025, 12, 31, 12, 0))
    before = exports(paytrace_sandbox)
    data = tick(paytrace_sandbox)
    assert "before the first business day" in data.skip_message and exports(paytrace_sandbox) == before


def test_the_sensor_never_opens_the_warehouse(paytrace_sandbox, client, tmp_path, monkeypatch):
    # The daemon builds only a sensor's required resources; the warehouse is not one of them.
    assert paytrace_activity_sensor.required_resource_keys == {"paytrace"}
    warehouse = tmp_path / "warehouse.duckdb"

    def refuse(*args, **kwargs):
        raise AssertionError("the sensor opened DuckDB")

    monkeypatch.setattr(duckdb, "connect", refuse)
    yesterday_and_today(paytrace_sandbox, client)
    first = tick(paytrace_sandbox, warehouse=DuckDBResource(database=str(warehouse)))
    tick(paytrace_sandbox, cursor=first.cursor, warehouse=DuckDBResource(database=str(warehouse)))
    assert first.run_requests and not warehouse.exists()


def test_sensor_settings_from_config():
    assert paytrace_activity_sensor.minimum_interval_seconds == 30
    assert paytrace_activity_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert paytrace_activity_sensor.job_name == "paytrace_daily_job"


def test_watched_days_stop_at_the_first_business_day():
    first = date(2026, 1, 1)
    assert watched_days(date(2026, 3, 2), 2, first) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert watched_days(date(2026, 1, 1), 3, first) == [date(2026, 1, 1)]
    assert watched_days(date(2025, 12, 31), 2, first) == []


def record(transaction_id: int, status=TransactionStatus.PENDING, amount="10.00", batch=None) -> Transaction:
    return Transaction(transaction_id=transaction_id, transaction_type="SALE", amount=Decimal(amount),
                       status_code="Y", status_message="", status=status, batch_number=batch)


def test_watermark_follows_ids_statuses_amounts_and_batches_not_order():
    day = [record(7), record(9, amount="5.00")]
    mark = day_watermark(day)
    assert mark.startswith("2-9-") and day_watermark(list(reversed(day))) == mark
    assert day_watermark([record(7, TransactionStatus.VOIDED), day[1]]) != mark
    assert day_watermark([record(7, TransactionStatus.SETTLED, batch=3), day[1]]) != mark
    assert day_watermark([record(7, amount="10.01"), day[1]]) != mark
    assert day_watermark([]).startswith("0-0-")
