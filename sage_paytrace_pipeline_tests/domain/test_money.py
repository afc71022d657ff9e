from decimal import Decimal

import pytest

from sage_paytrace_pipeline.domain.money import MoneyError, format_money, from_cents, parse_money, to_cents


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
    assert to_cents(Decimal("1234.56")) == 123456
    assert from_cents(123456) == Decimal("1234.56")
    assert format_money(Decimal("7")) == "7.00"
