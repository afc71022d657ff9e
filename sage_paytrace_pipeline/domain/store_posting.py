"""What a paid store order becomes in Sage, decided before anything is written (pure).

`plan_order` checks everything that can be checked without writing: every SKU a Sage item, the
store's catalogue price equal to CI_Item's, the store's total equal to its lines + shipping + tax,
the PayTrace sale that paid it known and of the same amount. A problem gives `StoreProblem`s and no
plan, so nothing is half-created. A plan's lines are priced so each Sage extension is the store's
line total after coupons (unit price = line total / quantity, to Sage's six decimals), and shipping,
fees and tax go to their configured miscellaneous items (a fee to `fee_item`, a negative fee to
`discount_item` as a negative line, one line per fee): the Sage invoice total is the store's total
to the cent, which `plan_order` verifies with Sage's own rounding before returning.

The customer: e-mail and billing ZIP both equal (normalized) to one Sage customer's; else a new
customer (its reference derived from e-mail + ZIP, so a retry finds the one it created), or the
configured catch-all web customer.

Under a currency conversion (README "Currencies") the order is in the store's currency, which must
be PayTrace's, and Sage books in its own: `plan_in_sage_currency` converts each line's extension at
the payment's business-day rate and gives the rounding cents to the largest remainders, so the Sage
invoice totals exactly what receivables converts the payment to (the receipt applies it to the
cent). The catalogue price check is not made then: Sage's item prices are in Sage's currency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

from sage_paytrace_pipeline.domain.currency import convert_cents
from sage_paytrace_pipeline.domain.money import CENT, cents_to_decimal, decimal_to_cents, format_decimal
from sage_paytrace_pipeline.domain.store_orders import StoreOrder

SIX_PLACES = Decimal("0.000001")
ProblemKind = Literal["unknown_sku", "price_mismatch", "total_mismatch", "unknown_customer",
                      "unknown_paytrace_transaction", "sage_refused", "order_currency_mismatch",
                      "missing_exchange_rate"]


@dataclass(frozen=True)
class ItemInfo:
    item_code: str
    price: Decimal
    active: bool = True


@dataclass(frozen=True)
class StoreProblem:
    kind: ProblemKind
    problem: str
    action: str


@dataclass(frozen=True)
class PlannedLine:
    item_code: str
    quantity: Decimal
    unit_price: Decimal

    @property
    def extension(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CustomerChoice:
    """`customer_no` set: an existing customer; None: create one with `reference`."""

    division: str
    customer_no: str | None
    reference: str
    method: Literal["email_zip", "created", "catch_all"]


@dataclass(frozen=True)
class OrderPlan:
    reference: str  # UDF_PAYTRACE_REF of the Sage order and invoice
    customer: CustomerChoice
    lines: tuple[PlannedLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.extension for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class PostingRules:
    division: str
    shipping_item: str
    tax_item: str
    unknown_customers: Literal["create", "catch_all"] = "create"
    catch_all: tuple[str, str] | None = None  # (division, customer_no)
    fee_item: str = "/FEE"  # a store fee (surcharge)
    discount_item: str = "/DISCOUNT"  # a negative store fee, posted as a negative line
    time_zone: str = "UTC"  # the merchant's (merchant.time_zone): the business days of the order's dates

    def fee_line_item(self, amount: Decimal) -> str:
        return self.discount_item if amount < 0 else self.fee_item


def order_reference(order: StoreOrder) -> str:
    """The Sage reference (30 chars): WOO-<id> / SHOP-<id>."""
    prefix = {"woocommerce": "WOO", "shopify": "SHOP"}[order.platform]
    return f"{prefix}-{order.order_id}"[:30]


def normalized_zip(text: str) -> str:
    return "".join(text.split()).upper()[:5] if text else ""


def customer_key(email: str, zip_code: str) -> tuple[str, str]:
    return email.strip().lower(), normalized_zip(zip_code)


def new_customer_reference(order: StoreOrder) -> str:
    digest = hashlib.sha256("|".join(customer_key(order.email, order.billing.postcode)).encode()).hexdigest()
    return f"WEB-{digest[:20]}"


def plan_order(order: StoreOrder, items: Mapping[str, ItemInfo], customers: Mapping[tuple[str, str], tuple[str, str]],
               rules: PostingRules, *, sales: Mapping[str, Decimal] | None,
               check_prices: bool = True) -> OrderPlan | list[StoreProblem]:
    """The plan for a paid order, or every problem that stops it (`sales`: PayTrace sale id -> amount;
    None when PayTrace was not consulted; `check_prices`: False under a currency conversion, Sage's
    prices being in another currency than the store's)."""
    problems = (_line_problems(order, items, check_prices=check_prices) + _misc_item_problems(order, items, rules)
                + _total_problems(order) + _sale_problems(order, sales))
    customer = _customer(order, customers, rules)
    if isinstance(customer, StoreProblem):
        problems.append(customer)
    if problems:
        return problems
    assert isinstance(customer, CustomerChoice)
    lines = [PlannedLine(line.sku, line.quantity, (line.total / line.quantity).quantize(SIX_PLACES))
             for line in order.lines]
    if order.shipping_total:
        lines.append(PlannedLine(rules.shipping_item, Decimal(1), order.shipping_total))
    lines += [PlannedLine(rules.fee_line_item(fee.total), Decimal(1), fee.total) for fee in order.fees if fee.total]
    if order.tax_total:
        lines.append(PlannedLine(rules.tax_item, Decimal(1), order.tax_total))
    plan = OrderPlan(order_reference(order), customer, tuple(lines))
    if plan.total != order.total:
        return [StoreProblem("total_mismatch",
                             f"order {order.number}: Sage's rounding of the lines gives {format_decimal(plan.total)}, "
                             f"the store charged {format_decimal(order.total)}",
                             "enter the order in Sage by hand with a rounding line, then mark this exception resolved")]
    return plan


def plan_in_sage_currency(order: StoreOrder, plan: OrderPlan, rate: Decimal) -> OrderPlan | StoreProblem:
    """The plan with every line in Sage's currency at `rate` (the payment's business day's): each
    extension converted, the rounding cents given to the largest remainders (the earlier line on a
    tie), so the lines add up to the order's total converted by `convert_cents` (what receivables
    makes of the payment), to the cent."""
    cents = [decimal_to_cents(line.extension) for line in plan.lines]
    target = convert_cents(decimal_to_cents(order.total), rate)
    exact = [Fraction(amount) * Fraction(rate) for amount in cents]
    floors = [value.numerator // value.denominator for value in exact]
    extra = target - sum(floors)  # 0 <= extra <= len(lines): the total's rounding against the floors
    by_remainder = sorted(range(len(exact)), key=lambda index: (-(exact[index] - floors[index]), index))
    converted = list(floors)
    for index in by_remainder[:extra]:
        converted[index] += 1
    lines = tuple(replace(line, unit_price=(cents_to_decimal(amount) / line.quantity).quantize(SIX_PLACES))
                  for line, amount in zip(plan.lines, converted, strict=True))
    in_sage = replace(plan, lines=lines)
    if not 0 <= extra <= len(exact) or in_sage.total != cents_to_decimal(target):
        return StoreProblem("total_mismatch",
                            f"order {order.number}: converted at {rate}, Sage's rounding of the lines gives "
                            f"{format_decimal(in_sage.total)}, the payment converts to "
                            f"{format_decimal(cents_to_decimal(target))}",
                            "enter the order in Sage by hand with a rounding line, then mark this exception resolved")
    return in_sage


def _line_problems(order: StoreOrder, items: Mapping[str, ItemInfo], *, check_prices: bool = True
                   ) -> list[StoreProblem]:
    problems = []
    for number, line in enumerate(order.lines, start=1):
        item = items.get(line.sku)
        if not line.sku or item is None or not item.active:
            what = "has no SKU" if not line.sku else f"SKU {line.sku!r} is not an active Sage item"
            problems.append(StoreProblem(
                "unknown_sku", f"order {order.number} line {number} ({line.name}): {what}",
                "give the store product the SKU of its CI_Item code (or add the item in Sage), then reconcile"))
        elif check_prices and item.price != line.unit_price:
            problems.append(StoreProblem(
                "price_mismatch",
                f"order {order.number} line {number} {line.sku}: the store sold at {format_decimal(line.unit_price)}, "
                f"Sage's price is {format_decimal(item.price)}",
                "correct the store's price or CI_Item.StandardUnitPrice; post this order by hand if the sale stands"))
    if not order.lines:
        problems.append(StoreProblem("unknown_sku", f"order {order.number} has no line items",
                                     "check the order in the store"))
    return problems


def _misc_item_problems(order: StoreOrder, items: Mapping[str, ItemInfo], rules: PostingRules) -> list[StoreProblem]:
    """The miscellaneous items the order needs (shipping, fee, discount, tax) that Sage does not have."""
    wanted = [("shipping", "shipping_item", rules.shipping_item, order.shipping_total),
              *(("fee" if fee.total > 0 else "discount", "fee_item" if fee.total > 0 else "discount_item",
                 rules.fee_line_item(fee.total), fee.total) for fee in order.fees),
              ("sales tax", "tax_item", rules.tax_item, order.tax_total)]
    needed = dict.fromkeys((what, setting, code) for what, setting, code, amount in wanted
                           if amount and code not in items)
    return [StoreProblem("unknown_sku", f"order {order.number}: the {what} item {code} is not a Sage item",
                         f"add the miscellaneous item {code} in Sage, or set store.{setting}")
            for what, setting, code in needed]


def _total_problems(order: StoreOrder) -> list[StoreProblem]:
    if order.computed_total() == order.total:
        return []
    return [StoreProblem(
        "total_mismatch",
        f"order {order.number}: lines {format_decimal(order.lines_total())} + shipping "
        f"{format_decimal(order.shipping_total)} + fees {format_decimal(order.fee_total())} + tax "
        f"{format_decimal(order.tax_total)} = "
        f"{format_decimal(order.computed_total())}, but the order total is {format_decimal(order.total)}",
        "check the order's fees or refunds in the store; enter it in Sage by hand if it is right")]


def _sale_problems(order: StoreOrder, sales: Mapping[str, Decimal] | None) -> list[StoreProblem]:
    if sales is None:
        return []
    transaction_id = order.paytrace_transaction_id
    if not transaction_id or transaction_id not in sales:
        return [StoreProblem(
            "unknown_paytrace_transaction",
            f"order {order.number} says it was paid by PayTrace transaction {transaction_id or '(none)'}, "
            "which PayTrace does not show as an approved sale",
            "check the payment in PayTrace and the store; a paid order needs its PayTrace sale")]
    if sales[transaction_id] != order.total:
        return [StoreProblem(
            "total_mismatch",
            f"order {order.number} totals {format_decimal(order.total)} but PayTrace transaction {transaction_id} "
            f"is {format_decimal(sales[transaction_id])}",
            "settle the difference with the buyer (refund or second charge), then post the order by hand")]
    return []


def _customer(order: StoreOrder, customers: Mapping[tuple[str, str], tuple[str, str]],
              rules: PostingRules) -> CustomerChoice | StoreProblem:
    found = customers.get(customer_key(order.email, order.billing.postcode)) if order.email else None
    if found is not None:
        return CustomerChoice(found[0], found[1], "", "email_zip")
    if rules.unknown_customers == "catch_all" or not order.email:
        if rules.catch_all is None:
            return StoreProblem("unknown_customer",
                                f"order {order.number}: no Sage customer has e-mail {order.email or '(none)'} and "
                                f"ZIP {order.billing.postcode or '(none)'}, and no catch-all web customer is set",
                                "set store.catch_all_customer, or link the buyer to a customer in Sage")
        return CustomerChoice(rules.catch_all[0], rules.catch_all[1], "", "catch_all")
    return CustomerChoice(rules.division, None, new_customer_reference(order), "created")
