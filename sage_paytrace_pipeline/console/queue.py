"""The exceptions queue: every source's open items with their latest decision, filtered and sorted by
what to do first (errors before warnings, then the oldest, then area and kind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


def queue(context: SourceContext, store: ConsoleStore, wanted: QueueFilter, today: date) -> pd.DataFrame:
    """The open items (sources.COLUMNS + key, age_days, decision, decided_by, decision_note), sorted."""
    items = open_items(context)
    items["age_days"] = _ages(items["business_day"], today)
    decided = store.latest_decisions(items["key"])
    items["decision"] = [decided[key]["decision"] if key in decided else "" for key in items["key"]]
    items["decided_by"] = [decided[key]["actor"] if key in decided else "" for key in items["key"]]
    items["decision_detail"] = [decided[key]["detail"] if key in decided else "" for key in items["key"]]
    keep = np.ones(len(items), dtype=bool)
    if wanted.kind:
        keep &= (items["kind"] == wanted.kind).to_numpy()
    if wanted.severity:
        keep &= (items["severity"] == wanted.severity).to_numpy()
    if wanted.day:
        keep &= items["business_day"].fillna("").astype(str).str.startswith(wanted.day).to_numpy()
    if wanted.min_age_days is not None:
        keep &= (items["age_days"].fillna(-1) >= wanted.min_age_days).to_numpy()
    if not wanted.show_reviewed:
        keep &= (items["decision"] != "mark_reviewed").to_numpy()
    chosen = items[keep]
    order = chosen.assign(_severity=chosen["severity"].map(SEVERITY_RANK).fillna(9),
                          _age=-chosen["age_days"].fillna(-1))
    order = order.sort_values(["_severity", "_age", "area", "kind", "source_ids"], kind="stable")
    return order.drop(columns=["_severity", "_age"]).reset_index(drop=True)


def _ages(days: pd.Series, today: date) -> pd.Series:
    """Days since each item's business day (a month counts from its first day); None without a day."""
    text = days.fillna("").astype(str)
    text = text.where(text.str.len() >= 10, text.str.slice(0, 7) + "-01")
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    age = (pd.Timestamp(today) - parsed).dt.days
    return age.astype("Int64")
