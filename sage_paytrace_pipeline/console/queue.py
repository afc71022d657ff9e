"""The exceptions queue: every source's open items with their latest decision, filtered and sorted by
what to do first (errors before warnings, then the oldest, then area and kind).

The order depends only on the items (the oldest day is the greatest age whatever today is), so the
sorted items are kept while the sources return the same frames (the warehouse's, until a run rewrites
it); a page then costs its filters (whole columns) and the decisions of the rows it shows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.console.sources import SourceContext, open_items
from sage_paytrace_pipeline.console.store import ConsoleStore

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class QueueFilter:
    kind: str = ""
    severity: str = ""
    day: str = ""  # a business day (YYYY-MM-DD) or month (YYYY-MM)
    min_age_days: int | None = None
    show_reviewed: bool = False


@dataclass(frozen=True)
class QueuePage:
    rows: list[dict[str, Any]]  # sources.COLUMNS + key, age_days, decision, decided_by, decision_detail
    total: int  # items matching the filter
    kinds: list[str]  # every open kind (for the filter's choices)


_SORTED: dict[str, Any] = {}
_LOCK = threading.Lock()


def queue(context: SourceContext, store: ConsoleStore, wanted: QueueFilter, today: date, *, offset: int = 0,
          limit: int = 200) -> QueuePage:
    items, index = _sorted(open_items(context))
    keep = np.ones(len(items), dtype=bool)
    if wanted.kind:
        keep &= index.codes_of("_kind", wanted.kind)
    if wanted.severity:
        keep &= index.codes_of("_severity", wanted.severity)
    if wanted.day:
        keep &= _on_day(index.days, wanted.day)
    if wanted.min_age_days is not None:
        newest = np.datetime64(today) - np.timedelta64(wanted.min_age_days, "D")
        keep &= index.days <= newest
    if not wanted.show_reviewed:
        keep &= ~_reviewed(items, store)
    # positions, not a filtered copy of the whole frame: only the page's rows are ever copied
    chosen = np.flatnonzero(keep)
    page = items.iloc[chosen[offset:offset + limit]].drop(columns=["_rank", "_day", "_kind", "_severity"])
    decided = store.latest_decisions(page["key"])
    rows = []
    for row in page.to_dict("records"):
        decision = decided.get(row["key"], {})
        rows.append({**row, "age_days": age_days(row["business_day"], today),
                     "decision": decision.get("decision", ""), "decided_by": decision.get("actor", ""),
                     "decision_detail": decision.get("detail", "")})
    return QueuePage(rows, len(chosen), index.kinds)


@dataclass(frozen=True)
class _Index:
    """What filters compare, as plain arrays made once per set of items: category codes, days, the kinds."""

    codes: dict[str, np.ndarray]
    categories: dict[str, dict[str, int]]
    days: np.ndarray  # datetime64[ns], NaT without a day
    kinds: list[str]

    def codes_of(self, column: str, value: str) -> np.ndarray:
        code = self.categories[column].get(value)
        if code is None:
            return np.zeros(len(self.days), dtype=bool)
        return self.codes[column] == code

    @classmethod
    def of(cls, ordered: pd.DataFrame) -> _Index:
        columns = ("_kind", "_severity")
        return cls(codes={c: ordered[c].cat.codes.to_numpy() for c in columns},
                   categories={c: {str(v): i for i, v in enumerate(ordered[c].cat.categories)} for c in columns},
                   days=ordered["_day"].to_numpy(), kinds=sorted(str(k) for k in ordered["_kind"].cat.categories))


def _sorted(items: pd.DataFrame) -> tuple[pd.DataFrame, _Index]:
    """The items in queue order, with `_rank` (severity) and `_day` (datetime64) columns, and their filter
    index; kept per frame."""
    with _LOCK:
        if _SORTED.get("source") is items:
            return _SORTED["sorted"], _SORTED["index"]
    days = items["business_day"].fillna("").astype(str)
    days = days.where(days.str.len() >= 10, days.str.slice(0, 7) + "-01")
    ordered = items.assign(_rank=items["severity"].map(SEVERITY_RANK).fillna(9).astype(int),
                           _day=pd.to_datetime(days, format="%Y-%m-%d", errors="coerce"),
                           # categorical copies: a filter compares small integer codes, not 100k strings
                           _kind=items["kind"].astype("category"), _severity=items["severity"].astype("category"))
    # no day sorts last within its severity (NaT after every date)
    ordered = ordered.sort_values(["_rank", "_day", "area", "kind", "source_ids"], kind="stable",
                                  na_position="last").reset_index(drop=True)
    index = _Index.of(ordered)
    with _LOCK:
        _SORTED.update(source=items, sorted=ordered, index=index)
    return ordered, index


def _on_day(days: np.ndarray, day: str) -> np.ndarray:
    """Items of a business day (YYYY-MM-DD) or of a month (YYYY-MM): date comparisons on whole columns."""
    try:
        start = pd.Timestamp(day if len(day) > 7 else f"{day}-01")
    except ValueError:
        return np.zeros(len(days), dtype=bool)
    end = start + (pd.DateOffset(days=1) if len(day) > 7 else pd.DateOffset(months=1))
    return (days >= start.to_datetime64()) & (days < end.to_datetime64())


def _reviewed(items: pd.DataFrame, store: ConsoleStore) -> np.ndarray:
    """Which items are marked reviewed; kept until a decision is made (or the items change)."""
    version = store.decisions_version()
    with _LOCK:
        if _SORTED.get("reviewed_items") is items and _SORTED.get("reviewed_version") == version:
            return _SORTED["reviewed"]
    mask = items["key"].isin(store.reviewed_keys()).to_numpy()
    with _LOCK:
        _SORTED.update(reviewed_items=items, reviewed_version=version, reviewed=mask)
    return mask


def age_days(business_day: object, today: date) -> int | None:
    """Days since the business day (a month counts from its first day); None without a day."""
    text = "" if business_day is None or business_day is pd.NA else str(business_day)
    try:
        return (today - date.fromisoformat(text[:10] if len(text) >= 10 else f"{text[:7]}-01")).days
    except ValueError:
        return None
