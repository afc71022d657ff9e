"""Web-store orders (WooCommerce REST v3 and Shopify Admin order resources) as one normalized shape.

Pure parsing: a decoded JSON payload in, a `StoreOrder` out, or a `StoreOrderError` naming the
field, the problem and the fix. Money stays `Decimal` (decode JSON with ``parse_float=Decimal``;
WooCommerce and Shopify send amounts as decimal strings anyway).

Where the PayTrace ids live (reference store-orders.md §1.1): WooCommerce's ``transaction_id`` is
the gateway's transaction id; the PayTrace invoice id is the ``_paytrace_invoice_id`` meta entry
when the plugin sets one, else the order number (the store charges with ``invoice_id`` = order
number). Shopify has no gateway id on the order resource: the PayTrace app writes them as note
attributes ``paytrace_transaction_id`` / ``paytrace_invoice_id``; the invoice id defaults to the
order number too.

A line's price in Sage is its store total (after coupons) divided by its quantity, so the Sage
extension equals the store's line total to the cent and the discount needs no negative line.
WooCommerce's ``fee_lines`` (a surcharge, or a negative fee a plugin uses as a discount) are kept
one by one: the store's total is lines + shipping + fees + tax (a fee's tax is in ``total_tax``).

Times are UTC instants (``created_at``, ``paid_at``); which business day they fall on is the
merchant's zone's business, never the host's: `business_date`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sage_paytrace_pipeline.domain.free_text import storable_text
from sage_paytrace_pipeline.domain.money import MoneyError, parse_money, round_to_cent

Platform = Literal["woocommerce", "shopify"]
PLATFORMS: tuple[Platform, ...] = ("woocommerce", "shopify")
ZERO = Decimal("0.00")
# Woo statuses after payment; Shopify financial statuses after payment.
_WOO_PAID = frozenset({"processing", "completed", "refunded"})
_SHOPIFY_PAID = frozenset({"paid", "partially_refunded", "refunded"})


class StoreOrderError(ValueError):
    """A payload that is not an order this pipeline can use: what, where, how to fix."""

    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        self.field = field_name
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field_name}: {problem}; {fix}")


@dataclass(frozen=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.company


@dataclass(frozen=True)
class StoreOrderLine:
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal  # catalogue price per unit before coupons
    subtotal: Decimal  # quantity x price before coupons
    total: Decimal  # after coupons, before tax

    @property
    def discount(self) -> Decimal:
        return self.subtotal - self.total


@dataclass(frozen=True)
class StoreFee:
    """A WooCommerce fee line: a surcharge (positive) or a discount (negative), before tax."""

    name: str
    total: Decimal


@dataclass(frozen=True)
class StoreRefund:
    refund_id: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class StoreOrder:
    platform: Platform
    order_id: str  # the store's internal id (stable)
    number: str  # what the buyer sees; CustomerPONo in Sage
    status: str
    paid: bool
    created_at: datetime
    modified_at: datetime
    currency: str
    customer_id: str  # the store's customer id; "" for a guest
    email: str
    billing: Address
    shipping: Address
    lines: tuple[StoreOrderLine, ...]
    discount_total: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    paytrace_transaction_id: str
    paytrace_invoice_id: str
    refunds: tuple[StoreRefund, ...] = field(default=())
    fees: tuple[StoreFee, ...] = field(default=())
    paid_at: datetime | None = None  # UTC; None while unpaid (or when the store does not say)

    @property
    def guest(self) -> bool:
        return not self.customer_id

    @property
    def key(self) -> str:
        """The order's idempotency key across the pipeline: platform + store order id."""
        return f"{self.platform}:{self.order_id}"

    def lines_total(self) -> Decimal:
        return round_to_cent(sum((line.total for line in self.lines), ZERO))

    def fee_total(self) -> Decimal:
        return round_to_cent(sum((fee.total for fee in self.fees), ZERO))

    def computed_total(self) -> Decimal:
        """Lines after coupons + shipping + fees + tax: what the store's `total` must equal."""
        return self.lines_total() + self.shipping_total + self.fee_total() + self.tax_total

    def order_date(self, zone: str) -> date:
        """The business day the buyer ordered on, in the merchant's zone."""
        return business_date(self.created_at, zone)

    def paid_date(self, zone: str) -> date:
        """The business day the order was paid on (its order day when the store gives no payment time)."""
        return business_date(self.paid_at or self.created_at, zone)

    def refunded_total(self) -> Decimal:
        return round_to_cent(sum((refund.amount for refund in self.refunds), ZERO))


def business_date(moment: datetime, zone: str) -> date:
    """The day `moment` (an aware instant) falls on in `zone` (an IANA name from the config)."""
    if moment.tzinfo is None:
        raise ValueError("a store timestamp without a time zone has no business day")
    return moment.astimezone(ZoneInfo(zone)).date()


