"""Paid store orders into the demo company: customer, order, invoice, inventory; exceptions write nothing."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from sage_paytrace_pipeline.domain.store_orders import StoreOrder, parse_store_order
from sage_paytrace_pipeline.domain.store_posting import PostingRules
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.sandbox.store.company import ensure_store_items
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.store.posting import post_store_orders

TODAY = date(2026, 3, 2)
RULES = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-sage") / "template.db"
    create_demo_company(path, seed=7, customers=40, today=TODAY)
    DemoCompanyWriter(path)
    ensure_store_items(path)
    return path


@pytest.fixture
def company(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "company.db"
    shutil.copy(template, path)
    return path


def _query(company: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(str(company))
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def _counts(company: Path) -> tuple[int, ...]:
    return tuple(_query(company, f"SELECT count(*) FROM {table}")[0][0] for table in (
        "AR_Customer", "SO_SalesOrderHeader", "AR_InvoiceHistoryHeader", "AR_OpenInvoice"))


def _post(company: Path, orders: list[StoreOrder], sales: dict[str, Decimal] | None = None):
    return post_store_orders(orders, Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), RULES,
                             sales=sales, today=TODAY)


def _on_hand(company: Path, sku: str) -> Decimal:
    return Decimal(str(_query(company, "SELECT QuantityOnHand FROM IM_ItemWarehouse WHERE ItemCode = ? AND "
                                       "WarehouseCode = '000'", sku)[0][0]))


def _sage_customer(company: Path) -> tuple[str, str, str]:
    return _query(company, "SELECT CustomerNo, EmailAddress, ZipCode FROM AR_Customer WHERE EmailAddress LIKE '%@%' "
                           "AND ZipCode <> '' ORDER BY CustomerNo LIMIT 1")[0]


def test_a_guest_order_creates_customer_order_and_invoice_with_totals_and_inventory(company: Path) -> None:
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    placed = shop.place(guest, [("BOLT-1420", 3), ("DRILL-18V", 1)], coupon_percent=Decimal(10),
                        shipping=Decimal("9.99"), tax_rate=Decimal("0.089"))
    order = parse_store_order("woocommerce", {**shop.pay(placed["id"]), "transaction_id": "7001"})
    bolts, drills = _on_hand(company, "BOLT-1420"), _on_hand(company, "DRILL-18V")
    before = _counts(company)

    result = _post(company, [order], sales={"7001": order.total})

    assert result.exceptions == []
    [posted] = result.posted
    assert (posted["customer_method"], posted["created"]) == ("created", True)
    assert _counts(company) == tuple(count + 1 for count in before)
    invoice_total = _query(company, "SELECT NonTaxableSalesAmt, CustomerPONo, CustomerNo FROM AR_InvoiceHistoryHeader "
                                    "WHERE InvoiceNo = ?", posted["invoice_no"])[0]
    assert (Decimal(str(invoice_total[0])), invoice_total[1]) == (order.total, order.number)
    balance = _query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo = ?", posted["invoice_no"])[0][0]
    assert Decimal(str(balance)) == order.total
    assert (_on_hand(company, "BOLT-1420"), _on_hand(company, "DRILL-18V")) == (bolts - 3, drills - 1)
    assert _query(company, "SELECT EmailAddress, ZipCode FROM AR_Customer WHERE CustomerNo = ?",
                  invoice_total[2])[0] == ("dana.lee@example.net", "98101")


def test_a_rerun_changes_nothing(company: Path) -> None:
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    orders = [parse_store_order("woocommerce", shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"]))
              for _ in range(2)]
    first = _post(company, orders)
    after_first = _counts(company)
    second = _post(company, orders)
    assert _counts(company) == after_first
    assert [row["invoice_no"] for row in second.posted] == [row["invoice_no"] for row in first.posted]
    assert [row["created"] for row in second.posted] == [False, False]
    # the same guest twice: one customer
    assert len({row["customer_no"] for row in first.posted}) == 1


def test_a_guest_who_already_is_a_sage_customer_is_matched_by_email_and_zip(company: Path) -> None:
    customer_no, email, zip_code = _sage_customer(company)
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Some", "Buyer", email.upper(), "1 Main", "Tacoma", "WA", zip_code)
    order = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("GLOVE-NIT", 2)])["id"]))
    customers = _counts(company)[0]
    [posted] = _post(company, [order]).posted
    assert (posted["customer_no"], posted["customer_method"]) == (customer_no, "email_zip")
    assert _counts(company)[0] == customers


def test_problems_are_exceptions_and_write_nothing(company: Path) -> None:
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    unknown_sku = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("NOPE-1", 1)])["id"]))
    bad_total = shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"])
    bad_total["total"] = "99.99"
    unknown_sale = parse_store_order("woocommerce", {**shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"]),
                                                     "transaction_id": "424242"})
    unpaid = parse_store_order("woocommerce", shop.place(guest, [("BOLT-1420", 1)]))
    before = _counts(company)
    result = _post(company, [unknown_sku, parse_store_order("woocommerce", bad_total), unknown_sale, unpaid],
                   sales={"7001": Decimal("1.00")})
    kinds = {row["order_key"]: {e["kind"] for e in result.exceptions if e["order_key"] == row["order_key"]}
             for row in result.exceptions}
    assert "unknown_sku" in kinds[unknown_sku.key]
    assert "total_mismatch" in kinds[f"woocommerce:{bad_total['id']}"]
    assert kinds[unknown_sale.key] == {"unknown_paytrace_transaction"}
    assert result.posted == []
    assert result.waiting == [unpaid.key]
    assert _counts(company) == before


def test_catch_all_customer_policy(company: Path) -> None:
    customer_no = _sage_customer(company)[0]
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("New", "Person", "new.person@example.org", "9 Oak", "Boise", "ID", "83702")
    order = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"]))
    rules = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX", unknown_customers="catch_all",
                         catch_all=("01", customer_no))
    customers = _counts(company)[0]
    result = post_store_orders([order], Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), rules,
                               sales=None, today=TODAY)
    assert [(row["customer_no"], row["customer_method"]) for row in result.posted] == [(customer_no, "catch_all")]
    assert _counts(company)[0] == customers
    missing = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX", unknown_customers="catch_all",
                           catch_all=("01", "NOSUCH"))
    other = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"]))
    result = post_store_orders([other], Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), missing,
                               sales=None, today=TODAY)
    assert [row["kind"] for row in result.exceptions] == ["unknown_customer"]


def test_fees_and_a_negative_fee_post_to_their_items_and_the_invoice_total_is_the_stores(company: Path) -> None:
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    placed = shop.place(guest, [("DRILL-18V", 1), ("BOLT-1420", 2)], coupon_percent=Decimal(10),
                        shipping=Decimal("7.50"), tax_rate=Decimal("0.089"),
                        fees=[("Handling", Decimal("3.25")), ("Loyalty discount", Decimal("-12.40"))])
    order = parse_store_order("woocommerce", shop.pay(placed["id"]))
    assert order.fee_total() == Decimal("-9.15")

    [posted] = _post(company, [order]).posted

    header = _query(company, "SELECT NonTaxableSalesAmt, InvoiceNo FROM AR_InvoiceHistoryHeader WHERE InvoiceNo = ?",
                    posted["invoice_no"])[0]
    assert Decimal(str(header[0])) == order.total
    lines = _query(company, "SELECT ItemCode, ExtensionAmt FROM SO_SalesOrderDetail WHERE SalesOrderNo = ? "
                            "ORDER BY LineKey", posted["sales_order_no"])
    extensions = {code: Decimal(str(amount)) for code, amount in lines}
    assert (extensions["/FEE"], extensions["/DISCOUNT"], extensions["/FREIGHT"], extensions["/TAX"]) == (
        Decimal("3.25"), Decimal("-12.40"), Decimal("7.50"), order.tax_total)
    assert sum(extensions.values()) == order.total
    debits, credits = _query(company, "SELECT sum(CAST(DebitAmount AS NUMERIC)), sum(CAST(CreditAmount AS NUMERIC)) "
                                      "FROM GL_DetailPosting WHERE DocumentNo = ?", posted["invoice_no"])[0]
    assert round(debits, 2) == round(credits, 2)


def test_a_missing_fee_item_is_an_exception_naming_the_setting(company: Path) -> None:
    shop = Shop(catalogue_from_company(company))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    order = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("BOLT-1420", 1)],
                                                                 fees=[("Gift wrap", Decimal("4.00"))])["id"]))
    before = _counts(company)
    rules = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX", fee_item="/GIFTWRAP")
    result = post_store_orders([order], Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), rules,
                               sales=None, today=TODAY)
    assert [(row["kind"], "store.fee_item" in row["action"]) for row in result.exceptions] == [("unknown_sku", True)]
    assert _counts(company) == before


@pytest.mark.parametrize(("zone", "business_day"), [("America/Los_Angeles", date(2026, 3, 1)),
                                                    ("UTC", date(2026, 3, 2))])
def test_the_order_and_invoice_are_dated_the_merchants_business_day(company: Path, zone: str,
                                                                    business_day: date) -> None:
    """Ordered and paid at 05:10 UTC on 2 March = 21:10 on 1 March in Los Angeles."""
    shop = Shop(catalogue_from_company(company), clock=lambda: datetime(2026, 3, 2, 5, 10, tzinfo=UTC))
    guest = Buyer("Dana", "Lee", "dana.lee@example.net", "12 Pine St", "Seattle", "WA", "98101")
    order = parse_store_order("woocommerce", shop.pay(shop.place(guest, [("BOLT-1420", 1)])["id"]))
    rules = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX", time_zone=zone)
    [posted] = post_store_orders([order], Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), rules,
                                 sales=None, today=date(2026, 3, 9)).posted
    order_date = _query(company, "SELECT OrderDate FROM SO_SalesOrderHeader WHERE SalesOrderNo = ?",
                        posted["sales_order_no"])[0][0]
    invoice_date = _query(company, "SELECT InvoiceDate FROM AR_InvoiceHistoryHeader WHERE InvoiceNo = ?",
                          posted["invoice_no"])[0][0]
    assert (str(order_date)[:10], str(invoice_date)[:10]) == (business_day.isoformat(), business_day.isoformat())
