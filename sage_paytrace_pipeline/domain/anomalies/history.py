"""What a day's rules read of the earlier days: the rows sharing a key with the day, rows by id, hours.

Every rule relates a day's transaction to earlier ones through a key (card, customer, invoice, the
transaction id) or, for the hours, through counts. `FrameHistory` answers from the whole history
frame (a single day's run: each answer is all of it, so the rules see exactly what they always
saw); `IndexedHistory` answers a range run's day from its range's rows indexed once by key and
day, so a day costs what its own keys' rows cost, not 90 days of history. Answering with a superset
of the rows a rule reads through its keys is exact: rows sharing no key with what the rule looks
up are never read by it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.hours import local_hours
from sage_paytrace_pipeline.domain.anomalies.keys import customer_key, invoice_text

KINDS = ("card", "customer", "invoice", "id")
_LINKS = ("invoice", "customer", "card")  # the keys that tie a refund to a sale
_DAYS = 1 << 24  # more days than any history spans: a key's code and a day fold into one int64


def key_codes(frame: pd.DataFrame, kind: str) -> np.ndarray:
    """A kind's key per row as prepared (`keys.prepare`): int codes, invoice text or the transaction id."""
    if kind == "card":
        return frame["_card"].to_numpy()
    if kind == "customer":
        return customer_key(frame)
    if kind == "invoice":
        return invoice_text(frame).to_numpy(dtype=object)
    return frame["transaction_id"].astype("int64").to_numpy()


def known(keys: np.ndarray, kind: str) -> np.ndarray:
    """The keys that can match (an empty invoice or an unknown card or customer matches nothing)."""
    keys = np.asarray(keys)
    return keys[keys != ""] if kind == "invoice" else keys[keys >= 0] if kind in ("card", "customer") else keys


class FrameHistory:
    """The whole earlier frame for every question (a single day's run)."""

    def __init__(self, earlier: pd.DataFrame) -> None:
        self.earlier = earlier

    def sharing(self, **keys: np.ndarray) -> pd.DataFrame:
        """Earlier rows with any of the given keys (kind=keys; here: all of them)."""
        del keys
        return self.earlier

    def related(self, day: pd.DataFrame, seeds: pd.DataFrame, hops: int) -> pd.DataFrame:
        """Earlier rows linked to `seeds` through up to `hops` shared keys (here: all of them)."""
        del day, seeds, hops
        return self.earlier

    def hour_counts(self, time_zone: str) -> np.ndarray:
        """Earlier transactions with a time, per local hour."""
        earlier = self.earlier[self.earlier["created_at"].notna()]
        return np.bincount(local_hours(earlier, time_zone), minlength=24)


class KeyIndex:
    """Rows by (key, day): the positions of a set of keys' rows within a span of days, by binary search."""

    def __init__(self, keys: np.ndarray, days: np.ndarray) -> None:
        """`days`: each row's day, 0 or more (a negative day is in no span)."""
        codes, distinct = pd.factorize(keys)
        self._distinct = pd.Index(distinct)
        folded = codes.astype("int64") * _DAYS + days
        self._order = np.argsort(folded, kind="stable")
        self._folded = folded[self._order]

    def positions(self, keys: np.ndarray, first: int, last: int) -> np.ndarray:
        """Positions (ascending) of the rows of days first..last with one of `keys`."""
        codes = self._distinct.get_indexer(pd.unique(keys))
        codes = codes[codes >= 0].astype("int64") * _DAYS
        starts = np.searchsorted(self._folded, codes + max(first, 0), side="left")
        ends = np.searchsorted(self._folded, codes + max(last, -1), side="right")
        lengths = np.maximum(ends - starts, 0)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        return np.sort(self._order[offsets])


