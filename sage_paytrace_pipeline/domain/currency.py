"""Currency conversion between PayTrace's currency and the Sage company's (pure; no I/O).

A rate is the number of units of the Sage currency one unit of the PayTrace currency buys
(USD merchant, CAD company: 1.3725 means US$1.00 = C$1.3725), exact as a `Decimal`. The rate of a
business day is the latest published rate on or before that day, at most `max_age_days` older
(weekends and holidays publish none), never a later one and never today's for an old day. No such
rate is a missing rate: the caller makes it an exception, never a guess.

Amounts stay integer cents: cents x rate is computed on exact integers (the rate as numerator over
a power of ten) and rounded once, to the cent, halves away from zero: `domain.money.round_to_cent`'s rule.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

RATE_COLUMNS = ("date", "rate")
# Rates finer than this are refused: no published rate has more places, and the integer product
# of cents and the rate's numerator stays exact.
MAX_RATE_PLACES = 10
# Columns the conversion adds (to payments, applications, receipts and journal lines).
FX_RATE = "fx_rate"
PAYTRACE_AMOUNT = "paytrace_amount_cents"
MISSING_EXCHANGE_RATE = "missing_exchange_rate"


class RateFileError(ValueError):
    """A rates file that cannot be used, naming the file and the line."""


def parse_rate(text: str) -> Decimal:
    """A rate as written in the file: a positive decimal number with at most MAX_RATE_PLACES places."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text.strip()[:30]!r} is not a number; write the rate like 1.3725") from None
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"{text.strip()[:30]!r} is not a positive rate")
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_RATE_PLACES:
        raise ValueError(f"{text.strip()[:30]!r} has more than {MAX_RATE_PLACES} decimal places")
    return rate


def parse_rates(text: str, source: str) -> list[tuple[date, Decimal]]:
    """`date,rate` CSV rows (ISO dates, a header line first) sorted by date; a bad row is a
    `RateFileError` naming `source` and its line, and nothing of the file is used."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [cell.strip().lower() for cell in rows[0]] != list(RATE_COLUMNS):
        raise RateFileError(f"{source} line 1: the first line must be the header `date,rate`")
    rates: dict[date, Decimal] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise RateFileError(f"{source} line {number}: expected two values `date,rate`, got {len(row)}")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise RateFileError(f"{source} line {number}: {row[0].strip()[:30]!r} is not a date like 2026-11-24"
                                ) from None
        try:
            rate = parse_rate(row[1])
        except ValueError as problem:
            raise RateFileError(f"{source} line {number}: {problem}") from None
        if day in rates:
            raise RateFileError(f"{source} line {number}: a second rate for {day}; keep one rate per day")
        rates[day] = rate
    return sorted(rates.items())


@dataclass(frozen=True)
class RateTable:
    """Published rates by date; `rate_on` gives a business day's rate or None."""

    rates: tuple[tuple[date, Decimal], ...]
    max_age_days: int
    source: str = "rates"
    # Why the source gave no rates (a bad row, a missing file): every day is then without a rate.
    problem: str = ""
    _days: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_days", np.array([day for day, _ in self.rates], dtype="datetime64[D]"))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[date, Decimal]], max_age_days: int, source: str = "rates") -> RateTable:
        return cls(tuple(sorted(rows)), max_age_days, source)

    @classmethod
    def unusable(cls, problem: str, max_age_days: int, source: str = "rates") -> RateTable:
        """No rates, and why: every conversion waits (an exception each) until the source is fixed."""
        return cls((), max_age_days, source, problem)

    def missing_reason(self, day: date) -> str:
        """Why `day` has no rate, in a clerk's words."""
        if self.problem:
            return f"the rates file cannot be used ({self.problem})"
        earlier = [published for published, _ in self.rates if published <= day]
        if not earlier:
            return f"{self.source} has no rate on or before {day}"
        return (f"{self.source}'s latest rate on or before {day} is of {earlier[-1]}, more than "
                f"{self.max_age_days} days older (currency.max_rate_age_days)")

    def rate_on(self, day: date) -> Decimal | None:
        return self.rates_on([day])[0]

    def rates_on(self, days: Sequence[date]) -> list[Decimal | None]:
        """Each day's rate: the latest on or before it, at most max_age_days old; None otherwise."""
        if not len(days):
            return []
        wanted = np.array(list(days), dtype="datetime64[D]")
        position = np.searchsorted(self._days, wanted, side="right") - 1
        found: list[Decimal | None] = []
        for index, day in zip(position.tolist(), wanted.tolist(), strict=True):
            if index < 0:
                found.append(None)
                continue
            published, rate = self.rates[index]
            found.append(rate if day - published <= timedelta(days=self.max_age_days) else None)
        return found


def _ratio(rate: Decimal) -> tuple[int, int]:
    """The rate as numerator / 10**places, exactly."""
    sign, digits, exponent = rate.as_tuple()
    assert isinstance(exponent, int) and not sign
    numerator = int("".join(map(str, digits)))
    return (numerator * 10 ** exponent, 1) if exponent >= 0 else (numerator, 10 ** -exponent)


