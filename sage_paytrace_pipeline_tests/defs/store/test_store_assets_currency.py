"""End to end under a currency conversion: a USD shop paid through the PayTrace sandbox, a CAD demo
company. The store assets write each order's invoice in CAD at its PayTrace sale's business-day rate
(from the configured rates file), wait with an exception while that rate is missing, and write the
order once after it is added."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
from starlette.testclient import TestClient

from sage_paytrace_pipeline.defs.store.orders import build_store_assets
from sage_paytrace_pipeline.domain.currency import convert_cents
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import open_inbox
from sage_paytrace_pipeline.store.receiver import create_receiver_app
from sage_paytrace_pipeline_tests.defs.store import test_store_assets as one_currency
from sage_paytrace_pipeline_tests.defs.store.test_store_assets import SECRET, _query, _resources

world = one_currency.world  # the same fixture: the sandbox, the demo company, the inbox, the example config
RATE = Decimal("1.3725")
GUEST = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")


def test_store_orders_are_written_in_cad_at_the_sales_rate_once_the_rate_is_there(world: dict) -> None:
    handle = world["paytrace"]
    config = world["config"]
    config.write_text(config.read_text() + "\ncurrency:\n  paytrace: USD\n  sage: CAD\n  rates_file: rates.csv\n"
                      "  max_rate_age_days: 0\n  exchange_difference_account: \"7950-00\"\n")
    engine = open_inbox(world["inbox"])
    with WebStore(handle.base_url, username=handle.username, password=handle.password) as paytrace:
        shop = Shop(catalogue_from_company(world["company"]), paytrace=paytrace)
        sender = WebhookSender("http://receiver/webhooks/woocommerce", SECRET,
                               client=TestClient(create_receiver_app(engine, {"woocommerce": [SECRET]})))
        orders = []
        for items in ([("BOLT-1420", 3), ("GLOVE-NIT", 2)], [("DRILL-18V", 1)]):
            placed = shop.place(GUEST, items, coupon_percent=Decimal(10), shipping=Decimal("9.99"),
                                tax_rate=Decimal("0.089"))
            paid = shop.pay(placed["id"])
            assert sender.send(paid, "order.updated").status_code == 200
            orders.append(paid)
    with PayTraceClient(handle.base_url, username=handle.username, password=handle.password,
                        integrator_id="SAGEPIPE0001") as client:
        days = {client.export_transaction(int(order["transaction_id"])).created_at.astimezone(
            ZoneInfo("America/Los_Angeles")).date() for order in orders}
    [sale_day] = days
    rates = config.parent / "rates.csv"
    rates.write_text(f"date,rate\n{sale_day - timedelta(days=1)},1.3000\n")  # the sale day's rate is missing
    invoices_before = _query(world["company"], "SELECT count(*) FROM AR_InvoiceHistoryHeader")[0][0]

    waiting = dg.materialize(build_store_assets(), resources=_resources(world))
    assert waiting.success
    exceptions = waiting.output_for_node("store_assets", "store_exceptions")
    assert sorted(exceptions["kind"]) == ["missing_exchange_rate"] * 2
    assert all(f"rate of {sale_day}" in problem for problem in exceptions["problem"])
    assert waiting.output_for_node("store_assets", "sage_sales_orders").empty
    assert _query(world["company"], "SELECT count(*) FROM AR_InvoiceHistoryHeader")[0][0] == invoices_before

    rates.write_text(f"date,rate\n{sale_day - timedelta(days=1)},1.3000\n{sale_day},{RATE}\n")
    for run in range(2):  # the rate added: written; once more: nothing new
        result = dg.materialize(build_store_assets(), resources=_resources(world))
        assert result.success and result.output_for_node("store_assets", "store_exceptions").empty
        posted = result.output_for_node("store_assets", "sage_sales_orders")
        assert len(posted) == 2 and int(posted["created_this_run"].sum()) == (2 if run == 0 else 0)
    for order in orders:
        usd = decimal_to_cents(Decimal(order["total"]))
        row = posted[posted["order_id"] == str(order["id"])].iloc[0]
        assert (int(row["total_cents"]), int(row["paytrace_amount_cents"]), row["fx_rate"]) == (
            convert_cents(usd, RATE), usd, str(RATE))
        [(count, total)] = _query(world["company"], "SELECT count(*), sum(NonTaxableSalesAmt) FROM "
                                  "AR_InvoiceHistoryHeader WHERE UDF_PAYTRACE_REF = ?", f"WOO-{order['id']}")
        assert (count, decimal_to_cents(Decimal(str(total)))) == (1, convert_cents(usd, RATE))
