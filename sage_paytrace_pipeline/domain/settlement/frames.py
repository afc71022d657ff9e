"""Input contracts of settlement reconciliation, its exception frames, and column-wise message text.

Each input frame is checked once (`normalize_*`): a missing column is named, money must be whole
cents, keys must be unique. After that the core works on typed columns only: money int64 cents,
dates datetime64 (midnight, the business day), text upper-cased where it is a code.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.text import Text, text_column

BATCH_COLUMNS = ("batch_number", "closed_date", "brand", "sales_count", "sales_cents", "refund_count",
                 "refund_cents")
TRANSACTION_COLUMNS = ("transaction_id", "batch_number", "transaction_type", "card_brand", "amount_cents", "status")
RECEIPT_COLUMNS = ("transaction_id", "amount_cents", "payment_type", "state")
DEPOSIT_COLUMNS = ("source_file", "source_line", "account_id", "posted_date", "amount_cents", "type_code",
                   "bank_reference", "description")

BRAND_ALIASES = {
    "": "UNKNOWN",
    "AMERICAN EXPRESS": "AMEX",
    "AMERICANEXPRESS": "AMEX",
    "AMEX": "AMEX",
    "AX": "AMEX",
    "MC": "MASTERCARD",
    "MASTER CARD": "MASTERCARD",
    "DISC": "DISCOVER",
    "DINERS CLUB": "DINERS",
    "NONE": "UNKNOWN",
    "NAN": "UNKNOWN",
}


class SettlementInputError(ValueError):
    """An input frame that does not meet its contract (missing column, bad type, duplicate key)."""


# ------------------------------------------------------------------------------------ checking


def require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SettlementInputError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise SettlementInputError(
            f"{name} is missing column(s) {', '.join(missing)}; it needs {', '.join(columns)}")


def _cents(series: pd.Series, name: str, *, allow_negative: bool = True) -> np.ndarray:
    if _plain_integers(series):  # already cents (the usual case): only the sign to check
        return _signed(series.to_numpy().astype("int64"), name, allow_negative)
    if series.isna().any():
        raise SettlementInputError(f"{name}: {int(series.isna().sum())} empty value(s); money is required")
    if pd.api.types.is_bool_dtype(series):
        raise SettlementInputError(f"{name}: booleans are not cents")
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64")
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            raise SettlementInputError(f"{name}: amounts must be whole integer cents")
        return values.astype("int64")
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy()
    except (TypeError, ValueError):
        raise SettlementInputError(f"{name}: not integer cents") from None
    if values.dtype.kind == "f":
        return _cents(pd.Series(values), name, allow_negative=allow_negative)
    return _signed(values.astype("int64"), name, allow_negative)


def _signed(values: np.ndarray, name: str, allow_negative: bool) -> np.ndarray:
    if not allow_negative and (values < 0).any():
        raise SettlementInputError(f"{name}: {int((values < 0).sum())} negative value(s); the contract is positive")
    return values


def _plain_integers(series: pd.Series) -> bool:
    """A numpy integer column (never empty cells, never booleans): nothing to parse."""
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"


def _int(series: pd.Series, name: str, *, nullable: bool = False) -> pd.Series:
    if _plain_integers(series):
        return series.astype("Int64" if nullable else "int64")
    try:
        values = pd.to_numeric(series, errors="raise")
    except (TypeError, ValueError):
        raise SettlementInputError(f"{name}: not an integer column") from None
    if values.isna().any() and not nullable:
        raise SettlementInputError(f"{name}: {int(values.isna().sum())} empty value(s)")
    typed = values.astype("Int64")
    return typed if nullable else typed.astype("int64")


def _dates(series: pd.Series, name: str) -> pd.Series:
    values = _optional_dates(series, name)
    if values.isna().any():
        raise SettlementInputError(f"{name}: {int(values.isna().sum())} empty date(s)")
    return values


def _per_unique(series: pd.Series, clean) -> pd.Series:
    """`clean` applied once per distinct value (codes, types, brands repeat a million times)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = np.array([clean(value) for value in uniques] + [clean(None)], dtype=object)
    return pd.Series(cleaned[codes], index=series.index, dtype=object)  # code -1 (empty) takes the last


def _missing(value: object) -> bool:
    """An empty cell as pandas hands it over: None, NA, or a float NaN."""
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _text(series: pd.Series, *, upper: bool = False) -> pd.Series:
    def clean(value: object) -> str:
        text = "" if _missing(value) else str(value).strip()
        return text.upper() if upper else text

    return _per_unique(series, clean)


def normalize_brand_text(value: object) -> str:
    text = "" if _missing(value) else " ".join(str(value).split()).upper()
    return BRAND_ALIASES.get(text, text)


def normalize_brands(series: pd.Series) -> pd.Series:
    return _per_unique(series, normalize_brand_text)


def _duplicates(frame: pd.DataFrame, keys: list[str], name: str) -> None:
    duplicated = frame.duplicated(subset=keys, keep=False)
    if duplicated.any():
        sample = frame.loc[duplicated, keys].drop_duplicates().head(5).astype(str).agg("/".join, axis=1)
        raise SettlementInputError(
            f"{name}: {int(duplicated.sum())} rows share a key ({', '.join(keys)}), e.g. {', '.join(sample)}; "
            "the contract is one row per key")


