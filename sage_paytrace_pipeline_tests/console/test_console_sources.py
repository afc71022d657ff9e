"""Areas plug into the queue by registering a source; the queue follows the warehouse as runs rewrite it."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from sage_paytrace_pipeline.console import sources
from sage_paytrace_pipeline.console.sources import COLUMNS, Source, item_key, register
from sage_paytrace_pipeline_tests.console.conftest import VAULT_ID, log_in


def _keys(client, query: str = "") -> set[str]:
    return set(re.findall(r'data-key="([0-9a-f]+)"', client.get(f"/exceptions?{query}").text))


def test_a_new_area_plugs_in_by_registering_its_source(client):
    def disputes(context) -> pd.DataFrame:
        return pd.DataFrame([{"business_day": "2026-11-20", "area": "disputes", "kind": "chargeback_opened",
                              "severity": "error", "source_ids": "case:CB-1", "problem": "chargeback CB-1 opened",
                              "action": "answer it by the due date"}], columns=list(COLUMNS))

    register(Source("disputes", disputes), actions={"chargeback_opened": ("answer_dispute",)})
    try:
        log_in(client, "vera")
        key = item_key("disputes", "chargeback_opened", "case:CB-1")
        assert _keys(client, "kind=chargeback_opened") == {key}
        assert "chargeback CB-1 opened" in client.get(f"/exceptions/{key}").text
        assert sources.actions_for("chargeback_opened") == ("answer_dispute", "mark_reviewed")
    finally:
        sources._SOURCES.pop("disputes", None)
        sources.KIND_ACTIONS.pop("chargeback_opened", None)


def test_an_area_that_fails_to_read_is_named_and_the_others_still_show(client):
    def broken(context) -> pd.DataFrame:
        raise OSError("the disputes file is unreadable")

    register(Source("disputes", broken))
    try:
        log_in(client, "vera")
        page = client.get("/exceptions").text
        assert "disputes: the disputes file is unreadable" in page
        assert len(_keys(client)) == 5
    finally:
        sources._SOURCES.pop("disputes", None)


def test_the_queue_follows_the_next_run(client, home):
    log_in(client, "vera")
    unknown = item_key("receivables", "unknown_customer", f"paytrace:900001 vault:{VAULT_ID}")
    assert unknown in _keys(client)
    # the day's next run found the customer (the link): the I/O manager rewrites the day's rows without it
    connection = duckdb.connect(str(home.warehouse))
    try:
        connection.execute("DELETE FROM pipeline.receivable_exceptions WHERE kind = 'unknown_customer'")
    finally:
        connection.close()
    assert unknown not in _keys(client) and len(_keys(client)) == 4


def _write(warehouse, table: str, frame: pd.DataFrame) -> None:
    connection = duckdb.connect(str(warehouse))
    try:
        connection.register("frame", frame)
        connection.execute(f"CREATE OR REPLACE TABLE pipeline.{table} AS SELECT * FROM frame")
    finally:
        connection.close()


def test_store_anomaly_customer_and_dispute_areas_reach_the_queue(client, home):
    from datetime import date

    day = date(2026, 11, 20)
    _write(home.warehouse, "store_exceptions", pd.DataFrame({
        "order_key": ["shopify:1001"], "number": ["#1001"], "kind": ["unknown_sku"],
        "problem": ["SKU ZZ-9 is not an item in Sage; card 4111111111111111"], "action": ["add the item"],
        "business_date": [day]}))
    _write(home.warehouse, "payment_anomalies", pd.DataFrame({
        "rule": ["duplicate_charge", "small_test_charges"], "severity": ["error", "info"],
        "transaction_id": pd.array([700001, 700002], dtype="Int64"), "batch_number": pd.array([None, None], "Int64"),
        "explanation": ["charged twice within 5 minutes", "only informational"], "business_date": [day, day]}))
    _write(home.warehouse, "customer_sync_exceptions", pd.DataFrame({
        "kind": ["ambiguous_customer"], "severity": ["warning"], "vault_id": ["CUST9"], "customer": [""],
        "source_ids": ["vault:CUST9"], "problem": ["two Sage customers match"], "action": ["link one"],
        "business_date": [day]}))
    _write(home.warehouse, "dispute_exceptions", pd.DataFrame({
        "kind": ["chargeback_unlinked"], "severity": ["error"], "transaction_id": pd.array([None], "Int64"),
        "source_ids": ["case:CB-7"], "problem": ["chargeback CB-7 matches no sale"], "action": ["find the sale"],
        "business_date": [day]}))
    log_in(client, "vera")
    keys = _keys(client, "day=2026-11-20")
    store = item_key("store", "unknown_sku", "order:shopify:1001")
    anomaly = item_key("anomalies", "anomaly_duplicate_charge", "paytrace:700001")
    assert {store, anomaly, item_key("customers", "ambiguous_customer", "vault:CUST9"),
            item_key("disputes", "chargeback_unlinked", "case:CB-7")} == keys, "info flags are left out"
    page = client.get(f"/exceptions/{store}").text
    assert "order #1001: SKU ZZ-9 is not an item in Sage" in page and "4111111111111111" not in page
    assert "charged twice within 5 minutes" in client.get(f"/exceptions/{anomaly}").text
