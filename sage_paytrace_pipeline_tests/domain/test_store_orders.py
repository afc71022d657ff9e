"""Parsing store orders: WooCommerce and Shopify resources into one shape, Decimal money, specific errors."""

from __future__ import annotations

from datetime import UTC, datetime
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