def convert_cents(cents: int, rate: Decimal) -> int:
    """One amount in the other currency: cents x rate rounded to the cent, halves away from zero."""
    return int(convert_many([cents], [rate])[0])


def convert_back_cents(cents: int, rate: Decimal) -> int:
    """An amount of the Sage currency in the PayTrace currency: cents / rate rounded to the cent,
    halves away from zero (a credit memo's amount back in what the sale charged)."""
    numerator, denominator = _ratio(rate)
    size = (abs(cents) * denominator * 2 + numerator) // (2 * numerator)
    return -size if cents < 0 else size


def convert_many(cents: Sequence[int] | np.ndarray | pd.Series, rates: Sequence[Decimal]) -> np.ndarray:
    """`convert_cents` of every pair, as int64: exact integer arithmetic per distinct rate (a day has one)."""
    amounts = np.asarray(cents, dtype="int64")
    result = np.zeros(len(amounts), dtype="int64")
    keys = np.asarray([str(rate) for rate in rates], dtype=object)
    for key in pd.unique(keys):
        chosen = keys == key
        numerator, denominator = _ratio(Decimal(key))
        products = amounts[chosen].astype(object) * numerator  # Python integers: no overflow, no float
        size = np.abs(products)
        rounded = (size * 2 + denominator) // (2 * denominator)  # half away from zero, as ROUND_HALF_UP
        result[chosen] = np.where(products < 0, -rounded, rounded).astype("int64")
    return result


def allocate(totals: pd.Series, parts: pd.Series, groups: pd.Series) -> np.ndarray:
    """Split each group's `totals` (one value per row, equal within the group) in proportion to its
    rows' `parts`, in integer cents that add up to the total exactly (cumulative rounding, half up)."""
    frame = pd.DataFrame({"group": np.asarray(groups), "total": np.asarray(totals, dtype="int64"),
                          "part": np.asarray(parts, dtype="int64")})
    running = frame.groupby("group", sort=False)["part"].cumsum().to_numpy()
    whole = frame.groupby("group", sort=False)["part"].transform("sum").to_numpy()
    # total x running / whole, rounded half away from zero, on Python integers (no overflow, no float)
    product = frame["total"].to_numpy().astype(object) * running.astype(object)
    safe_whole = np.where(whole == 0, 1, whole).astype(object)
    size = (np.abs(product) * 2 + safe_whole) // (2 * safe_whole)
    upto = np.where(whole == 0, frame["total"].to_numpy(), np.where(product < 0, -size, size)).astype("int64")
    before = pd.Series(upto).groupby(frame["group"].to_numpy(), sort=False).shift(1, fill_value=0)
    return (upto - before.to_numpy(dtype="int64")).astype("int64")


def rate_text(rates: Iterable[Decimal | None]) -> list[str]:
    """Rates as the text stored beside amounts ('' for none): exact, as published."""
    return ["" if rate is None else str(rate) for rate in rates]


def exchange_of_log(applications_json: Iterable[str]) -> pd.DataFrame:
    """paytrace_amount_cents (NA when not recorded) and fx_rate ('' when not recorded) of each
    posting-log row, from the application lines the log recorded before the write."""
    amounts, rates = [], []
    for text in applications_json:
        lines = json.loads(text or "[]")
        recorded = [line for line in lines if line.get(PAYTRACE_AMOUNT) is not None]
        amounts.append(sum(int(line[PAYTRACE_AMOUNT]) for line in recorded) if recorded and len(recorded) == len(lines)
                       else pd.NA)
        rates.append(next((str(line[FX_RATE]) for line in lines if line.get(FX_RATE)), ""))
    return pd.DataFrame({PAYTRACE_AMOUNT: pd.array(amounts, dtype="Int64"), FX_RATE: pd.Series(rates, dtype=object)})


@dataclass(frozen=True)
class SaleExchange:
    """A sale's receipt as Sage holds it under a conversion: its rate (None: posted before the conversion
    or found in Sage, none recorded), its amount in Sage's currency and in PayTrace's."""

    rate: Decimal | None
    sage_cents: int
    paytrace_cents: int

    def book_cents(self, cents: int) -> int:
        """`cents` (PayTrace's) of this sale in Sage's currency: proportional, never above the receipt."""
        assert self.rate is not None
        if cents == self.paytrace_cents:
            return self.sage_cents
        return min(convert_cents(cents, self.rate), self.sage_cents)


__all__ = [
    "FX_RATE",
    "MISSING_EXCHANGE_RATE",
    "PAYTRACE_AMOUNT",
    "RateFileError",
    "RateTable",
    "SaleExchange",
    "allocate",
    "convert_back_cents",
    "convert_cents",
    "convert_many",
    "exchange_of_log",
    "parse_rate",
    "parse_rates",
    "rate_text",
]

