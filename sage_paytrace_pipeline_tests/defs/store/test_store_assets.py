"""End to end: a shop paid through the PayTrace sandbox sends its day of trouble to the receiver; the
store assets put each valid order in the demo company once, as order + invoice, and a re-run changes nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings
from sage_paytrace_pipeline.defs.store.orders import build_store_assets, build_store_sensor
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.sandbox.store.app import create_shop_app
from sage_paytrace_pipeline.sandbox.store.company import ensure_misc_item
from sage_paytrace_pipeline.sandbox.store.scenario import run_scenario
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import open_inbox, record_postings, sqlite_url
from sage_paytrace_pipeline.store.receiver import create_receiver_app

REPO = Path(__file__).resolve().parents[3]
SECRET = "woo-secret-e2e"


def _query(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.fixture
def world(paytrace_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    company = tmp_path / "sage100.sqlite3"
    create_demo_company(company, seed=5, customers=40)
    DemoCompanyWriter(company)
    ensure_misc_item(company)
    config_path = tmp_path / "config.yaml"
    config_path.write_text((REPO / "config" / "example.yaml").read_text()
                           + f"\nstore:\n  inbox_file: {tmp_path / 'inbox.sqlite'}\n  receipt_grace_minutes: 30\n")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config_path))
    customers = _query(company, "SELECT count(*) FROM AR_Customer")[0][0]
    return {"customers": customers, "company": company, "config": config_path,
            "inbox": sqlite_url(str(tmp_path / "inbox.sqlite")),
            "warehouse": tmp_path / "warehouse.duckdb", "paytrace": paytrace_sandbox}


def _resources(world: dict) -> dict:
    handle = world["paytrace"]
    return {"settings": PipelineSettings(config_path=str(world["config"]), check_environment=False),
            "sage100": Sage100Resource(database=str(world["company"])),
            "paytrace": PayTraceResource(api_url=handle.base_url, username=handle.username, password=handle.password),
            "io_manager": WarehouseIOManager(database=str(world["warehouse"]), schema="pipeline")}


def _existing_customer(company: Path) -> Buyer:
    email, zip_code = _query(company, "SELECT EmailAddress, ZipCode FROM AR_Customer WHERE EmailAddress LIKE '%@%' "
                                      "AND ZipCode <> '' ORDER BY CustomerNo LIMIT 1")[0]
    return Buyer("Known", "Guest", email, "1 Main St", "Seattle", "WA", zip_code)


def test_the_store_day_lands_in_sage_once(world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = world["paytrace"]
    engine = open_inbox(world["inbox"])
    with WebStore(handle.base_url, username=handle.username, password=handle.password) as paytrace:
        shop = Shop(catalogue_from_company(world["company"]), paytrace=paytrace)
        sender = WebhookSender("http://receiver/webhooks/woocommerce", SECRET,
                               client=TestClient(create_receiver_app(engine, {"woocommerce": [SECRET]})))
        report = run_scenario(shop, sender, existing_customer=_existing_customer(world["company"]), orders=7)
    assert report.statuses["bad_signature"] == [401]
    assert set(report.statuses["ping"] + report.statuses["replay"] + report.statuses["paid"]) == {200}
    # the poll-only order comes in through the reconcile poll the run makes (store.rest_url)
    with serve_in_thread(create_shop_app(shop, consumer_key="ck", consumer_secret="cs")) as shop_url:
        world["config"].write_text(world["config"].read_text() + f"  rest_url: {shop_url}\n")
        monkeypatch.setenv("SAGE_PAYTRACE_WOOCOMMERCE_KEY", "ck:cs")
        first = dg.materialize(build_store_assets(), resources=_resources(world))
    assert first.success
    poll = first.asset_materializations_for_node("store_assets")[0].metadata["reconcile_poll"].value
    assert poll == f"{len(report.valid_orders) + 1} read, {len(report.poll_only_orders)} new or newer"

    posted = first.output_for_node("store_assets", "sage_sales_orders")
    exceptions = first.output_for_node("store_assets", "store_exceptions")

    assert sorted(posted["order_id"].astype(int)) == sorted(report.valid_orders)
    assert list(exceptions["kind"]) == ["unknown_sku"]
    assert exceptions["order_key"].tolist() == [f"woocommerce:{report.unknown_sku_orders[0]}"]
    for order_id in report.valid_orders:
        [(invoices, total)] = _query(world["company"], "SELECT count(*), sum(NonTaxableSalesAmt) FROM "
                                     "AR_InvoiceHistoryHeader WHERE UDF_PAYTRACE_REF = ?", f"WOO-{order_id}")
        assert (invoices, Decimal(str(total))) == (1, Decimal(shop.get(order_id)["total"]))
    assert posted["created_this_run"].all()
    assert "email_zip" in set(posted["customer_method"])
    new_customers = _query(world["company"], "SELECT count(*) FROM AR_Customer")[0][0] - world["customers"]
    assert new_customers == len(set(posted.loc[posted["customer_method"] == "created", "customer_no"]))

    tables = ("AR_Customer", "SO_SalesOrderHeader", "AR_InvoiceHistoryHeader", "IM_ItemWarehouse", "GL_DetailPosting")
    before = {table: _query(world["company"], f"SELECT * FROM {table} ORDER BY 1") for table in tables}
    second = dg.materialize(build_store_assets(), resources=_resources(world))  # the shop is down now
    assert second.success
    poll = second.asset_materializations_for_node("store_assets")[0].metadata["reconcile_poll"].value
    assert poll.startswith("the store could not be read (ConnectError")
    again = second.output_for_node("store_assets", "sage_sales_orders")
    assert (len(again), int(again["created_this_run"].sum())) == (len(posted), 0)
    assert {table: _query(world["company"], f"SELECT * FROM {table} ORDER BY 1") for table in tables} == before


def test_the_sensor_asks_for_a_run_only_after_a_new_delivery(world: dict) -> None:
    config = load_config(world["config"])
    sensor = build_store_sensor(config)
    assert sensor is not None
    engine = open_inbox(world["inbox"])
    idle = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    assert (idle.run_requests, idle.cursor) == ([], '{"seq": 0, "posted": 0}')
    shop = Shop(catalogue_from_company(world["company"]))
    sender = WebhookSender("http://receiver/webhooks/woocommerce", SECRET,
                           client=TestClient(create_receiver_app(engine, {"woocommerce": [SECRET]})))
    sender.send(shop.place(Buyer("A", "B", "a@b.example", "1 St", "X", "WA", "98101"), [("BOLT-1420", 1)]),
                "order.created")
    ticked = sensor.evaluate_tick(dg.build_sensor_context(cursor=idle.cursor))
    assert [request.run_key for request in ticked.run_requests or []] == ["store:1"]
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=ticked.cursor))
    assert again.run_requests == []
    # an order reached Sage: the day's receivables run is asked for (a held sale is receipted now)
    posted_at = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    record_postings(engine, [{"platform": "woocommerce", "order_id": "1", "number": "1", "reference": "WOO-1",
                              "division": "01", "customer_no": "ABF", "customer_method": "email_zip",
                              "sales_order_no": "0000001", "invoice_no": "0000001", "total_cents": 100,
                              "paytrace_transaction_id": "7"}], now=posted_at)
    receipts = sensor.evaluate_tick(dg.build_sensor_context(cursor=again.cursor, definitions=defs()))
    assert [(request.job_name, request.partition_key) for request in receipts.run_requests or []] == [
        ("paytrace_daily_job", "2026-03-02")]


def test_with_the_store_off_the_sensor_is_not_built() -> None:
    config = load_config(REPO / "config" / "example.yaml")
    assert build_store_sensor(config) is None