def parse_store_order(platform: str, payload: Any) -> StoreOrder:
    """The normalized order of a webhook or REST payload from `platform`."""
    if not isinstance(payload, dict):
        raise StoreOrderError("payload", f"expected a JSON object, got {type(payload).__name__}",
                              "send the order resource as the body")
    if platform == "woocommerce":
        return _woocommerce(payload)
    if platform == "shopify":
        return _shopify(payload)
    raise StoreOrderError("platform", f"unknown store platform {platform!r}", f"use one of {', '.join(PLATFORMS)}")


# ----------------------------------------------------------------------------- WooCommerce


def _woocommerce(order: dict) -> StoreOrder:
    order_id = _required_id(order, "id")
    number = _text(order.get("number")) or order_id
    status = _text(order.get("status")).lower()
    billing = _address(order.get("billing"))
    lines = tuple(_woo_line(index, line) for index, line in enumerate(_list(order, "line_items")))
    meta = {str(entry.get("key")): entry.get("value") for entry in _list(order, "meta_data") if isinstance(entry, dict)}
    refunds = tuple(
        StoreRefund(refund_id=_text(refund.get("id")),
                    amount=abs(_money(refund.get("total", "0"), f"refunds[{index}].total", negative=True)),
                    reason=storable_text(refund.get("reason"), length=60))
        for index, refund in enumerate(_list(order, "refunds")) if isinstance(refund, dict))
    fees = tuple(_woo_fee(index, fee) for index, fee in enumerate(_list(order, "fee_lines")))
    paid = status in _WOO_PAID and bool(order.get("date_paid_gmt") or order.get("date_paid"))
    return StoreOrder(
        platform="woocommerce",
        order_id=order_id,
        number=number,
        status=status,
        paid=paid,
        created_at=_gmt(order, "date_created_gmt", "date_created"),
        modified_at=_gmt(order, "date_modified_gmt", "date_modified", "date_created_gmt", "date_created"),
        currency=_text(order.get("currency")) or "USD",
        customer_id="" if str(order.get("customer_id") or "0") == "0" else _text(order.get("customer_id")),
        email=billing.email.lower(),
        billing=billing,
        shipping=_address(order.get("shipping")),
        lines=lines,
        discount_total=_money(order.get("discount_total", "0"), "discount_total"),
        shipping_total=_money(order.get("shipping_total", "0"), "shipping_total"),
        tax_total=_money(order.get("total_tax", "0"), "total_tax"),
        total=_money(order.get("total"), "total"),
        paytrace_transaction_id=_text(order.get("transaction_id")),
        paytrace_invoice_id=_text(meta.get("_paytrace_invoice_id")) or number,
        refunds=refunds,
        fees=fees,
        paid_at=_gmt(order, "date_paid_gmt", "date_paid") if paid else None,
    )


def _woo_fee(index: int, fee: Any) -> StoreFee:
    where = f"fee_lines[{index}]"
    if not isinstance(fee, dict):
        raise StoreOrderError(where, "is not an object", "send WooCommerce's fee line resource")
    return StoreFee(name=storable_text(fee.get("name"), length=60) or "Fee",
                    total=_money(fee.get("total"), f"{where}.total", negative=True))


def _woo_line(index: int, line: Any) -> StoreOrderLine:
    where = f"line_items[{index}]"
    if not isinstance(line, dict):
        raise StoreOrderError(where, "is not an object", "send WooCommerce's line item resource")
    quantity = _quantity(line.get("quantity"), f"{where}.quantity")
    subtotal = _money(line.get("subtotal"), f"{where}.subtotal")
    return StoreOrderLine(
        sku=_text(line.get("sku")).upper(),
        name=storable_text(line.get("name"), length=60),
        quantity=quantity,
        unit_price=round_to_cent(subtotal / quantity),
        subtotal=subtotal,
        total=_money(line.get("total"), f"{where}.total"),
    )


# ----------------------------------------------------------------------------- Shopify


