"""Currency conversion: rates by business day, exact conversion with the one rounding rule, allocation."""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.currency import (
    RateFileError,
    RateTable,
    allocate,
    convert_cents,
    convert_many,
    exchange_of_log,
    parse_rates,
)
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents, round_to_cent

RATES = "date,rate\n2026-03-02,1.3500\n2026-03-03,1.3612\n2026-03-06,1.3725\n"


def table(max_age_days: int = 4) -> RateTable:
    return RateTable.from_rows(parse_rates(RATES, "rates.csv"), max_age_days, "rates.csv")


def test_a_business_day_takes_the_latest_rate_on_or_before_it_never_a_later_one():
    rates = table()
    assert rates.rate_on(date(2026, 3, 2)) == Decimal("1.3500")
    assert rates.rate_on(date(2026, 3, 4)) == Decimal("1.3612")  # nothing published that day: the day before's
    assert rates.rate_on(date(2026, 3, 5)) == Decimal("1.3612")  # not the 6th's, published later
    assert rates.rate_on(date(2026, 3, 9)) == Decimal("1.3725")  # a weekend after the 6th
    assert rates.rate_on(date(2026, 3, 1)) is None  # before the first rate
    assert rates.rates_on([date(2026, 3, 6), date(2026, 3, 2)]) == [Decimal("1.3725"), Decimal("1.3500")]


def test_a_rate_older_than_max_rate_age_days_is_missing_and_says_why():
    rates = table(max_age_days=2)
    assert rates.rate_on(date(2026, 3, 5)) == Decimal("1.3612")
    assert rates.rate_on(date(2026, 3, 12)) is None
    assert "2026-03-06, more than 2 days older" in rates.missing_reason(date(2026, 3, 12))
    assert "no rate on or before 2026-03-01" in rates.missing_reason(date(2026, 3, 1))
    unusable = RateTable.unusable("rates.csv line 3: bad", 4, "rates.csv")
    assert unusable.rate_on(date(2026, 3, 2)) is None and "line 3" in unusable.missing_reason(date(2026, 3, 2))


@pytest.mark.parametrize(("text", "problem"), [
    ("day,rate\n2026-03-02,1.35\n", "line 1: the first line must be the header"),
    ("date,rate\n2026-03-02,1.35\n03/03/2026,1.36\n", "line 3: '03/03/2026' is not a date"),
    ("date,rate\n2026-03-02,abc\n", "line 2: 'abc' is not a number"),
    ("date,rate\n2026-03-02,-1.2\n", "line 2: '-1.2' is not a positive rate"),
    ("date,rate\n2026-03-02,1.35,x\n", "line 2: expected two values"),
    ("date,rate\n2026-03-02,1.35\n2026-03-02,1.36\n", "line 3: a second rate for 2026-03-02"),
    ("date,rate\n2026-03-02,1.12345678901\n", "more than 10 decimal places"),
])
def test_a_bad_row_names_the_file_and_the_line(text, problem):
    with pytest.raises(RateFileError, match=r"^rates\.csv ") as error:
        parse_rates(text, "rates.csv")
    assert problem in str(error.value)


def test_conversion_rounds_half_away_from_zero_as_round_to_cent():
    assert convert_cents(100, Decimal("1.3725")) == 137  # 137.25 cents
    assert convert_cents(2, Decimal("1.25")) == 3  # 2.5 -> 3
    assert convert_cents(-2, Decimal("1.25")) == -3
    assert convert_cents(1000, Decimal("0.7305")) == 731  # 730.5 -> 731
    generator = random.Random(7)
    cents = [generator.randrange(-10**11, 10**11) for _ in range(2000)]
    rates = [Decimal(generator.randrange(1, 10**6)) / 10**generator.randrange(0, 7) for _ in cents]
    expected = [decimal_to_cents(round_to_cent(cents_to_decimal(c) * r)) for c, r in zip(cents, rates)]
    assert convert_many(cents, rates).tolist() == expected


def test_allocation_splits_each_total_in_proportion_to_the_cent():
    groups = pd.Series([1, 1, 1, 2, 3, 3])
    totals = pd.Series([1000, 1000, 1000, 555, 7, 7])
    parts = pd.Series([1372, 1372, 1373, 761, 0, 0])
    shares = allocate(totals, parts, groups)
    assert shares.tolist()[:3] == [333, 334, 333]  # cumulative shares 333.25, 666.5 -> 667, 1000
    assert pd.Series(shares).groupby(groups).sum().tolist() == [1000, 555, 7]


def test_the_log_lines_give_back_the_paytrace_amount_and_rate():
    recorded = json.dumps([{"amount_cents": 137, "paytrace_amount_cents": 100, "fx_rate": "1.3725"},
                           {"amount_cents": 14, "paytrace_amount_cents": 10, "fx_rate": "1.3725"}])
    before = json.dumps([{"amount_cents": 100}])
    frame = exchange_of_log([recorded, before])
    assert frame["paytrace_amount_cents"].tolist()[0] == 110 and pd.isna(frame["paytrace_amount_cents"][1])
    assert frame["fx_rate"].tolist() == ["1.3725", ""]
