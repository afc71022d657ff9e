"""The exception frame contract of every flow: one row per problem, saying what is wrong and what fixes it.

Columns, in this order: ``kind``, ``severity``, the flow's key, ``source_ids``, ``problem``, ``action``.
The key is the nullable Int64 id the problem is about: the PayTrace ``transaction_id`` in receivables,
the ``batch_number`` in settlement. Every other column is object (str). The warehouse tables are made
from these frames, so the columns, their order and their dtypes are the contract.

Built column-wise: the stages join each message's parts once per row and hand the finished columns
to `ExceptionFrames.rows`; a text argument may also be one str for every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.text import Text, repeated, text_column

SEVERITIES = ("error", "warning", "info")
_EMPTY_FRAMES: dict[str, pd.DataFrame] = {}  # per key column: the empty frame `ExceptionFrames` copies

Keys: TypeAlias = Sequence | np.ndarray | pd.Series


@dataclass(frozen=True)
class ExceptionFrames:
    """Builds exception frames whose key column is `key` (see the module docstring)."""

    key: str

    @property
    def columns(self) -> tuple[str, ...]:
        return ("kind", "severity", self.key, "source_ids", "problem", "action")

    @property
    def dtypes(self) -> dict[str, str | type]:
        return {column: ("Int64" if column == self.key else object) for column in self.columns}

    def empty(self) -> pd.DataFrame:
        return self.rows("none", "info", None, size=0, source_ids=[], problem=[], action=[])

    def _no_rows(self) -> pd.DataFrame:
        """A new empty contract frame: a copy of one built once (building one costs as much as a full one,
        and the stages make several empty ones a run's every day)."""
        if self.key not in _EMPTY_FRAMES:
            _EMPTY_FRAMES[self.key] = self._built("none", "info", None, 0, source_ids=[], problem=[], action=[])
        return _EMPTY_FRAMES[self.key].copy()

    def rows(self, kind: str, severity: str, keys: Keys | None, *, source_ids: Text, problem: Text,
             action: Text, size: int | None = None) -> pd.DataFrame:
        """One exception per key (or `size` exceptions without a key when `keys` is None); text
        arguments are columns aligned to the keys, or one str for all rows."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
        count = int(size or 0) if keys is None else len(keys)
        if count == 0:
            for text in (source_ids, problem, action):
                text_column(text, 0)  # a column of the wrong length still fails
            return self._no_rows()
        return self._built(kind, severity, keys, count, source_ids=source_ids, problem=problem, action=action)

    def _built(self, kind: str, severity: str, keys: Keys | None, count: int, *, source_ids: Text, problem: Text,
               action: Text) -> pd.DataFrame:
        if keys is None:
            key_column = pd.array(np.zeros(count, dtype="int64"), dtype="Int64")
            key_column[:] = pd.NA
        else:
            key_column = pd.array(np.asarray(keys), dtype="Int64")
        return pd.DataFrame({
            "kind": repeated(kind, count),
            "severity": repeated(severity, count),
            self.key: key_column,
            "source_ids": text_column(source_ids, count),
            "problem": text_column(problem, count),
            "action": text_column(action, count),
        }, index=pd.RangeIndex(count), copy=False)

    def aligned_rows(self, kind: str, severity: str, keys: pd.Series, *, source_ids: Text, problem: Text,
                     action: Text) -> pd.DataFrame:
        """`rows` for keys given as a Series: text Series are aligned to its index (by label, as str)."""
        index = keys.index
        return self.rows(kind, severity, keys.to_numpy(), source_ids=_aligned(source_ids, index),
                         problem=_aligned(problem, index), action=_aligned(action, index))

    def concat(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [frame for frame in frames if len(frame)]
        if not frames:
            return self.empty()
        return self.typed(pd.concat(frames, ignore_index=True))

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` as the contract: its columns in order, their dtypes, a 0..n-1 index."""
        if list(frame.columns) == list(self.columns) and all(
                frame[column].dtype == dtype for column, dtype in self.dtypes.items()):
            if _default_index(frame.index):
                return frame  # already the contract (frames from `rows`): no copy of a large frame
            return frame.reset_index(drop=True)
        return frame.loc[:, list(self.columns)].astype(self.dtypes).reset_index(drop=True)


def _aligned(text: Text, index: pd.Index) -> Text:
    if isinstance(text, pd.Series):
        return text.astype(str).reindex(index).to_numpy(dtype=object)
    return text


def _default_index(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
