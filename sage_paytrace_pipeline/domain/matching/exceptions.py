"""The exception frame contract: one row per problem, saying what is wrong and what fixes it.

Built column-wise: the matching stages join each message's parts once per row (`text.py`) and
hand the finished columns to `exception_rows`; `make_exceptions` also takes pandas Series or str.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

EXCEPTION_COLUMNS = ("kind", "severity", "transaction_id", "source_ids", "problem", "action")
SEVERITIES = ("error", "warning", "info")

Text = pd.Series | str
Column = Sequence[str] | np.ndarray


def empty_exceptions() -> pd.DataFrame:
    return _typed(pd.DataFrame({column: [] for column in EXCEPTION_COLUMNS}))


def make_exceptions(
    kind: str, severity: str, transaction_id: pd.Series, *, source_ids: Text, problem: Text, action: Text
) -> pd.DataFrame:
    """Exceptions of one kind for each transaction id; text arguments are Series aligned to it, or str."""
    index = transaction_id.index
    return exception_rows(kind, severity, transaction_id.to_numpy(), source_ids=_aligned(source_ids, index),
                          problem=_aligned(problem, index), action=_aligned(action, index))


def exception_rows(
    kind: str, severity: str, transaction_id: np.ndarray, *, source_ids: Column, problem: Column, action: Column
) -> pd.DataFrame:
    """The exception frame itself, from columns of finished text aligned to the transaction ids."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
    rows = pd.RangeIndex(len(transaction_id))
    return pd.DataFrame({
        "kind": pd.Series(kind, index=rows, dtype=object),
        "severity": pd.Series(severity, index=rows, dtype=object),
        "transaction_id": pd.array(transaction_id, dtype="Int64"),
        "source_ids": np.asarray(source_ids, dtype=object), "problem": np.asarray(problem, dtype=object),
        "action": np.asarray(action, dtype=object),
    }, index=rows, copy=False)


def concat_exceptions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_exceptions()
    return _typed(pd.concat(frames, ignore_index=True))


def _aligned(value: Text, index: pd.Index) -> np.ndarray:
    if isinstance(value, pd.Series):
        return value.astype(str).reindex(index).to_numpy(dtype=object)
    return np.full(len(index), value, dtype=object)


_DTYPES = {column: ("Int64" if column == "transaction_id" else object) for column in EXCEPTION_COLUMNS}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    if list(frame.columns) == list(EXCEPTION_COLUMNS) and all(frame[c].dtype == t for c, t in _DTYPES.items()):
        return frame  # already the contract (frames from exception_rows): no copy of a large frame
    return frame.loc[:, list(EXCEPTION_COLUMNS)].astype(_DTYPES)
