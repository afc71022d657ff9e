"""The receipt: each store sale is applied to its order's Sage invoice by the daily receivables job, exactly
once, whichever came first; a sale seen before its invoice waits instead of becoming a prepayment."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.store.orders import build_store_assets
from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.sandbox.store.company import ensure_misc_item
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import open_inbox, sqlite_url
from sage_paytrace_pipeline.store.receipts import link_store_sales
from sage_paytrace_pipeline.store.receiver import create_receiver_app
from sage_paytrace_pipeline_tests.defs.receivables.conftest import set_pipeline_environment
from sage_paytrace_pipeline_tests.defs.store.test_store_assets import _resources

REPO = Path(__file__).resolve().parents[3]
SECRET = "woo-secret-receipts"
ZONE = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def _payments(*rows: tuple[int, str, datetime]) -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": pd.Series([r[0] for r in rows], dtype="int64"),
                         "invoice_id": pd.Series([r[1] for r in rows], dtype="string"),
                         "created_at": pd.to_datetime([r[2] for r in rows], utc=True),
                         "amount_cents": pd.Series([100] * len(rows), dtype="int64")})


def test_linked_sales_name_their_invoice_and_early_ones_wait_for_the_grace_period() -> None:
    young, old = NOW - timedelta(minutes=5), NOW - timedelta(hours=2)
    payments = _payments((1, "5001", young), (2, "5002", young), (3, "5003", old), (4, "0100007", young),
                         (5, "", young), (6, "5006", young))
    postings = pd.DataFrame({"paytrace_transaction_id": ["1", "6"], "invoice_no": ["0100050", "0100051"]})
    links = link_store_sales(payments, postings, {"2"}, {"0100007", "0100050"}, in_sage=set(), now=NOW,
                             grace=timedelta(minutes=30))
    assert links.payments[["transaction_id", "invoice_id"]].values.tolist() == [
        [1, "0100050"], [3, "5003"], [4, "0100007"], [5, ""]]
    # 2: its order is in the inbox, not in Sage yet; 6: its invoice is newer than the open-invoice snapshot
    assert links.held["transaction_id"].tolist() == [2, 6]
    assert links.linked == 2
    posted = link_store_sales(payments, postings, {"2"}, {"0100007"}, in_sage={1, 2, 6}, now=NOW,
                              grace=timedelta(minutes=30))
    assert posted.held.empty


def test_a_day_without_young_sales_links_them_without_reading_the_open_items() -> None:
    old = NOW - timedelta(days=3)  # a backfill's day: nothing on it can still be within the grace period
    payments = _payments((1, "5001", old), (2, "5002", old), (3, "0100999", old))
    postings = pd.DataFrame({"paytrace_transaction_id": ["1"], "invoice_no": ["0100050"]})

    def never_read() -> set[str]:
        raise AssertionError("the open items were read for a day no sale of which can wait")

    links = link_store_sales(payments, postings, {"2"}, never_read, in_sage=set(), now=NOW,
                             grace=timedelta(minutes=30))
    eager = link_store_sales(payments, postings, {"2"}, {"0100007"}, in_sage=set(), now=NOW,
                             grace=timedelta(minutes=30))
    assert links.payments.equals(eager.payments) and links.held.equals(eager.held) and links.linked == eager.linked
    assert links.payments["invoice_id"].tolist() == ["0100050", "5002", "0100999"] and links.held.empty


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.fixture
def world(paytrace_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    local_now = datetime.now(ZONE).replace(tzinfo=None, microsecond=0)
    paytrace_sandbox.engine.set_clock(at=local_now)  # the sandbox and the grace period share one clock
    set_pipeline_environment(monkeypatch, paytrace_sandbox, tmp_path)
    company = tmp_path / "sage100.sqlite3"
    create_demo_company(company, seed=5, customers=40, today=local_now.date())
    DemoCompanyWriter(company)
    ensure_misc_item(company)
    config_path = tmp_path / "config.yaml"
    config_path.write_text((REPO / "config" / "example.yaml").read_text()
                           + f"\nstore:\n  inbox_file: {tmp_path / 'inbox.sqlite'}\n  receipt_grace_minutes: 30\n"
                           + "refunds:\n  auto_approve_up_to: 500.00\n")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config_path))
    return {"company": company, "config": config_path, "inbox": sqlite_url(str(tmp_path / "inbox.sqlite")),
            "warehouse": tmp_path / "warehouse.duckdb", "paytrace": paytrace_sandbox, "day": local_now.date()}


def _daily(world: dict) -> dg.ExecuteInProcessResult:
    job = defs().resolve_job_def("paytrace_daily_job")
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(partition_key=world["day"].isoformat(), instance=instance,
                                      raise_on_error=False)


def test_each_store_sale_pays_its_invoice_once_whichever_comes_first(world: dict) -> None:
    handle = world["paytrace"]
    engine = open_inbox(world["inbox"])
    sender = WebhookSender("http://receiver/webhooks/woocommerce", SECRET,
                           client=TestClient(create_receiver_app(engine, {"woocommerce": [SECRET]})))
    with WebStore(handle.base_url, username=handle.username, password=handle.password) as paytrace:
        shop = Shop(catalogue_from_company(world["company"]), paytrace=paytrace)
        buyers = [Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101"),
                  Buyer("Omar", "Haddad", "omar.h@example.org", "400 Fir Ave", "Spokane", "WA", "99201")]
        orders = [shop.pay(shop.place(buyer, [("BOLT-1420", 2), ("GLOVE-NIT", 1)], shipping=Decimal("7.50"),
                                      tax_rate=Decimal("0.089"))["id"]) for buyer in buyers]
    for order in orders:
        assert sender.send(order, "order.updated").status_code == 200

    # the sales are seen before the invoices exist: they wait, nothing is posted for them
    early = _daily(world)
    assert early.success
    sales = [order["transaction_id"] for order in orders]
    receipts = "SELECT count(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = ?"
    assert [_query(world["company"], receipts, sale)[0][0] for sale in sales] == [0, 0]

    assert dg.materialize(build_store_assets(), resources=_resources(world)).success
    for _ in range(2):  # the daily pass, and its re-run
        assert _daily(world).success
        assert [_query(world["company"], receipts, sale)[0][0] for sale in sales] == [1, 1]
    for order in orders:
        [(balance,)] = _query(world["company"], "SELECT o.Balance FROM AR_OpenInvoice o JOIN AR_InvoiceHistoryHeader h "
                              "ON h.InvoiceNo = o.InvoiceNo WHERE h.UDF_PAYTRACE_REF = ?", f"WOO-{order['id']}")
        assert Decimal(str(balance)) == 0

    # a refund in the store becomes a refund request (credit memo) that the refund flow sends once
    refunded = shop.refund(orders[0]["id"], Decimal("10.00"), "one box damaged")
    assert sender.send(refunded, "order.refunded").status_code == 200
    for _ in range(2):
        assert dg.materialize(build_store_assets(), resources=_resources(world)).success
    memos = _query(world["company"], "SELECT InvoiceType, PaymentType FROM AR_InvoiceHistoryHeader "
                                     "WHERE UDF_PAYTRACE_REF LIKE 'WEBR-%'")
    assert [memo[0] for memo in memos] == ["CM"]
    for _ in range(2):  # one request, in the refund flow's hands: it waits for the sale to settle before refunding
        daily = _daily(world)
        assert daily.success
        requests = daily.output_for_node("sage_refund_requests", "sage_refund_requests")
        assert (requests["state"].tolist(), requests["amount_cents"].tolist()) == (["waiting_for_settlement"], [1000])
