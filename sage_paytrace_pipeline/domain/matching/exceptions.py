"""The exception frame contract: one row per problem, saying what is wrong and what fixes it.

Built column-wise from Series (pandas string concatenation), so thousands of exceptions cost one
vectorized pass, not a Python f-string per row.
"""

from __future__ import annotations

import pandas as pd

EXCEPTION_COLUMNS = ("kind", "severity", "transaction_id", "source_ids", "problem", "action")
SEVERITIES = ("error", "warning", "info")

Text = pd.Series | str


def empty_exceptions() -> pd.DataFrame:
    return _typed(pd.DataFrame({column: [] for column in EXCEPTION_COLUMNS}))


def make_exceptions(
    kind: str, severity: str, transaction_id: pd.Series, *, source_ids: Text, problem: Text, action: Text
) -> pd.DataFrame:
    """Exceptions of one kind for each transaction id; text arguments are Series aligned to it, or str."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
    index = transaction_id.index
    frame = pd.DataFrame(
        {
            "kind": kind,
            "severity": severity,
            "transaction_id": transaction_id,
            "source_ids": _aligned(source_ids, index),
            "problem": _aligned(problem, index),
            "action": _aligned(action, index),
        },
        index=index,
    )
    return _typed(frame.reset_index(drop=True))


def concat_exceptions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_exceptions()
    return _typed(pd.concat(frames, ignore_index=True))


def _aligned(value: Text, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.astype(str).reindex(index)
    return pd.Series(value, index=index, dtype=object)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.loc[:, list(EXCEPTION_COLUMNS)]
    return frame.astype({"transaction_id": "Int64", **{c: object for c in EXCEPTION_COLUMNS if c != "transaction_id"}})


def cents_text(cents: pd.Series) -> pd.Series:
    """Integer cents as '$1234.56' for messages (exact: integer arithmetic, no floats)."""
    # one f-string per value beats five pandas string operations over the column
    text = [f"-${-c // 100}.{-c % 100:02d}" if c < 0 else f"${c // 100}.{c % 100:02d}"
            for c in cents.astype("int64").tolist()]
    return pd.Series(text, index=cents.index, dtype=object)
