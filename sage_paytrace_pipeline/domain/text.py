"""Column-wise message text shared by the flows: one column of str per message part.

A part is one str (the same on every row) or a column of str aligned to the rows; constants are
shared objects, never copied per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

Text: TypeAlias = str | Sequence[str] | np.ndarray | pd.Series


def text_column(text: Text, rows: int) -> np.ndarray:
    """`text` as an object array of `rows` entries: a str repeated, or a column checked for its length."""
    if isinstance(text, str):
        return repeated(text, rows)
    values = text.to_numpy(dtype=object) if isinstance(text, pd.Series) else np.asarray(text, dtype=object)
    if len(values) != rows:
        raise ValueError(f"a text column has {len(values)} rows, expected {rows}")
    return values


def repeated(text: str, rows: int) -> np.ndarray:
    """`rows` references to the one str `text` (np.full would make a new str per row of an object array)."""
    column = np.empty(rows, dtype=object)
    column.fill(text)
    return column


def choose(condition: Sequence | np.ndarray | pd.Series, when_true: str, when_false: str) -> np.ndarray:
    """One of two constant texts per row (the two str objects are shared, not copied per row)."""
    return np.array([when_false, when_true], dtype=object)[np.asarray(condition, dtype=bool).astype("int64")]
