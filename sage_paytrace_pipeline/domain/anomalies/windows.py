"""Sliding time windows per group, column-wise: for each row, where its window starts.

Rows are sorted by (group, time) once; a group and a time fold into one int64 (group times the
data's span plus the window, plus seconds since the first row), so one `searchsorted` answers
every row's "first row at most `window` seconds earlier in the same group".
"""

from __future__ import annotations

import numpy as np


def order(group: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return np.lexsort((seconds, group))


def window_starts(group: np.ndarray, seconds: np.ndarray, window_seconds: int) -> np.ndarray:
    """For rows already sorted by (group, seconds): the first position of each row's window."""
    if len(group) == 0:
        return np.zeros(0, dtype="int64")
    relative = seconds - seconds.min()
    stride = int(relative.max()) + int(window_seconds) + 1
    folded = group.astype("int64") * stride + relative
    return np.searchsorted(folded, folded - int(window_seconds), side="left").astype("int64")


def covered(starts: np.ndarray, ends: np.ndarray, size: int) -> np.ndarray:
    """Positions inside any [start, end] interval (a difference array, no loop)."""
    marks = np.zeros(size + 1, dtype="int64")
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends + 1, -1)
    return np.cumsum(marks[:-1]) > 0


def seconds_of(nanoseconds: np.ndarray) -> np.ndarray:
    return nanoseconds // 1_000_000_000
