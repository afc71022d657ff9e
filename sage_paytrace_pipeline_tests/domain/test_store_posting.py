"""A store order's plan in Sage's currency: lines converted, rounding cents to the largest remainders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sage_paytrace_pipeline.domain.currency import convert_back_cents, convert_cents
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.store_posting import (
    CustomerChoice,
    OrderPlan,
    PlannedLine,
    StoreProblem,
    plan_in_sage_currency,
)


class _Order:  # what plan_in_sage_currency reads of a StoreOrder: its number and total
    def __init__(self, total: str) -> None:
        self.number, self.total = "5001", Decimal(total)


def plan(*extensions: tuple[str, str]) -> OrderPlan:
    return OrderPlan("WOO-1", CustomerChoice("01", "ABF", "", "email_zip"),
                     tuple(PlannedLine(f"ITEM{n}", Decimal(quantity), (Decimal(amount) / Decimal(quantity))
                                       .quantize(Decimal("0.000001")))
                           for n, (quantity, amount) in enumerate(extensions)))


@pytest.mark.parametrize("rate", [Decimal("1.3725"), Decimal("0.7311"), Decimal("1.41999"), Decimal("0.5")])
def test_the_converted_lines_add_up_to_the_converted_total_each_within_a_cent(rate: Decimal) -> None:
    usd = plan(("3", "40.37"), ("1", "134.10"), ("7", "81.83"), ("1", "9.99"), ("1", "3.25"), ("1", "-12.40"),
               ("1", "23.09"))
    order = _Order(str(usd.total))
    converted = plan_in_sage_currency(order, usd, rate)  # type: ignore[arg-type]
    assert isinstance(converted, OrderPlan)
    target = convert_cents(decimal_to_cents(usd.total), rate)
    assert decimal_to_cents(converted.total) == target
    for before, after in zip(usd.lines, converted.lines, strict=True):
        assert after.quantity == before.quantity and after.item_code == before.item_code
        assert abs(Decimal(decimal_to_cents(after.extension)) - Decimal(decimal_to_cents(before.extension)) * rate) < 1


def test_the_rounding_cents_go_to_the_largest_remainders() -> None:
    # at 0.5 each 0.01 line is worth half a cent: three lines of 0.01 = 0.03 USD -> 0.015 -> 0.02 CAD;
    # the floors give 0, so two cents go to the first two lines (equal remainders: the earlier first)
    converted = plan_in_sage_currency(_Order("0.03"), plan(("1", "0.01"), ("1", "0.01"), ("1", "0.01")),  # type: ignore[arg-type]
                                      Decimal("0.5"))
    assert isinstance(converted, OrderPlan)
    assert [line.extension for line in converted.lines] == [Decimal("0.01"), Decimal("0.01"), Decimal("0.00")]
    # a larger remainder wins over an earlier line: 1.53 exact and 0.015; the total 1.545 -> 1.55
    converted = plan_in_sage_currency(_Order("1.03"), plan(("1", "1.02"), ("1", "0.01")), Decimal("1.5"))  # type: ignore[arg-type]
    assert isinstance(converted, OrderPlan)
    assert [line.extension for line in converted.lines] == [Decimal("1.53"), Decimal("0.02")]


def test_quantities_sage_cannot_price_to_the_cent_are_a_problem() -> None:
    # a line of a huge quantity: six decimals of unit price cannot give its converted extension back
    converted = plan_in_sage_currency(_Order("1.00"), plan(("3000000", "1.00")), Decimal("1.3725"))  # type: ignore[arg-type]
    assert isinstance(converted, StoreProblem) and converted.kind == "total_mismatch"


def test_a_memo_back_in_the_sales_currency_rounds_half_up() -> None:
    assert convert_back_cents(2000, Decimal("1.3725")) == 1457  # 14.5719
    assert convert_back_cents(1, Decimal("2")) == 1  # half a cent: up
    assert convert_back_cents(-3, Decimal("2")) == -2  # halves away from zero, as convert_cents
