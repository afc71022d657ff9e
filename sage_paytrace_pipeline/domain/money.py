"""Money as `Decimal` dollars (or integer cents) from parsing to posting; never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# The largest amount Sage 100's narrowest money columns (12.2, e.g. TransactionAmt) hold. Anything
# larger is no real payment, and beyond ~26 digits `quantize` itself would fail.
MAX_MONEY = Decimal("9999999999.99")


class MoneyError(ValueError):
    """An amount that cannot be money: not a number, not finite, or finer than a cent."""


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
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise MoneyError(f"{field}: {value} has more than two decimals; amounts are whole cents")
    if amount < 0 and not allow_negative:
        raise MoneyError(f"{field}: {value} is negative; send a positive amount")
    return amount.quantize(CENT)


def to_cents(amount: Decimal) -> int:
    """Exact integer cents of a two-decimal amount."""
    return int((amount.quantize(CENT) * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_money(amount: Decimal) -> str:
    """The wire form PayTrace accepts in requests: plain dollars with two decimals."""
    return f"{amount.quantize(CENT):.2f}"
