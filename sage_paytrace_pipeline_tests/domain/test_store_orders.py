"""Parsing store orders: WooCommerce and Shopify resources into one shape, Decimal money, specific errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.domain.store_orders import StoreOrderError, parse_store_order
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Product, Shop

SHOP = Shop({"BOLT-1420": Product("BOLT-1420", "Bolts", Decimal("14.95")),
             "DRILL-18V": Product("DRILL-18V", "Drill", Decimal("149.00"))})
REGISTERED = Buyer("Ann", "Ray", "Ann.Ray@Example.com", "5 Elm", "Portland", "OR", "97201", customer_id=42)


def test_a_woocommerce_order_with_coupon_shipping_and_tax() -> None:
    payload = SHOP.pay(SHOP.place(REGISTERED, [("BOLT-1420", 3), ("DRILL-18V", 1)], coupon_percent=Decimal(10),
                                  shipping=Decimal("9.99"), tax_rate=Decimal("0.089"))["id"])
    payload["transaction_id"] = "881234"
    order = parse_store_order("woocommerce", payload)
    assert [(line.sku, line.quantity, line.unit_price, line.subtotal, line.total) for line in order.lines] == [
        ("BOLT-1420", 3, Decimal("14.95"), Decimal("44.85"), Decimal("40.36")),
        ("DRILL-18V", 1, Decimal("149.00"), Decimal("149.00"), Decimal("134.10"))]
    assert (order.discount_total, order.shipping_total, order.tax_total) == (
        Decimal("19.39"), Decimal("9.99"), Decimal("15.53"))
    assert order.total == order.computed_total() == Decimal("199.98")
    assert (order.paid, order.guest, order.email, order.customer_id) == (True, False, "ann.ray@example.com", "42")
    assert (order.paytrace_transaction_id, order.paytrace_invoice_id) == ("881234", order.number)
    assert order.billing.postcode == "97201"
    assert order.modified_at.tzinfo is UTC


def test_a_pending_woocommerce_order_is_not_paid_and_a_guest_has_no_customer_id() -> None:
    order = parse_store_order("woocommerce", SHOP.place(
        Buyer("G", "Uest", "g@example.com", "1 A St", "Boise", "ID", "83702"), [("BOLT-1420", 1)]))
    assert (order.paid, order.guest, order.customer_id) == (False, True, "")


@pytest.mark.parametrize(("change", "field"), [
    ({"total": 12.5}, "total"),
    ({"total": "12.345"}, "total"),
    ({"id": None}, "id"),
    ({"date_created_gmt": "yesterday"}, "date_created_gmt"),
    ({"line_items": [{"sku": "X", "quantity": 0, "subtotal": "1.00", "total": "1.00"}]}, "line_items[0].quantity"),
    ({"line_items": "none"}, "line_items"),
])
def test_bad_orders_name_the_field(change: dict, field: str) -> None:
    payload = {**SHOP.place(REGISTERED, [("BOLT-1420", 1)]), **change}
    with pytest.raises(StoreOrderError) as caught:
        parse_store_order("woocommerce", payload)
    assert caught.value.field == field


def test_a_card_number_typed_into_a_name_is_masked() -> None:
    payload = SHOP.place(REGISTERED, [("BOLT-1420", 1)])
    payload["billing"]["last_name"] = "4111 1111 1111 1111"
    assert "4111 1111 1111 1111" not in parse_store_order("woocommerce", payload).billing.last_name


def test_shopify_times_are_converted_to_utc() -> None:
    order = parse_store_order("shopify", {"id": 1, "order_number": 7, "financial_status": "pending",
                                          "created_at": "2026-03-02T10:00:00-08:00", "total_price": "0.00",
                                          "line_items": []})
    assert order.created_at == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert not order.paid


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(StoreOrderError, match="unknown store platform"):
        parse_store_order("magento", {"id": 1})


def test_woocommerce_fee_lines_count_in_the_total_and_a_negative_fee_is_a_discount() -> None:
    fees = [("Handling", Decimal("2.50")), ("Pay-by-bank discount", Decimal("-5.00"))]
    payload = SHOP.pay(SHOP.place(REGISTERED, [("DRILL-18V", 1)], shipping=Decimal("7.50"), tax_rate=Decimal("0.1"),
                                  fees=fees)["id"])
    order = parse_store_order("woocommerce", payload)
    assert [(fee.name, fee.total) for fee in order.fees] == [("Handling", Decimal("2.50")),
                                                             ("Pay-by-bank discount", Decimal("-5.00"))]
    assert order.fee_total() == Decimal("-2.50")
    assert order.total == order.computed_total() == Decimal("149.00") + Decimal("7.50") - Decimal("2.50") \
        + Decimal("14.90")


def test_a_bad_fee_amount_names_the_fee_line() -> None:
    payload = SHOP.place(REGISTERED, [("BOLT-1420", 1)], fees=[("Handling", Decimal("1.00"))])
    payload["fee_lines"][0]["total"] = "1.005"
    with pytest.raises(StoreOrderError) as caught:
        parse_store_order("woocommerce", payload)
    assert caught.value.field == "fee_lines[0].total"


def test_business_dates_are_the_merchants_not_utcs() -> None:
    """An order placed at 21:40 in Los Angeles on 4 December is 05:40 UTC on the 5th: its business day
    is the 4th in Los Angeles, the 5th in UTC; the payment time comes from date_paid_gmt."""
    shop = Shop(SHOP.catalogue, clock=lambda: datetime(2026, 12, 5, 5, 40, tzinfo=UTC))
    order = parse_store_order("woocommerce", shop.pay(shop.place(REGISTERED, [("BOLT-1420", 1)])["id"]))
    assert order.paid_at == datetime(2026, 12, 5, 5, 40, 1, tzinfo=UTC)
    assert (order.order_date("America/Los_Angeles"), order.paid_date("America/Los_Angeles")) == (
        date(2026, 12, 4), date(2026, 12, 4))
    assert order.order_date("UTC") == date(2026, 12, 5)
    assert order.order_date("Asia/Tokyo") == date(2026, 12, 5)
    unpaid = parse_store_order("woocommerce", shop.place(REGISTERED, [("BOLT-1420", 1)]))
    assert unpaid.paid_at is None and unpaid.paid_date("UTC") == unpaid.order_date("UTC")


def test_shopify_times_keep_their_offsets() -> None:
    """Shopify sends the shop's local time with its offset: 23:30 in New York on 4 December is the 4th
    in Los Angeles and the 5th in UTC; processed_at is the payment time."""
    payload = {"id": 820982911946154508, "order_number": 1001, "financial_status": "paid",
               "created_at": "2026-12-04T23:30:00-05:00", "updated_at": "2026-12-04T23:31:00-05:00",
               "processed_at": "2026-12-05T02:10:00-05:00", "email": "bob@example.com", "total_price": "14.95",
               "line_items": [{"sku": "BOLT-1420", "title": "Bolts", "quantity": 1, "price": "14.95"}]}
    order = parse_store_order("shopify", payload)
    assert order.created_at == datetime(2026, 12, 5, 4, 30, tzinfo=UTC)
    assert (order.order_date("America/Los_Angeles"), order.order_date("UTC")) == (date(2026, 12, 4), date(2026, 12, 5))
    assert order.paid_date("America/Los_Angeles") == date(2026, 12, 4)
    assert order.paid_date("America/New_York") == date(2026, 12, 5)