# ----------------------------------------------------------------------------------- normalizers


def normalize_batches(batches: pd.DataFrame) -> pd.DataFrame:
    require_columns(batches, "batches", BATCH_COLUMNS)
    frame = pd.DataFrame({
        "batch_number": _int(batches["batch_number"], "batches.batch_number"),
        "closed_date": _dates(batches["closed_date"], "batches.closed_date"),
        "brand": normalize_brands(batches["brand"]),
    })
    for column in ("sales_count", "sales_cents", "refund_count", "refund_cents"):
        frame[column] = _cents(batches[column], f"batches.{column}", allow_negative=False)
    frame = frame.reset_index(drop=True)
    _duplicates(frame, ["batch_number", "brand"], "batches")
    dates = frame.groupby("batch_number")["closed_date"].nunique()
    if (dates > 1).any():
        numbers = ", ".join(map(str, dates.index[dates > 1][:5]))
        raise SettlementInputError(
            f"batches: batch number(s) {numbers} have more than one closed_date; PayTrace batch numbers "
            "wrap, so pass a date range that holds each number once")
    return frame


def normalize_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    require_columns(transactions, "batch_transactions", TRANSACTION_COLUMNS)
    frame = pd.DataFrame({
        "transaction_id": _int(transactions["transaction_id"], "batch_transactions.transaction_id"),
        "batch_number": _int(transactions["batch_number"], "batch_transactions.batch_number", nullable=True),
        "transaction_type": _text(transactions["transaction_type"], upper=True),
        "card_brand": normalize_brands(transactions["card_brand"]),
        "amount_cents": _cents(transactions["amount_cents"], "batch_transactions.amount_cents",
                               allow_negative=False),
        "status": _text(transactions["status"], upper=True),
    })
    if "created_date" in transactions:  # optional: the business day each was created (empty: unknown)
        frame["created_date"] = _optional_dates(transactions["created_date"], "batch_transactions.created_date")
    frame = frame.reset_index(drop=True)
    _duplicates(frame, ["transaction_id"], "batch_transactions")
    return frame


def _optional_dates(series: pd.Series, name: str) -> pd.Series:
    """Dates (midnight, no zone) where given, NaT where empty."""
    try:
        values = pd.to_datetime(series)
    except (TypeError, ValueError) as exc:
        raise SettlementInputError(f"{name}: not dates ({exc})") from None
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values.dt.normalize().astype("datetime64[ns]")


def normalize_receipts(receipts: pd.DataFrame) -> pd.DataFrame:
    require_columns(receipts, "posted_receipts", RECEIPT_COLUMNS)
    frame = pd.DataFrame({
        "transaction_id": _int(receipts["transaction_id"], "posted_receipts.transaction_id"),
        "amount_cents": _cents(receipts["amount_cents"], "posted_receipts.amount_cents"),
        "payment_type": _text(receipts["payment_type"], upper=True),
        "state": _text(receipts["state"]).str.lower(),
    }).reset_index(drop=True)
    _duplicates(frame, ["transaction_id"], "posted_receipts")
    return frame


def normalize_deposits(deposits: pd.DataFrame) -> pd.DataFrame:
    require_columns(deposits, "deposits", DEPOSIT_COLUMNS)
    frame = pd.DataFrame({
        "source_file": _text(deposits["source_file"]),
        "source_line": _int(deposits["source_line"], "deposits.source_line"),
        "account_id": _text(deposits["account_id"]),
        "posted_date": _dates(deposits["posted_date"], "deposits.posted_date"),
        "amount_cents": _cents(deposits["amount_cents"], "deposits.amount_cents"),
        "type_code": _text(deposits["type_code"], upper=True),
        "bank_reference": _text(deposits["bank_reference"]),
        "description": _text(deposits["description"]),
    }).reset_index(drop=True)
    _duplicates(frame, ["source_file", "source_line"], "deposits")
    return frame


# ------------------------------------------------------------------------------------ exceptions

BATCH_EXCEPTIONS = ExceptionFrames("batch_number")
EXCEPTION_COLUMNS = BATCH_EXCEPTIONS.columns

empty_exceptions = BATCH_EXCEPTIONS.empty
exception_rows = BATCH_EXCEPTIONS.rows
concat_exceptions = BATCH_EXCEPTIONS.concat
typed_exceptions = BATCH_EXCEPTIONS.typed


# ------------------------------------------------------------------------------------------ text

def join_text(*parts: Text) -> list[str]:
    """"".join of each row's parts: a str repeats on every row, any other part is a column of str."""
    columns = [repeat(part) if isinstance(part, str) else text_column(part, len(part)) for part in parts]
    return list(map("".join, zip(*columns)))


def numbers_text(values: Sequence | np.ndarray | pd.Series) -> list[str]:
    return list(map(str, np.asarray(values).tolist()))


def dates_text(values: pd.Series | np.ndarray) -> list[str]:
    return list(pd.DatetimeIndex(values).strftime("%Y-%m-%d"))


def limited_list(ids: Sequence[str], limit: int = 20) -> str:
    """', '.join of at most `limit` ids, then how many more."""
    if len(ids) <= limit:
        return ", ".join(ids)
    return f"{', '.join(ids[:limit])} and {len(ids) - limit} more"
