"""Money as `Decimal` dollars (or integer cents) from parsing to posting; never float.

One set of conversions, each named for its direction, and one rounding rule (`round_to_cent`):

    parse_money       outside value (wire text, int, Decimal) -> Decimal dollars, strictly checked
    decimal_to_cents  Decimal dollars -> int cents
    cents_to_decimal  int cents -> Decimal dollars
    format_decimal    Decimal dollars -> "12.30" (the wire and file form)
    format_cents      a column of int cents -> "$12.30" / "-$12.30" texts (messages, vectorized)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

CENT = Decimal("0.01")
# The largest amount Sage 100's narrowest money columns (12.2, e.g. TransactionAmt) hold. Anything
# larger is no real payment, and beyond ~26 digits `quantize` itself would fail.
MAX_MONEY = Decimal("9999999999.99")

_SIGNED_DOLLAR = np.array(["$", "-$"], dtype=object)
_CENT_DIGITS = np.array([f".{cents:02d}" for cents in range(100)], dtype=object)


class MoneyError(ValueError):
    """An amount that cannot be money: not a number, not finite, or finer than a cent."""


def round_to_cent(amount: Decimal) -> Decimal:
    """The project's one rounding rule: to the cent, halves away from zero (ROUND_HALF_UP)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(value: object, *, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """Parse a wire amount (str, int or Decimal) into exact dollars with two decimals.

    Floats are refused: by the time a float exists the cent may already be wrong. JSON should be
    decoded with ``parse_float=Decimal`` so that numbers arrive here as `Decimal`.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount like 12.34, got {value!r}")
    if isinstance(value, float):
        raise MoneyError(f"{field}: float amounts are not accepted (got {value!r}); pass a str or Decimal")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MoneyError(f"{field}: {str(value)[:40]!r} is not a number; use dollars like 12.34") from None
    if not amount.is_finite():
        raise MoneyError(f"{field}: {str(value)[:40]!r} is not a finite amount")
    if abs(amount) > MAX_MONEY:
        raise MoneyError(f"{field}: {str(value)[:40]} is larger than {MAX_MONEY:,}, the most a Sage 100 amount holds")
    exact = round_to_cent(amount)
    if amount != exact:
        raise MoneyError(f"{field}: {value} has more than two decimals; amounts are whole cents")
    if amount < 0 and not allow_negative:
        raise MoneyError(f"{field}: {value} is negative; send a positive amount")
    return exact


def decimal_to_cents(amount: Decimal) -> int:
    """Exact integer cents of a dollar amount (rounded to the cent first)."""
    return int((round_to_cent(amount) * 100).to_integral_value())


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as dollars with two decimals."""
    return round_to_cent(Decimal(cents) / 100)


def format_decimal(amount: Decimal) -> str:
    """Plain dollars with two decimals ("12.30"): what PayTrace requests and Sage import files carry."""
    return f"{round_to_cent(amount):.2f}"


def format_cents(cents: Sequence[int] | np.ndarray | pd.Series) -> list[str]:
    """Integer cents as '$1234.56' / '-$12.34', one text per value (exact: integer arithmetic, no floats)."""
    values = np.asarray(cents, dtype="int64")
    if len(values) > 1000:  # amounts repeat: each distinct amount is written once, then shared
        code, distinct = pd.factorize(values)
        if len(distinct) < len(values) * 0.9:
            return np.asarray(format_cents(distinct), dtype=object)[code].tolist()
    size = np.abs(values)
    signs = _SIGNED_DOLLAR[(values < 0).astype("int64")].tolist()
    return [f"{sign}{dollars}{digits}"
            for sign, dollars, digits in zip(signs, (size // 100).tolist(), _CENT_DIGITS[size % 100].tolist())]


# An amount as statements and reports print it: thousands separators, a dollar sign, a sign on either
# side of it, or accounting parentheses for a negative.
_AMOUNT_TEXT = re.compile(r"^(?P<sign>[-+]?)\$?(?P<sign2>[-+]?)(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d*))?$")


def parse_amount_cents(text: str) -> int:
    """``1,234.56``, ``(12.00)``, ``-12.00``, ``$12.00`` as exact integer cents; ValueError saying what is
    allowed otherwise (more than two decimals, more than a Sage 100 amount holds, not an amount)."""
    shown = repr(text.strip()[:40])
    value = text.strip().replace(" ", "")
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1]
    match = _AMOUNT_TEXT.match(value)
    if not match or (match["sign"] and match["sign2"]):
        raise ValueError(f"{shown} is not an amount like 1,234.56, -12.00, (12.00) or $12.00")
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise ValueError(f"{shown} has more than two decimals; amounts are whole cents")
    cents = int(match["whole"].replace(",", "")) * 100 + int(frac.ljust(2, "0"))
    if cents > decimal_to_cents(MAX_MONEY):
        raise ValueError(f"{shown} is larger than {MAX_MONEY:,}, the most a Sage 100 amount holds")
    negative ^= "-" in (match["sign"] + match["sign2"])
    return -cents if negative else cents