def _shopify(order: dict) -> StoreOrder:
    order_id = _required_id(order, "id")
    number = _text(order.get("order_number") or order.get("number")) or order_id
    financial = _text(order.get("financial_status")).lower()
    billing = _address(_shopify_address(order.get("billing_address"), order.get("email")))
    notes = {str(entry.get("name")): entry.get("value")
             for entry in _list(order, "note_attributes") if isinstance(entry, dict)}
    lines = tuple(_shopify_line(index, line) for index, line in enumerate(_list(order, "line_items")))
    shipping = sum((_money(line.get("price", "0"), f"shipping_lines[{index}].price")
                    for index, line in enumerate(_list(order, "shipping_lines")) if isinstance(line, dict)), ZERO)
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    paid = financial in _SHOPIFY_PAID
    return StoreOrder(
        platform="shopify",
        order_id=order_id,
        number=number,
        status=financial,
        paid=paid,
        created_at=_gmt(order, "created_at"),
        modified_at=_gmt(order, "updated_at", "created_at"),
        currency=_text(order.get("currency")) or "USD",
        customer_id=_text(customer.get("id")) if customer else "",
        email=_text(order.get("email") or billing.email).lower(),
        billing=billing,
        shipping=_address(_shopify_address(order.get("shipping_address"), None)),
        lines=lines,
        discount_total=_money(order.get("total_discounts", "0"), "total_discounts"),
        shipping_total=round_to_cent(shipping),
        tax_total=_money(order.get("total_tax", "0"), "total_tax"),
        total=_money(order.get("total_price"), "total_price"),
        paytrace_transaction_id=_text(notes.get("paytrace_transaction_id")),
        paytrace_invoice_id=_text(notes.get("paytrace_invoice_id")) or number,
        paid_at=_gmt(order, "processed_at", "created_at") if paid else None,
    )


def _shopify_line(index: int, line: Any) -> StoreOrderLine:
    where = f"line_items[{index}]"
    if not isinstance(line, dict):
        raise StoreOrderError(where, "is not an object", "send Shopify's line item resource")
    quantity = _quantity(line.get("quantity"), f"{where}.quantity")
    price = _money(line.get("price"), f"{where}.price")
    discount = sum((_money(allocation.get("amount", "0"), f"{where}.discount_allocations")
                    for allocation in _list(line, "discount_allocations") if isinstance(allocation, dict)), ZERO)
    subtotal = round_to_cent(price * quantity)
    return StoreOrderLine(sku=_text(line.get("sku")).upper(), name=storable_text(line.get("title"), length=60),
                          quantity=quantity, unit_price=price, subtotal=subtotal, total=subtotal - discount)


def _shopify_address(address: Any, email: Any) -> dict:
    if not isinstance(address, dict):
        return {"email": email or ""}
    return {"first_name": address.get("first_name"), "last_name": address.get("last_name"),
            "company": address.get("company"), "address_1": address.get("address1"),
            "address_2": address.get("address2"), "city": address.get("city"),
            "state": address.get("province_code"), "postcode": address.get("zip"),
            "country": address.get("country_code"), "email": email or "", "phone": address.get("phone")}


# ----------------------------------------------------------------------------- helpers


def _address(value: Any) -> Address:
    if not isinstance(value, dict):
        return Address()
    lengths = {"address_1": 40, "address_2": 40, "city": 30, "company": 50}
    return Address(**{name: storable_text(value.get(name), length=lengths.get(name, 50))
                      for name in Address.__dataclass_fields__})


def _list(container: dict, name: str) -> list:
    value = container.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise StoreOrderError(name, f"expected a list, got {type(value).__name__}", "send the store's resource as is")
    return value


def _text(value: Any) -> str:
    return "" if value is None else storable_text(value, length=60)


def _required_id(order: dict, name: str) -> str:
    value = _text(order.get(name))
    if not value:
        raise StoreOrderError(name, "the order has no id", "send the full order resource, not a deleted-order stub")
    return value


def _money(value: Any, where: str, *, negative: bool = False) -> Decimal:
    try:
        return parse_money(value, field=where, allow_negative=negative)
    except MoneyError as error:
        raise StoreOrderError(where, str(error), "send amounts as decimal strings like \"12.34\"") from None


def _quantity(value: Any, where: str) -> Decimal:
    if isinstance(value, (bool, float)) or value is None:
        raise StoreOrderError(where, f"{value!r} is not a quantity", "send a whole positive number")
    try:
        quantity = Decimal(str(value))
    except ArithmeticError:
        raise StoreOrderError(where, f"{value!r} is not a quantity", "send a whole positive number") from None
    if not quantity.is_finite() or quantity <= 0 or quantity != quantity.to_integral_value():
        raise StoreOrderError(where, f"{value!r} is not a whole positive quantity", "send a whole positive number")
    return quantity


def _gmt(order: dict, *names: str) -> datetime:
    """The first present timestamp among `names`, in UTC. WooCommerce's ``*_gmt`` fields carry no
    offset but are UTC; its local ones are the site's time and are only a fallback."""
    for name in names:
        value = order.get(name)
        if value:
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise StoreOrderError(name, f"{value!r} is not an ISO timestamp",
                                      "send the store's date fields unchanged") from None
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise StoreOrderError(names[0], "the order has no timestamp", "send the full order resource")
