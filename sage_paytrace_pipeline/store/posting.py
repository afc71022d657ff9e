"""Paid store orders into Sage: customer, sales order, invoice (inventory relieved), through the Sage writer.

Per order, after `plan_order` (domain/store_posting.py) found nothing wrong:

1. the customer matched by e-mail + ZIP, or created (`upsert_customer`, by a reference derived from
   e-mail + ZIP, so a retry after a crash finds the customer it created instead of making another),
   or the catch-all web customer;
2. ``create_sales_order`` with the store's order number in ``CustomerPONo`` and ``WOO-<id>`` in
   ``UDF_PAYTRACE_REF`` (the writer's idempotency key);
3. ``invoice_sales_order`` with the same reference (idempotent too): AR invoice, open item,
   IM_ItemWarehouse and CI_Item quantities relieved, GL.

A re-run finds each document by its reference and writes nothing; a crash between the steps is
finished by the next run. Sage refusing a document (a `Sage100ValidationError`) is a
``sage_refused`` exception for that order; the other orders go on.

Reads are per run, not per order: the customers once (an e-mail + ZIP index), each distinct SKU
once, the existing order invoices by reference once per order (a keyed look-up).

Under a currency conversion (`StoreConversion`, README "Currencies") an order must be in PayTrace's
currency (else ``order_currency_mismatch``, nothing written); its lines go to Sage converted at the
rate of its PayTrace sale's business day, the rate receivables converts that payment at
(domain/store_posting.py `plan_in_sage_currency`), so the receipt applies the invoice exactly. A day
without a usable rate is a ``missing_exchange_rate`` exception and nothing is written; the order
stays in the inbox unposted and the first run after the rate is added writes it (once, by its
reference). The posted row keeps the Sage total (`total_cents`), the store's (`paytrace_amount_cents`)
and the rate (`fx_rate`); both NULL without a conversion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.domain.currency import RateTable
from sage_paytrace_pipeline.domain.money import decimal_to_cents, format_decimal
from sage_paytrace_pipeline.domain.store_orders import StoreOrder
from sage_paytrace_pipeline.domain.store_posting import (
    CustomerChoice,
    ItemInfo,
    OrderPlan,
    PostingRules,
    StoreProblem,
    customer_key,
    order_reference,
    plan_in_sage_currency,
    plan_order,
)
from sage_paytrace_pipeline.sage100.documents import CustomerRecord, SalesOrder, SalesOrderLine
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

POSTED_COLUMNS = ("order_key", "platform", "order_id", "number", "reference", "division", "customer_no",
                  "customer_method", "sales_order_no", "invoice_no", "total_cents", "paytrace_transaction_id",
                  "created", "paytrace_amount_cents", "fx_rate")
EXCEPTION_COLUMNS = ("order_key", "number", "kind", "problem", "action")


@dataclass
class PostingResult:
    posted: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # not paid yet

    def posted_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.posted, columns=list(POSTED_COLUMNS))

    def exception_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.exceptions, columns=list(EXCEPTION_COLUMNS))


@dataclass(frozen=True)
class StoreConversion:
    """PayTrace's currency (the store's) -> Sage's: the rates, the currency codes, and each PayTrace
    sale's business day (sale id -> day, as PayTrace files it; a sale not given: its order's paid day)."""

    rates: RateTable
    currencies: tuple[str, str]  # (PayTrace's, Sage's)
    sale_days: Mapping[str, date] = field(default_factory=dict)


def post_store_orders(orders: Iterable[StoreOrder], reader: Sage100Reader, writer: Sage100Writer,
                      rules: PostingRules, *, sales: Mapping[str, Decimal] | None, terms_code: str = "",
                      warehouse: str = "000", today: date, conversion: StoreConversion | None = None) -> PostingResult:
    """Every paid order into Sage once (see the module docstring). The sales order is dated the day the
    buyer ordered and the invoice the day the order was paid, both in `rules.time_zone` (the
    merchant's), so the invoice falls on the business day of the PayTrace sale that pays it."""
    result = PostingResult()
    paid = [order for order in orders if order.paid]
    result.waiting = [order.key for order in orders if not order.paid]
    items = _items(reader, {line.sku for order in paid for line in order.lines}, rules)
    customers = _customer_index(reader, rules.division)
    catch_all_exists = rules.catch_all is None or reader.customer(*rules.catch_all) is not None
    for order in paid:
        if conversion is not None and order.currency.upper() != conversion.currencies[0]:
            result.exceptions.append(_exception(order, _currency_problem(order, conversion)))
            continue
        plan = plan_order(order, items, customers, rules, sales=sales, check_prices=conversion is None)
        rate = None
        if conversion is not None and isinstance(plan, OrderPlan):
            day = conversion.sale_days.get(order.paytrace_transaction_id) or order.paid_date(rules.time_zone)
            rate = conversion.rates.rate_on(day)
            converted = _missing_rate(order, day, conversion) if rate is None else plan_in_sage_currency(
                order, plan, rate)
            plan = converted if isinstance(converted, OrderPlan) else [converted]
        if isinstance(plan, OrderPlan) and plan.customer.method == "catch_all" and not catch_all_exists:
            plan = [StoreProblem("unknown_customer", f"order {order.number}: the catch-all customer "
                                 f"{'-'.join(rules.catch_all or ())} does not exist in Sage",
                                 "create it in AR Customer Maintenance or correct store.catch_all_customer")]
        if not isinstance(plan, OrderPlan):
            result.exceptions += [_exception(order, problem) for problem in plan]
            continue
        try:
            result.posted.append(_post(order, plan, writer, rules, terms_code=terms_code, warehouse=warehouse,
                                       today=today, customers=customers, rate=rate))
        except Sage100ValidationError as error:
            result.exceptions.append(_exception(order, StoreProblem(
                "sage_refused", f"order {order.number}: Sage refused it: {error}",
                "fix what Sage names (item, stock, customer), then run again: what was written is reused")))
    return result


def _currency_problem(order: StoreOrder, conversion: StoreConversion) -> StoreProblem:
    paytrace, sage = conversion.currencies
    return StoreProblem(
        "order_currency_mismatch",
        f"order {order.number} is in {order.currency or '(none)'}, but PayTrace charges in {paytrace} (and Sage "
        f"books in {sage}, converted from {paytrace}); nothing was written",
        f"sell in {paytrace} in the store (its currency setting), or enter this order in Sage by hand")


def _missing_rate(order: StoreOrder, day: date, conversion: StoreConversion) -> StoreProblem:
    paytrace, sage = conversion.currencies
    rates = conversion.rates
    return StoreProblem(
        "missing_exchange_rate",
        f"order {order.number} of {format_decimal(order.total)} {paytrace} (PayTrace sale "
        f"{order.paytrace_transaction_id or '(none)'}) needs the {paytrace}->{sage} rate of {day}, and "
        f"{rates.missing_reason(day)}; nothing was written",
        f"Add the rate of {day} (or the last business day before it) to {rates.source} as `{day},<rate>` ({sage} "
        f"per 1 {paytrace}); the next store run writes the order")


def _business_dates(order: StoreOrder, zone: str, today: date) -> tuple[date, date]:
    """(invoice date, order date): the days the order was paid and placed in the merchant's zone, never
    after the merchant's `today` (a store clock running ahead must not date a document in the future)."""
    invoice_date = min(order.paid_date(zone), today)
    return invoice_date, min(order.order_date(zone), invoice_date)


def _post(order: StoreOrder, plan: OrderPlan, writer: Sage100Writer, rules: PostingRules, *, terms_code: str,
          warehouse: str, today: date, customers: dict[tuple[str, str], tuple[str, str]],
          rate: Decimal | None = None) -> dict:
    division, customer_no = _customer(order, plan.customer, writer, terms_code)
    customers.setdefault(customer_key(order.email, order.billing.postcode), (division, customer_no))
    invoice_date, order_date = _business_dates(order, rules.time_zone, today)
    created = writer.create_sales_order(SalesOrder(
        reference=plan.reference, division=division, customer_no=customer_no, order_date=order_date,
        customer_po_no=order.number,
        lines=tuple(SalesOrderLine(item_code=line.item_code, quantity=line.quantity, unit_price=line.unit_price)
                    for line in plan.lines),
        warehouse_code=warehouse))
    sales_order_no = created.documents["SalesOrderNo"]
    invoiced = writer.invoice_sales_order(sales_order_no, reference=plan.reference, invoice_date=invoice_date)
    return {"order_key": order.key, "platform": order.platform, "order_id": order.order_id, "number": order.number,
            "reference": plan.reference, "division": division, "customer_no": customer_no,
            "customer_method": plan.customer.method, "sales_order_no": sales_order_no,
            "invoice_no": invoiced.documents["InvoiceNo"], "total_cents": decimal_to_cents(plan.total),
            "paytrace_transaction_id": order.paytrace_transaction_id,
            "created": bool(created.created or invoiced.created),
            "paytrace_amount_cents": None if rate is None else decimal_to_cents(order.total),
            "fx_rate": None if rate is None else str(rate)}


def _customer(order: StoreOrder, choice: CustomerChoice, writer: Sage100Writer, terms_code: str) -> tuple[str, str]:
    if choice.customer_no is not None:
        return choice.division, choice.customer_no
    billing = order.billing
    result = writer.upsert_customer(CustomerRecord(
        reference=choice.reference, division=choice.division, name=billing.name or order.email,
        address_line1=billing.address_1, address_line2=billing.address_2, city=billing.city,
        state=billing.state[:2], zip_code=billing.postcode[:10], country_code=_country(billing.country),
        phone=billing.phone[:20], email=order.email, terms_code=terms_code))
    return result.documents["ARDivisionNo"], result.documents["CustomerNo"]


def _country(code: str) -> str:
    return {"US": "USA", "CA": "CAN", "MX": "MEX"}.get(code.upper(), code.upper()[:3]) if code else "USA"


def _items(reader: Sage100Reader, skus: set[str], rules: PostingRules) -> dict[str, ItemInfo]:
    """CI_Item by SKU, one keyed read per distinct SKU of the run (misc items included)."""
    items: dict[str, ItemInfo] = {}
    for sku in sorted(skus | {rules.shipping_item, rules.tax_item, rules.fee_item, rules.discount_item}):
        if not sku:
            continue
        rows = reader.rows_where("CI_Item", "ItemCode", sku, ("ItemCode", "StandardUnitPrice", "InactiveItem"))
        if rows:
            row = rows[0]
            items[sku] = ItemInfo(str(row["ItemCode"]).strip(),
                                  Decimal(str(row["StandardUnitPrice"] or 0)).quantize(Decimal("0.01")),
                                  active=str(row["InactiveItem"] or "N").upper() != "Y")
    return items


def _customer_index(reader: Sage100Reader, division: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(e-mail, ZIP) -> the customer; the lowest customer number wins when several share both."""
    index: dict[tuple[str, str], tuple[str, str]] = {}
    for customer in sorted(reader.customers(), key=lambda c: (c.division != division, c.division, c.customer_no)):
        if customer.active and customer.email and customer.zip_code:
            for email in customer.email.replace(";", ",").split(","):
                if email.strip():
                    index.setdefault(customer_key(email, customer.zip_code), customer.key)
    return index


def _exception(order: StoreOrder, problem: StoreProblem) -> dict:
    return {"order_key": order.key, "number": order.number, "kind": problem.kind, "problem": problem.problem,
            "action": problem.action}


def existing_invoice(reader: Sage100Reader, order: StoreOrder) -> str | None:
    """The Sage invoice already written for the order, by its reference (for reports)."""
    rows = reader.rows_where("AR_InvoiceHistoryHeader", UDF_PAYTRACE_REF, order_reference(order), ("InvoiceNo",))
    return str(rows[0]["InvoiceNo"]) if rows else None
