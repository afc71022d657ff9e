"""The demo's web store (demo_store.py) on its own: three orders charged through the PayTrace sandbox's v1 API
and delivered as signed webhooks to the receiver on a local port, then one store run into the demo company:
each order in Sage once, at the store's total to the cent, dated the merchant's business day."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.demo_store import (
    DEMO_WEBHOOK_SECRET,
    demo_store_config,
    place_store_orders,
    store_line,
    store_summary,
)
from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.sandbox.store.company import ensure_store_items
from sage_paytrace_pipeline.store.inbox import open_inbox, sqlite_url
from sage_paytrace_pipeline.store.receiver import create_receiver_app
from sage_paytrace_pipeline.store.runs import run_store_orders
from sage_paytrace_pipeline_tests.conftest import SANDBOX_START

REPO = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("America/Los_Angeles")


def _rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.mark.slow
def test_the_demo_stores_orders_reach_sage_once_at_the_stores_totals(paytrace_sandbox, tmp_path: Path) -> None:
    company = tmp_path / "sage100.sqlite3"
    create_demo_company(company, seed=5, customers=40, today=SANDBOX_START.date())
    DemoCompanyWriter(company)
    ensure_store_items(company)
    config_path = tmp_path / "config.yaml"
    config_path.write_text((REPO / "config" / "example.yaml").read_text() + demo_store_config())
    config = load_config(config_path)
    assert config.store is not None
    inbox = tmp_path / config.store.inbox_file
    engine = open_inbox(sqlite_url(str(inbox)))
    handle = paytrace_sandbox
    try:
        with serve_in_thread(create_receiver_app(engine, {"woocommerce": [DEMO_WEBHOOK_SECRET]})) as receiver:
            delivered = place_store_orders(str(company), handle.base_url, f"{receiver}/webhooks/woocommerce",
                                           at=SANDBOX_START.replace(tzinfo=ZONE), username=handle.username,
                                           password=handle.password)
        assert delivered.answers == {"applied": 6, "ping": 1, "refused 401": 1, "unchanged": 1}
        with PayTraceClient(handle.base_url, username=handle.username, password=handle.password) as client:
            for _ in range(2):  # a re-run finds every document and writes nothing
                run = run_store_orders(engine, Sage100Reader.for_sqlite(company), DemoCompanyWriter(company),
                                       config, config.store, client=client, today=date(2026, 3, 9))
                assert run.exceptions.empty, run.exceptions.to_dict("records")
    finally:
        engine.dispose()

    posted = run.in_sage
    assert len(posted) == 3 and not posted["created_this_run"].any()
    assert sorted(posted["customer_method"]) == ["created", "created", "email_zip"]
    for row in posted.itertuples():
        [(total, invoice_date)] = _rows(company, "SELECT NonTaxableSalesAmt, InvoiceDate FROM AR_InvoiceHistoryHeader "
                                                 "WHERE InvoiceNo = ?", row.invoice_no)
        assert Decimal(str(total)) == Decimal(row.total_cents) / 100
        assert str(invoice_date)[:10] == "2026-03-02"
    items = {code for (code,) in _rows(company, "SELECT DISTINCT ItemCode FROM SO_SalesOrderDetail WHERE "
                                                "ItemCode LIKE '/%'")}
    assert {"/FREIGHT", "/TAX", "/FEE", "/DISCOUNT"} <= items
    summary = store_summary(inbox, tmp_path / "no-warehouse.duckdb", delivered)
    assert (summary["orders"], summary["in_sage"]) == (3, 3)
    assert store_line(summary).startswith("  Store: 3 web orders (9 webhook deliveries")
