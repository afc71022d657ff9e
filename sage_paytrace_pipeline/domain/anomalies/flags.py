"""The flag frame: one row per (rule, transaction) an anomaly rule raised.

Columns: ``rule``, ``severity`` (error / warning / info), ``transaction_id`` (Int64; a batch flag
has none), ``batch_number`` (Int64, fee-band flags), ``score`` (float, larger = stranger; the rule
says what it measures), ``related_ids`` (the other transactions that make the evidence, comma
separated), ``amount_cents`` (Int64), ``occurred_at`` (UTC), ``evidence`` (the facts, terse) and
``explanation`` (a sentence a clerk understands). Built column-wise by each rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.text import Text, text_column

FLAG_COLUMNS = ("rule", "severity", "transaction_id", "batch_number", "score", "related_ids", "amount_cents",
                "occurred_at", "evidence", "explanation")
_DTYPES = {"rule": object, "severity": object, "transaction_id": "Int64", "batch_number": "Int64",
           "score": "float64", "related_ids": object, "amount_cents": "Int64", "occurred_at": "datetime64[ns, UTC]",
           "evidence": object, "explanation": object}


def flag_rows(rule: str, severity: str | np.ndarray, *, transaction_id, score, amount_cents, occurred_at,
              related_ids: Text, evidence: Text, explanation: Text, batch_number=None) -> pd.DataFrame:
    """Flags of one rule; every argument is a column aligned to the flagged rows (or one value)."""
    count = len(np.asarray(score))
    frame = pd.DataFrame({
        "rule": np.full(count, rule, dtype=object),
        "severity": text_column(severity, count) if not isinstance(severity, str) else np.full(count, severity, object),
        "transaction_id": pd.array(_column(transaction_id, count), dtype="Int64"),
        "batch_number": pd.array(_column(batch_number, count), dtype="Int64"),
        "score": np.asarray(score, dtype="float64"),
        "related_ids": text_column(related_ids, count),
        "amount_cents": pd.array(_column(amount_cents, count), dtype="Int64"),
        "occurred_at": pd.to_datetime(pd.Series(_column(occurred_at, count)), utc=True).to_numpy(),
        "evidence": text_column(evidence, count),
        "explanation": text_column(explanation, count),
    })
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def _column(values, count: int) -> np.ndarray:
    if values is None:
        return np.full(count, None, dtype=object)
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object) if np.ndim(values) else np.full(count, values, dtype=object)


_EMPTY = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in _DTYPES.items()})


def empty_flags() -> pd.DataFrame:
    # a copy of one typed frame: most rules find nothing on most days, and building the ten typed
    # columns again each time was a good part of a day's cost
    return _EMPTY.copy()


def concat_flags(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_flags()
    return pd.concat(frames, ignore_index=True).astype(_DTYPES)


def money(cents) -> np.ndarray:
    """Cents as "$1,234.56" text, column-wise."""
    values = np.asarray(cents, dtype="int64")
    sign = np.where(values < 0, "-", "")
    absolute = np.abs(values)
    dollars = pd.Series(absolute // 100).map("{:,}".format).to_numpy(dtype=object)
    return (sign + "$" + dollars.astype(str) + "." + pd.Series(absolute % 100).astype(str).str.zfill(2).to_numpy(
        dtype=str)).astype(object)