class RangeIndex:
    """A range run's earlier rows (prepared together with its days), sorted once by (key, day) per kind."""

    def __init__(self, rows: pd.DataFrame, day_numbers: np.ndarray, time_zone: str) -> None:
        """`day_numbers`: each row's business date as a day number (rows without one: any negative number)."""
        self.rows = rows.reset_index(drop=True)
        self.time_zone = time_zone
        dated = day_numbers >= 0
        self._first_day = int(day_numbers[dated].min(initial=0))
        # days from the first (-1: no date, before every window)
        self._days = np.where(dated, day_numbers - self._first_day, -1).astype("int64")
        self.keys = {kind: key_codes(self.rows, kind) for kind in KINDS}
        self._keys = {kind: KeyIndex(keys, self._days) for kind, keys in self.keys.items()}
        timed = self.rows["created_at"].notna().to_numpy()
        self._hours = np.where(timed, local_hours(self.rows, time_zone), 24).astype("int64")  # 24: no time
        counts = np.zeros((int(self._days.max(initial=0)) + 2, 25), dtype="int64")
        np.add.at(counts, (self._days[dated] + 1, self._hours[dated]), 1)
        self._hours_before = np.cumsum(counts, axis=0)  # [d, h]: rows of the days before day d (from the first)

    def positions(self, kind: str, keys: np.ndarray, first: int, last: int) -> np.ndarray:
        """Positions of the rows of day numbers first..last with one of `keys`."""
        return self._keys[kind].positions(known(keys, kind), first - self._first_day, last - self._first_day)

    def hour_counts(self, first: int, last: int) -> np.ndarray:
        """Rows with a time of day numbers first..last, per local hour."""
        def before(day: int) -> np.ndarray:
            return self._hours_before[min(max(day - self._first_day, 0), len(self._hours_before) - 1)]
        return (before(last + 1) - before(first))[:24]

    def hours_of(self, positions: np.ndarray) -> np.ndarray:
        """Per local hour, the rows at `positions` that have a time."""
        return np.bincount(self._hours[positions], minlength=25)[:24]


class IndexedHistory:
    """One day's earlier rows out of a `RangeIndex`: day numbers first..last, without the day's own
    transactions (a re-loaded day is not its own history)."""

    def __init__(self, index: RangeIndex, first: int, last: int, day_ids: np.ndarray) -> None:
        self.index, self.first, self.last = index, first, last
        self._own = index.positions("id", day_ids, first, last)  # the day's transactions among the earlier rows

    def sharing(self, **keys: np.ndarray) -> pd.DataFrame:
        """Earlier rows with any of the given keys (kind=keys), in the history's order."""
        return self.index.rows.take(self._positions(keys))

    def _positions(self, keys: dict[str, np.ndarray]) -> np.ndarray:
        found = [self.index.positions(kind, values, self.first, self.last) for kind, values in keys.items()]
        return np.setdiff1d(np.concatenate([np.zeros(0, dtype="int64"), *found]), self._own)  # sorted, distinct

    def related(self, day: pd.DataFrame, seeds: pd.DataFrame, hops: int) -> pd.DataFrame:
        """Earlier rows linked to `seeds` through up to `hops` shared keys (invoice, customer, card), each hop
        also through the day's rows; then every row with the id of one of them (the rules keep a repeated id's
        last row: that one is there too)."""
        day_keys = {kind: key_codes(day, kind) for kind in _LINKS}
        linked = {kind: known(key_codes(seeds, kind), kind) for kind in _LINKS}
        rows = np.zeros(0, dtype="int64")
        for _ in range(hops):
            rows = self._positions(linked)
            found = {kind: np.concatenate([linked[kind], known(self.index.keys[kind][rows], kind)]) for kind in _LINKS}
            on_day = np.logical_or.reduce([pd.Series(day_keys[kind]).isin(found[kind]).to_numpy() for kind in _LINKS])
            linked = {kind: pd.unique(np.concatenate([found[kind], known(day_keys[kind][on_day], kind)]))
                      for kind in _LINKS}
        return self.sharing(id=self.index.keys["id"][rows])

    def hour_counts(self, time_zone: str) -> np.ndarray:
        if time_zone != self.index.time_zone:
            raise ValueError("the history's hours were counted in another time zone")
        return self.index.hour_counts(self.first, self.last) - self.index.hours_of(self._own)

