"""Who a transaction is about, as integer keys, and which transactions moved money.

PayTrace's export has no card number (only brand, BIN, last 4 and expiry), so a card is its
fingerprint (brand, BIN, last 4, month, year); a customer is the vault customer id, else the
e-mail. Keys are int64 codes (-1: unknown, never matches); codes are comparable within one frame
only, so `prepare` computes them once on everything the rules look at (the day and its history)
and the rules slice that frame. Text is cleaned once per distinct value, never per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SALE_TYPES = ("SALE", "AUTHORIZATION", "CAPTURE", "FORCE")
# the columns the rules read: the rest of the export is not copied through every step
USED = ("business_date", "transaction_id", "transaction_type", "status", "amount_cents", "created_at", "customer_id",
        "email", "card_brand", "card_bin", "card_last4", "card_expiration_month", "card_expiration_year",
        "invoice_id", "description")
MONEY_STATUSES = ("PENDING", "SETTLED")
_PREPARED = ("_card", "_customer", "_sale", "_refund", "_money", "_declined")
# text some rules read, kept when prepared together (a range run's days); else cleaned where a rule reads it
_TEXTS = ("_invoice", "_last4")
PREPARED = (*_PREPARED, *_TEXTS)
_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def text(frame: pd.DataFrame, column: str, clean=None) -> pd.Series:
    """The column as stripped str ("" when missing), `clean` applied, each distinct value cleaned once."""
    codes, distinct = _cleaned(frame, column, clean)
    return pd.Series(distinct[codes], index=frame.index, dtype=object)


def _cleaned(frame: pd.DataFrame, column: str, clean=None) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, cleaned distinct values with "" last); missing rows point at the last entry."""
    if column not in frame:
        return np.full(len(frame), 0, dtype="int64"), np.array([""], dtype=object)
    codes, distinct = pd.factorize(frame[column].to_numpy(dtype=object), use_na_sentinel=True)
    cleaned = pd.Series(distinct, dtype="string").fillna("").str.strip()
    if clean is not None:
        cleaned = clean(cleaned)
    return codes, np.append(cleaned.to_numpy(dtype=object), "")


def _code(frame: pd.DataFrame, column: str, clean=None) -> np.ndarray:
    """An int code per row for the cleaned value (equal values, equal codes); -1 when empty."""
    codes, distinct = _cleaned(frame, column, clean)
    recoded = pd.factorize(distinct)[0].astype("int64")
    recoded[distinct == ""] = -1
    return recoded[codes]  # a missing row (-1) takes the last entry, ""


def _combine(*codes: np.ndarray) -> np.ndarray:
    """One code per distinct tuple of codes (-1 if the first part is unknown)."""
    combined = np.zeros(len(codes[0]), dtype="int64")
    for part in codes:
        combined = pd.factorize(combined * (int(part.max(initial=0)) + 2) + (part + 1))[0].astype("int64")
    return np.where(codes[0] >= 0, combined, -1)


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its keys and masks computed once (columns starting with _)."""
    if all(column in frame for column in _PREPARED):
        return frame
    upper = lambda s: s.str.upper()  # noqa: E731 - a cleaning step, named for reading
    last4 = _code(frame, "card_last4")
    card = _combine(last4, _code(frame, "card_brand", upper), _code(frame, "card_bin"),
                    _code(frame, "card_expiration_month"), _code(frame, "card_expiration_year"))
    vault, email = _code(frame, "customer_id"), _code(frame, "email", lambda s: s.str.lower())
    customer = np.where(vault >= 0, vault, np.where(email >= 0, int(vault.max(initial=-1)) + 1 + email, -1))
    kind = text(frame, "transaction_type", upper)
    status = text(frame, "status", upper)
    return frame.assign(_card=card, _customer=customer, _sale=kind.isin(SALE_TYPES).to_numpy(),
                        _refund=(kind == "REFUND").to_numpy(), _money=status.isin(MONEY_STATUSES).to_numpy(),
                        _declined=(status == "DECLINED").to_numpy())


def prepared_together(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Each frame with its keys and masks computed once over all of them (codes agree across the frames), and
    its times in one dtype (`with_utc_times`): a range run prepares every day and the history the days share
    once, and each day's rules slice them."""
    both = prepare(pd.concat([frame[[column for column in USED if column in frame]] for frame in frames],
                             ignore_index=True))
    both = both.assign(_invoice=invoice_text(both).to_numpy(), _last4=last4_text(both).to_numpy())
    keys, start = [], 0
    for frame in frames:
        part = both.iloc[start:start + len(frame)]
        keys.append(with_utc_times(frame.assign(**{column: part[column].to_numpy() for column in PREPARED})))
        start += len(frame)
    return keys


def card_key(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_card"].to_numpy()


def customer_key(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_customer"].to_numpy()


def is_sale(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_sale"].to_numpy(dtype=bool)


def is_refund(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_refund"].to_numpy(dtype=bool)


def moved_money(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_money"].to_numpy(dtype=bool)


def is_declined(frame: pd.DataFrame) -> np.ndarray:
    return prepare(frame)["_declined"].to_numpy(dtype=bool)


def invoice_text(frame: pd.DataFrame) -> pd.Series:
    """invoice_id as `text` upper-cases it ("" when missing); cleaned once when prepared together."""
    if "_invoice" in frame:
        return pd.Series(frame["_invoice"].to_numpy(), index=frame.index, dtype=object)
    return text(frame, "invoice_id", lambda s: s.str.upper())


def last4_text(frame: pd.DataFrame) -> pd.Series:
    """card_last4 as `text` gives it ("" when missing); cleaned once when prepared together."""
    if "_last4" in frame:
        return pd.Series(frame["_last4"].to_numpy(), index=frame.index, dtype=object)
    return text(frame, "card_last4")


def reference(frame: pd.DataFrame) -> pd.Series:
    """The payer's reference: invoice_id, else the description, upper-cased with blanks folded."""
    invoice = text(frame, "invoice_id", lambda s: s.str.upper())
    description = text(frame, "description", lambda s: s.str.upper().str.split().str.join(" ").fillna(""))
    return invoice.where(invoice != "", description)


def utc(times: pd.Series) -> pd.Series:
    """Times as tz-aware UTC; a column that already is one is not parsed again (to_datetime walks it)."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert("UTC")
    return pd.to_datetime(times, utc=True)


def with_utc_times(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with created_at as datetime64[ns, UTC]. The day's export and the warehouse's history spell the
    zone and unit differently, and a concat of the two is an object column every rule would parse again."""
    if "created_at" not in frame or frame["created_at"].dtype == _UTC_NS:
        return frame
    return frame.assign(created_at=utc(frame["created_at"]).dt.as_unit("ns"))


def timestamps(frame: pd.DataFrame) -> np.ndarray:
    """created_at as int64 nanoseconds UTC (NaT -> minimum int, sorts first and never falls in a window)."""
    return utc(frame["created_at"]).dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view("int64")
