"""The shop: a catalogue read from the demo company's CI_Item, buyers, and orders shaped like
WooCommerce REST v3 resources (money as decimal strings, ``*_gmt`` times, ``customer_id`` 0 for guests).

Orders are paid through the PayTrace sandbox's v1 API (`WebStore`, plain HTTP) with ``invoice_id`` =
the order number, the way a PayTrace checkout plugin charges; the sale's id becomes the order's
``transaction_id``.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore

CENT = Decimal("0.01")
_TEST_CARD = ("4012000098765439", "999")  # PayTrace's public sandbox Visa


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


@dataclass(frozen=True)
class Buyer:
    first_name: str
    last_name: str
    email: str
    address_1: str
    city: str
    state: str
    postcode: str
    customer_id: int = 0  # 0: a guest checkout
    company: str = ""

    def address(self) -> dict[str, str]:
        return {"first_name": self.first_name, "last_name": self.last_name, "company": self.company,
                "address_1": self.address_1, "address_2": "", "city": self.city, "state": self.state,
                "postcode": self.postcode, "country": "US", "email": self.email, "phone": ""}


def catalogue_from_company(company_db: str | Path) -> dict[str, Product]:
    """The regular (stocked) items of the demo company, by SKU = ItemCode."""
    connection = sqlite3.connect(f"file:{company_db}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT ItemCode, ItemCodeDesc, StandardUnitPrice FROM CI_Item "
                                  "WHERE ItemType = '1' AND ItemCode NOT LIKE '/%' ORDER BY ItemCode").fetchall()
    finally:
        connection.close()
    return {code: Product(code, description, Decimal(str(price)).quantize(CENT)) for code, description, price in rows}


class Shop:
    """Orders in memory (thread-safe: the REST app and the scenario share it)."""

    def __init__(self, catalogue: dict[str, Product], *, paytrace: WebStore | None = None,
                 clock: Callable[[], datetime] | None = None, first_number: int = 5001) -> None:
        self.catalogue = catalogue
        self.paytrace = paytrace
        self._clock = clock or (lambda: datetime.now(UTC))
        self._orders: dict[int, dict[str, Any]] = {}
        self._next_id = first_number
        self._lock = threading.Lock()
        self._last_time = datetime(2000, 1, 1, tzinfo=UTC)

    def _now(self) -> datetime:
        # strictly increasing whole seconds: WooCommerce's date_modified has one-second resolution
        moment = max(self._clock().replace(microsecond=0), self._last_time + timedelta(seconds=1))
        self._last_time = moment
        return moment

    def place(self, buyer: Buyer, items: Sequence[tuple[str, int]], *, coupon_percent: Decimal = Decimal(0),
              shipping: Decimal = Decimal("0.00"), tax_rate: Decimal = Decimal(0),
              fees: Sequence[tuple[str, Decimal]] = ()) -> dict[str, Any]:
        """A pending order (not yet paid). A SKU not in the catalogue is sold at 10.00 (a store-only product).
        `fees`: (name, amount) fee lines, untaxed; a negative one is a discount (as plugins add them)."""
        with self._lock:
            order_id = self._next_id
            self._next_id += 1
            now = _stamp(self._now())
            lines = [_line(number, self.catalogue.get(sku) or Product(sku, f"Store-only {sku}", Decimal("10.00")),
                           quantity, coupon_percent)
                     for number, (sku, quantity) in enumerate(items, start=1)]
            line_total = sum((Decimal(line["total"]) for line in lines), Decimal("0.00"))
            tax = (line_total * tax_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            discount = sum((Decimal(line["subtotal"]) - Decimal(line["total"]) for line in lines), Decimal("0.00"))
            fee_lines = [{"id": 900 + number, "name": name, "tax_class": "", "tax_status": "none",
                          "total": _money(amount), "total_tax": "0.00", "taxes": []}
                         for number, (name, amount) in enumerate(fees, start=1)]
            fee_total = sum((amount.quantize(CENT, rounding=ROUND_HALF_UP) for _, amount in fees), Decimal("0.00"))
            order = {
                "id": order_id, "number": str(order_id), "order_key": f"wc_order_{order_id}", "created_via": "checkout",
                "status": "pending", "currency": "USD", "date_created_gmt": now, "date_modified_gmt": now,
                "date_paid_gmt": None, "discount_total": _money(discount), "shipping_total": _money(shipping),
                "shipping_tax": "0.00", "cart_tax": _money(tax), "total_tax": _money(tax),
                "total": _money(line_total + shipping + fee_total + tax), "prices_include_tax": False,
                "customer_id": buyer.customer_id, "billing": buyer.address(),
                "shipping": {**buyer.address(), "email": ""}, "payment_method": "paytrace",
                "payment_method_title": "Credit card (PayTrace)", "transaction_id": "", "line_items": lines,
                "tax_lines": [], "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate",
                                                     "total": _money(shipping)}] if shipping else [],
                "fee_lines": fee_lines, "coupon_lines": [], "refunds": [], "meta_data": [],
            }
            self._orders[order_id] = order
            return copy.deepcopy(order)

    def pay(self, order_id: int) -> dict[str, Any]:
        """Charge the order through PayTrace (invoice id = order number) and mark it processing."""
        order = self.get(order_id)
        transaction_id = ""
        if self.paytrace is not None:
            number, csc = _TEST_CARD
            billing = order["billing"]
            card = CardInput(number=SecretStr(number), expiration_month=12,
                             expiration_year=self.paytrace.today().year + 2, csc=SecretStr(csc))
            transaction_id = str(self.paytrace.sale_keyed(
                card, Decimal(order["total"]), invoice_id=order["number"],
                billing_address=Address(name=f"{billing['first_name']} {billing['last_name']}",
                                        zip=billing["postcode"]),
                email=billing["email"], description=f"Web order {order['number']}"))
        return self._change(order_id, status="processing", transaction_id=transaction_id, paid=True)

    def complete(self, order_id: int) -> dict[str, Any]:
        return self._change(order_id, status="completed")

    def refund(self, order_id: int, amount: Decimal, reason: str = "") -> dict[str, Any]:
        with self._lock:
            order = self._orders[order_id]
            refund_id = order_id * 100 + len(order["refunds"]) + 1
            order["refunds"].append({"id": refund_id, "reason": reason, "total": f"-{_money(amount)}"})
        refunded = sum(-Decimal(r["total"]) for r in order["refunds"])
        return self._change(order_id, status="refunded" if refunded >= Decimal(order["total"]) else order["status"])

    def _change(self, order_id: int, *, status: str, transaction_id: str | None = None,
                paid: bool = False) -> dict[str, Any]:
        with self._lock:
            order = self._orders[order_id]
            now = _stamp(self._now())
            order["status"] = status
            order["date_modified_gmt"] = now
            if transaction_id is not None:
                order["transaction_id"] = transaction_id
            if paid:
                order["date_paid_gmt"] = now
            return copy.deepcopy(order)

    def get(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._orders[order_id])

    def modified_after(self, since: datetime) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [order for order in self._orders.values()
                      if datetime.fromisoformat(order["date_modified_gmt"]).replace(tzinfo=UTC) > since]
            return copy.deepcopy(sorted(chosen, key=lambda order: (order["date_modified_gmt"], order["id"])))


def _line(number: int, product: Product, quantity: int, coupon_percent: Decimal) -> dict[str, Any]:
    subtotal = (product.price * quantity).quantize(CENT)
    total = subtotal - (subtotal * coupon_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"id": number, "name": product.name, "product_id": 100 + number, "variation_id": 0, "sku": product.sku,
            "quantity": quantity, "price": str(product.price), "subtotal": _money(subtotal), "total": _money(total),
            "taxes": []}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
