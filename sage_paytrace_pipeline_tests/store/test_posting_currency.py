"""Paid store orders into the demo company under a currency conversion (a USD store and PayTrace
merchant, a CAD Sage company): the invoice in CAD at the payment's business-day rate, to the cent."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from sage_paytrace_pipeline.domain.currency import RateTable, convert_cents
from sage_paytrace_pipeline.domain.matching import MatchingPolicy
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.store_orders import StoreOrder, parse_store_order
from sage_paytrace_pipeline.receivables.currency import payments_in_sage_currency
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.store.inbox import open_inbox, sqlite_url
from sage_paytrace_pipeline.store.posting import PostingResult, StoreConversion, post_store_orders
from sage_paytrace_pipeline_tests.store import test_posting as one_currency
from sage_paytrace_pipeline_tests.store.test_posting import RULES, TODAY, _counts, _query

template, company = one_currency.template, one_currency.company  # the same fixtures
SALE_DAY = date(2026, 3, 3)  # the PayTrace sale's business day (the store dated the order a day earlier)
RATE = Decimal("1.3725")
GUEST = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")


def rates(*rows: tuple[date, Decimal]) -> RateTable:
    return RateTable.from_rows(rows, 0, "rates.csv")


def big_order(company: Path, *, currency: str = "USD", sale: str = "7001") -> StoreOrder:
    """Several lines, a coupon, shipping, a fee, a discount and tax: many roundings to allocate."""
    shop = Shop(catalogue_from_company(company))
    placed = shop.place(GUEST, [("BOLT-1420", 3), ("DRILL-18V", 1), ("GLOVE-NIT", 7)], coupon_percent=Decimal(10),
                        shipping=Decimal("9.99"), tax_rate=Decimal("0.089"),
                        fees=[("Handling", Decimal("3.25")), ("Loyalty discount", Decimal("-12.40"))])
    return parse_store_order("woocommerce", {**shop.pay(placed["id"]), "transaction_id": sale, "currency": currency})


def post(company: Path, orders: list[StoreOrder], table: RateTable) -> PostingResult:
    conversion = StoreConversion(table, ("USD", "CAD"), {order.paytrace_transaction_id: SALE_DAY for order in orders})
    return post_store_orders(orders, Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), RULES,
                             sales={order.paytrace_transaction_id: order.total for order in orders}, today=TODAY,
                             conversion=conversion)


def test_the_invoice_is_the_payment_converted_at_its_business_day_to_the_cent(company: Path) -> None:
    order = big_order(company)
    # the sale's business day has its own rate; the order's paid day another, which must not be used
    result = post(company, [order], rates((TODAY, Decimal("1.3601")), (SALE_DAY, RATE)))

    assert result.exceptions == []
    [posted] = result.posted
    usd = decimal_to_cents(order.total)
    cad = convert_cents(usd, RATE)
    assert (posted["total_cents"], posted["paytrace_amount_cents"], posted["fx_rate"]) == (cad, usd, "1.3725")
    header = _query(company, "SELECT NonTaxableSalesAmt FROM AR_InvoiceHistoryHeader WHERE InvoiceNo = ?",
                    posted["invoice_no"])[0][0]
    balance = _query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo = ?", posted["invoice_no"])[0][0]
    assert decimal_to_cents(Decimal(str(header))) == cad == decimal_to_cents(Decimal(str(balance)))
    lines = _query(company, "SELECT ItemCode, ExtensionAmt FROM SO_SalesOrderDetail WHERE SalesOrderNo = ? "
                            "ORDER BY LineKey", posted["sales_order_no"])
    in_sage = [decimal_to_cents(Decimal(str(amount))) for _, amount in lines]
    assert sum(in_sage) == cad
    # each line within a cent of its exact conversion (the rounding cents went to the largest remainders)
    store_lines = [decimal_to_cents(line.total) for line in order.lines] + [
        decimal_to_cents(order.shipping_total), *(decimal_to_cents(fee.total) for fee in order.fees),
        decimal_to_cents(order.tax_total)]
    assert len(store_lines) == len(in_sage)
    assert all(abs(Decimal(sage) - Decimal(usd_line) * RATE) < 1 for sage, usd_line in
               zip(in_sage, store_lines, strict=True))
    # receivables converts the PayTrace sale at the same day's rate to the same amount: the receipt applies it exactly
    payment = pd.DataFrame({"transaction_id": [7001], "amount_cents": [usd]})
    converted, missing = payments_in_sage_currency(payment, SALE_DAY, rates((SALE_DAY, RATE)), posted=set(),
                                                   policy=MatchingPolicy(), currencies=("USD", "CAD"))
    assert missing.empty and converted["amount_cents"].tolist() == [cad]


def test_a_rerun_posts_nothing_twice(company: Path) -> None:
    order = big_order(company)
    table = rates((SALE_DAY, RATE))
    [first] = post(company, [order], table).posted
    counts = _counts(company)
    [again] = post(company, [order], table).posted
    assert _counts(company) == counts and again["created"] is False
    assert (again["invoice_no"], again["total_cents"]) == (first["invoice_no"], first["total_cents"])


def test_a_missing_rate_is_an_exception_then_the_order_is_written_once_the_rate_is_added(company: Path) -> None:
    order = big_order(company)
    before = _counts(company)
    waiting = post(company, [order], rates((SALE_DAY - pd.Timedelta(days=3).to_pytimedelta(), RATE)))
    assert waiting.posted == [] and _counts(company) == before
    [problem] = waiting.exceptions
    assert problem["kind"] == "missing_exchange_rate" and f"rate of {SALE_DAY}" in problem["problem"]
    assert f"`{SALE_DAY},<rate>`" in problem["action"] and "rates.csv" in problem["action"]

    table = rates((SALE_DAY, RATE))
    [posted] = post(company, [order], table).posted
    assert posted["created"] and _counts(company) == tuple(count + 1 for count in before)
    [again] = post(company, [order], table).posted
    assert not again["created"] and _counts(company) == tuple(count + 1 for count in before)


def test_an_order_in_another_currency_is_an_exception_and_writes_nothing(company: Path) -> None:
    order = big_order(company, currency="CAD")
    before = _counts(company)
    result = post(company, [order], rates((SALE_DAY, RATE)))
    assert result.posted == [] and _counts(company) == before
    [problem] = result.exceptions
    assert problem["kind"] == "order_currency_mismatch"
    assert "is in CAD, but PayTrace charges in USD" in problem["problem"]


def test_an_inbox_made_before_the_conversion_gets_the_rate_columns(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    with sqlite3.connect(path) as connection:  # store_postings as the first release made it
        connection.execute("CREATE TABLE store_postings (platform VARCHAR(20) NOT NULL, order_id VARCHAR(60) NOT NULL, "
                           "number VARCHAR(60) NOT NULL, reference VARCHAR(30) NOT NULL, division VARCHAR(2) NOT NULL, "
                           "customer_no VARCHAR(20) NOT NULL, customer_method VARCHAR(20) NOT NULL, "
                           "sales_order_no VARCHAR(7) NOT NULL, invoice_no VARCHAR(7) NOT NULL, "
                           "total_cents BIGINT NOT NULL, paytrace_transaction_id VARCHAR(40) NOT NULL, "
                           "posted_at DATETIME NOT NULL, PRIMARY KEY (platform, order_id))")
    engine = open_inbox(sqlite_url(str(path)))
    try:
        columns = {column["name"] for column in sa.inspect(engine).get_columns("store_postings")}
    finally:
        engine.dispose()
    assert {"paytrace_amount_cents", "fx_rate"} <= columns


def test_store_refunds_become_memos_in_cad_at_the_invoices_rate(company: Path) -> None:
    from sage_paytrace_pipeline.domain.money import cents_to_decimal
    from sage_paytrace_pipeline.sage100.documents import ReceiptLine
    from sage_paytrace_pipeline.store.refunds import request_store_refunds
    from sage_paytrace_pipeline_tests.sage100.writer_support import receipt

    order = big_order(company)
    [posted] = post(company, [order], rates((SALE_DAY, RATE))).posted
    writer, reader = DemoCompanyWriter(company), Sage100Reader.for_sqlite(company)
    writer.post_card_receipt(receipt(posted["division"], posted["customer_no"], [ReceiptLine(
        invoice_no=posted["invoice_no"], amount=cents_to_decimal(posted["total_cents"]))], transaction_id="7001"))
    usd = posted["paytrace_amount_cents"]
    refunds = [{"platform": "woocommerce", "order_id": order.order_id, "refund_id": "r1", "amount_cents": 1001,
                "reason": "one box"},
               {"platform": "woocommerce", "order_id": order.order_id, "refund_id": "r2", "amount_cents": usd,
                "reason": "all of it"}]
    postings = {("woocommerce", order.order_id): posted}
    outcome = request_store_refunds(refunds, postings, reader, writer, refunded_invoice_ids=set(), flow_on=True,
                                    today=TODAY, converts=True)
    assert outcome.exceptions == []
    assert [row["amount"] for row in outcome.requested] == [
        cents_to_decimal(convert_cents(1001, RATE)), cents_to_decimal(posted["total_cents"])]
    # an order written before the conversion (no rate kept): a person decides
    before = {**posted, "fx_rate": None, "paytrace_amount_cents": None}
    outcome = request_store_refunds(refunds[:1], {("woocommerce", order.order_id): before}, reader, writer,
                                    refunded_invoice_ids=set(), flow_on=True, today=TODAY, converts=True)
    assert outcome.requested == [] and [row["kind"] for row in outcome.exceptions] == ["store_refund"]
