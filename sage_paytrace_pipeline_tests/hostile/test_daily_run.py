"""The whole corpus in one business day of the real daily job: PayTrace (the sandbox behind a hostile
proxy) sends every record-level case beside the day's real payments. The run succeeds, the good
payments post, each bad record is a `receivable_exceptions` row naming its field, hostile names
reach Sage literally (truncated to Sage's widths), and no store holds a card number."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline_tests.defs.receivables.conftest import REPO, world  # noqa: F401 - fixture
from sage_paytrace_pipeline_tests.hostile.corpus import case_id, paytrace_cases, records_of, wire_json
from sage_paytrace_pipeline_tests.hostile.hostile_paytrace import HostileProxy, serve_proxy

DAY = datetime(2026, 3, 4).date()
RECORD_CASES = list(paytrace_cases("rejected", "kept", "duplicate"))
HOSTILE_NAME = "\u202e=1+2 4111 1111 1111 1111 O'Brien'); DROP TABLE AR_Customer;-- Zoë " + "long " * 20


def values_of_duckdb(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        return [str(value) for schema, table in tables
                for row in connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                for value in row if value is not None]


def values_of_sqlite(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [str(value) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')
                for value in row if value is not None]


@pytest.fixture
def hostile_day(world, monkeypatch, tmp_path):  # noqa: F811 - the imported fixture
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 9, 0))
    config = tmp_path / "auto.yaml"  # unknown payers become Sage customers: hostile names reach Sage
    config.write_text((REPO / "config" / "example.yaml").read_text().replace("auto_create: false", "auto_create: true"))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    with world.client() as client:
        sale = client.sale_keyed(CardInput(number="4012000098765439", expiration_month=12, expiration_year=2029),
                                 Decimal("42.00"), description="pay 5499 7400 0000 0057",
                                 billing_address=Address(name=HOSTILE_NAME, zip="97201"))
    records = [wire_json(record) for case in RECORD_CASES for record in records_of(case, "3/4/2026 9:30:00 AM")]
    proxy = HostileProxy(world.handle.base_url, DAY.strftime("%m/%d/%Y"), records)
    with serve_proxy(proxy) as url:
        monkeypatch.setenv("PAYTRACE_API_URL", url)
        result = world.run_day(DAY)
    return world, result, sale


@pytest.mark.slow
def test_a_day_full_of_hostile_records_runs_and_reports_each_one(hostile_day):
    day_world, result, sale = hostile_day
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    with duckdb.connect(str(day_world.warehouse), read_only=True) as connection:
        rows = connection.execute("SELECT kind, transaction_id, source_ids, problem, action, stage "
                                  "FROM pipeline.receivable_exceptions").fetchall()
        loaded = {row[0] for row in connection.execute("SELECT transaction_id FROM pipeline.paytrace_transactions")
                  .fetchall()}
    record_rows = [row for row in rows if row[5] == "paytrace"]
    for case in paytrace_cases("rejected"):
        field = case.expect["field"]
        wanted_id = case.expect.get("id", case_id(case))
        assert any(kind == "malformed_paytrace_record" and tid == wanted_id and field in source
                   and case.expect["says"] in problem and "PayTrace Virtual Terminal" in action
                   for kind, tid, source, problem, action, _ in record_rows), case.name
    duplicates = [row for row in record_rows if row[0] == "duplicate_paytrace_record"]
    assert sorted(row[1] for row in duplicates) == sorted(case_id(c) for c in paytrace_cases("duplicate"))
    assert {case_id(case) for case in paytrace_cases("kept", "duplicate")} | {sale.transaction_id} <= loaded


@pytest.mark.slow
def test_hostile_text_reaches_sage_safely_and_no_store_holds_a_card_number(hostile_day):
    day_world, result, sale = hostile_day
    assert result.success
    receipt = day_world.reader().receipt_for_transaction_id(str(sale.transaction_id))
    assert receipt is not None and receipt.amount == Decimal("42.00")
    customer = next(c for c in day_world.reader().customers() if c.customer_no == receipt.customer_no)
    # Masked, the formula start neutralised (Sage's lists are exported to Excel), then cut to Sage's
    # CustomerName width (50); quotes and SQL kept as text.
    assert customer.name == "'=1+2 xxxxxxxxxxxx1111 O'Brien'); DROP TABLE AR_Customer;--"[:50]
    with sqlite3.connect(day_world.sage_db) as connection:
        assert connection.execute("SELECT count(*) FROM AR_Customer").fetchone()[0] > 0  # the table survived
    found = [(store, number) for store, values in (("warehouse", values_of_duckdb(day_world.warehouse)),
                                                   ("sage", values_of_sqlite(day_world.sage_db)),
                                                   ("sandbox", values_of_sqlite(day_world.handle.state_path)))
             for value in values for number in find_card_numbers(value)]
    assert found == []
