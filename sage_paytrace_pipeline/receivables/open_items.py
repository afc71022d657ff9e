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
        self._rows_of_key: dict[tuple, list[int]] | None = None  # built by the first day that applies cents
        self._frame: pd.DataFrame | None = snapshot

    @staticmethod
    def takes(snapshot: pd.DataFrame) -> bool:
        """Keys all present (dict look-ups then equal pandas' join), balances int64 (no cast back)."""
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
        rows_of_key = self._key_rows()
        for key, cents in zip(applied.index, applied.to_numpy("int64"), strict=True):
            for row in rows_of_key.get(key, ()):
                if self._kept[row]:
                    self._balance[row] -= cents
        self._kept &= self._balance != 0  # paid off: gone from the open items, as after_receipts drops them
        self._frame = None

    def _key_rows(self) -> dict[tuple, list[int]]:
        if self._rows_of_key is None:
            self._rows_of_key = {}
            columns = (self._snapshot[column].tolist() for column in INVOICE_KEY)
            for row, key in enumerate(zip(*columns, strict=True)):
                self._rows_of_key.setdefault(key, []).append(row)
        return self._rows_of_key


def open_items(snapshot: pd.DataFrame, policy: MatchingPolicy) -> ArrayOpenItems | ReindexedOpenItems:
    """The book of a range's open invoices, starting from the snapshot of its first day."""
    return ArrayOpenItems(snapshot, policy) if ArrayOpenItems.takes(snapshot) else ReindexedOpenItems(snapshot, policy)
