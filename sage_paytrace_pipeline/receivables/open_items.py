"""The open invoices a range run's days match against: the first day's snapshot, less the receipts
of the range's earlier days (as `after_receipts` leaves them), indexed for matching.

A year's range starts with every invoice of the year open (several hundred thousand); re-building
the frame and re-indexing its texts each day cost more than matching the day's payments.
`open_items(snapshot, policy)` gives a book that factorizes the snapshot once and then, per day,
only subtracts the day's applications from a balance array and renumbers integer codes. Both books
below give each day the same frame and an equal index (a test holds them to it); `ReindexedOpenItems`
is kept for snapshots the array book does not take (missing keys, a balance column not int64).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.open_invoices import (
    OpenInvoiceIndex,
    OpenInvoiceRows,
    index_open_invoices,
)
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.receivables.day import INVOICE_KEY, after_receipts, newly_applied


class ReindexedOpenItems:
    """The frame carried over by `after_receipts` and indexed again each day: the straightforward book."""

    def __init__(self, snapshot: pd.DataFrame, policy: MatchingPolicy):
        self._frame, self._policy = snapshot, policy

    def frame(self) -> pd.DataFrame:
        return self._frame

    def index(self) -> OpenInvoiceIndex:
        return index_open_invoices(self._frame, self._policy)

    def add_receipts(self, applications: pd.DataFrame) -> None:
        self._frame = after_receipts(self._frame, applications)


class ArrayOpenItems:
    """The snapshot's rows kept whole, with each row's balance and whether `after_receipts` would keep it."""

    def __init__(self, snapshot: pd.DataFrame, policy: MatchingPolicy):
        self._snapshot = snapshot
        self._balance = snapshot["balance_cents"].to_numpy("int64").copy()
        self._kept = np.ones(len(snapshot), dtype=bool)
        self._rows = OpenInvoiceRows(snapshot, policy)
        self._keys: pd.MultiIndex | None = None  # each row's INVOICE_KEY, made by the first day that applies cents
        self._frame: pd.DataFrame | None = snapshot

    @staticmethod
    def takes(snapshot: pd.DataFrame) -> bool:
        """Keys all present (no missing value to match a missing one), balances int64 (no cast back)."""
        return (snapshot["balance_cents"].dtype == np.dtype("int64")
                and not snapshot[INVOICE_KEY].isna().to_numpy().any() and OpenInvoiceRows.indexable(snapshot))

    def frame(self) -> pd.DataFrame:
        """The frame `after_receipts` would have carried to this day (built only when asked)."""
        if self._frame is None:
            rows = np.flatnonzero(self._kept)
            self._frame = self._snapshot.take(rows).reset_index(drop=True).assign(balance_cents=self._balance[rows])
        return self._frame

    def index(self) -> OpenInvoiceIndex:
        return self._rows.index(self._balance)

    def add_receipts(self, applications: pd.DataFrame) -> None:
        applied = newly_applied(applications)
        if applied is None or not self._kept.any():  # after_receipts leaves the frame as it is
            return
        self._balance -= np.where(self._kept, self._cents_per_row(applied), 0)  # rows after_receipts still holds
        self._kept &= self._balance != 0  # paid off: gone from the open items, as after_receipts drops them
        self._frame = None

    def _cents_per_row(self, applied: pd.Series) -> np.ndarray:
        """What `applied` (by INVOICE_KEY) applies to each row: as after_receipts' join gives it, every row of
        a key the full cents; looked up by the day's keys only when no two rows share one (the usual book)."""
        if self._keys is None:
            self._keys = pd.MultiIndex.from_frame(self._snapshot[INVOICE_KEY])
        if not self._keys.is_unique:
            return applied.reindex(self._keys).fillna(0).to_numpy("int64")
        cents = np.zeros(len(self._keys), dtype="int64")
        row = self._keys.get_indexer(applied.index)
        cents[row[row >= 0]] = applied.to_numpy("int64")[row >= 0]
        return cents


def open_items(snapshot: pd.DataFrame, policy: MatchingPolicy) -> ArrayOpenItems | ReindexedOpenItems:
    """The book of a range's open invoices, starting from the snapshot of its first day."""
    return ArrayOpenItems(snapshot, policy) if ArrayOpenItems.takes(snapshot) else ReindexedOpenItems(snapshot, policy)
