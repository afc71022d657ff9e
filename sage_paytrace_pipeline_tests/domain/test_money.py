from decimal import Decimal

import numpy as np
import pytest

from sage_paytrace_pipeline.domain.money import (
    MoneyError,
    cents_to_decimal,
    decimal_to_cents,
    format_cents,
    format_decimal,
    parse_money,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.5", "12.50"), (110, "110.00"), (Decimal("51.88"), "51.88"), (" 0.29 ", "0.29"), ("1e2", "100.00")],
)
def test_parse_money_gives_exact_cents(raw, expected):
    assert parse_money(raw) == Decimal(expected)
    assert str(parse_money(raw)) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(12.5, "float"), ("12.345", "more than two decimals"), ("abc", "not a number"), ("NaN", "finite"),
     (None, "expected an amount"), (True, "expected an amount"), ("-1.00", "negative")],
)
def test_parse_money_refuses_what_is_not_money(raw, fragment):
    with pytest.raises(MoneyError, match=fragment):
        parse_money(raw, field="amount")


def test_negative_allowed_when_asked():
    assert parse_money("-4.10", allow_negative=True) == Decimal("-4.10")


def test_cents_round_trip_and_wire_format():
    assert decimal_to_cents(Decimal("1234.56")) == 123456
    assert cents_to_decimal(123456) == Decimal("1234.56")
    assert format_decimal(Decimal("7")) == "7.00"


def test_format_cents_is_exact_and_signed():
    assert format_cents(np.array([0, 5, 1234, 100000, -5, -123456])) == ["$0.00", "$0.05", "$12.34", "$1000.00",
                                                                        "-$0.05", "-$1234.56"]


def test_format_cents_writes_repeated_amounts_once_and_the_same():
    cents = np.tile(np.array([1999, -1, 250_000]), 1000)
    assert format_cents(cents) == ["$19.99", "-$0.01", "$2500.00"] * 1000


def test_one_rounding_rule_half_up():
    assert decimal_to_cents(Decimal("0.125")) == 13 and decimal_to_cents(Decimal("-0.125")) == -13
    assert format_decimal(Decimal("2.675")) == "2.68"
