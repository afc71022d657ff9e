"""Range runs: many business days in one run, each asset working the days in order.

The daily assets declare `BACKFILL_POLICY` (one run for a range), so `dagster asset materialize
--partition-range A...B`, a UI backfill or `execute_in_process(partition_key_range=...)` is one
process and one step per asset instead of one run per day. Each asset loops `run_days(context)`
oldest first and computes every day exactly as a single-day run would; the step order gives the
order between assets (all receipts of the range are posted before any settlement day of it). A
single-partition run (the sensor's, the schedule's) is a range of one day: same code, same output.

Dagster keeps one set of metadata and one result per check for a step, whatever the number of
partitions (dagster-io/dagster#21072): a range run reports totals over its days, and each check
is evaluated per day and reported once, failing when any day fails (`combined_check`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd

# One run for any range: the days are processed in order inside each step.
BACKFILL_POLICY = dg.BackfillPolicy.single_run()
_SHOWN_DAYS = 20


def run_days(context: dg.AssetExecutionContext) -> list[date]:
    """The run's business days, oldest first (one for a single-partition run)."""
    return sorted(date.fromisoformat(key) for key in context.partition_keys)


def of_day(frame: pd.DataFrame, day: date, days: list[date], column: str = "business_date") -> pd.DataFrame:
    """The rows of `day` in an input loaded for the run's `days` (the frame itself when the run has one day,
    so a single-day run sees exactly what it always saw)."""
    if len(days) == 1 or column not in frame.columns:
        return frame
    values = frame[column]
    if pd.api.types.is_datetime64_dtype(values.dtype):
        # the warehouse's DATE columns load as datetime64: compared as days in numpy, not converted to
        # `date` objects row by row (a range run's inputs hold every day of the range, and each day of
        # it takes its rows: the conversion made a year's run quadratic)
        stamps = values.to_numpy()
        start = np.datetime64(day, "D").astype(stamps.dtype)
        wanted = (stamps >= start) & (stamps < start + np.timedelta64(1, "D"))
    else:
        wanted = (pd.to_datetime(values).dt.date == day).to_numpy()
    return frame.take(np.flatnonzero(wanted)).reset_index(drop=True)


def as_of(frame: pd.DataFrame, day: date, column: str = "business_date") -> pd.DataFrame:
    """The snapshot `day` lives under in an input of snapshots (`warehouse.AS_OF`): the rows of the
    latest date on or before `day` (the frame itself when it holds that date alone, as it does when
    a range run stored one snapshot for its days or a run has one day)."""
    return as_of_days(frame, [day], column)[day]


def as_of_days(frame: pd.DataFrame, days: list[date], column: str = "business_date") -> dict[date, pd.DataFrame]:
    """`as_of(frame, day)` for every day of the run, with the frame's dates read once; the days that live
    under one snapshot get the same frame object (what is derived from a snapshot can be kept by it)."""
    if frame.empty or column not in frame.columns:
        return dict.fromkeys(days, frame)
    stamps = _stamps(frame[column])
    dates = np.unique(stamps[~np.isnat(stamps)])  # the snapshots' dates, oldest first
    snapshots: dict[object, pd.DataFrame] = {}
    found = {}
    for day in days:
        earlier = dates[dates <= np.datetime64(day, "D").astype(stamps.dtype)]
        latest = earlier[-1] if earlier.size else None
        if latest not in snapshots:
            wanted = stamps == latest
            snapshots[latest] = (frame.iloc[:0] if latest is None else frame if wanted.all()
                                 else frame.take(np.flatnonzero(wanted)).reset_index(drop=True))
        found[day] = snapshots[latest]
    return found


def _stamps(values: pd.Series) -> np.ndarray:
    """A date column as datetime64 values: the warehouse's DATE columns as loaded (datetime64 already, which
    `pd.to_datetime` copied slowly, tens of milliseconds a call), other columns converted."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.to_numpy()
    return pd.to_datetime(values).to_numpy()


def stacked(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The days' frames as one output (the first frame alone when there is one: types untouched)."""
    frames = list(frames)
    if len(frames) == 1:
        return frames[0]
    filled = [frame for frame in frames if not frame.empty]
    return pd.concat(filled or frames[:1], ignore_index=True)


def with_days(metadata: dict, days: list[date]) -> dict:
    """A range run's metadata says which days its totals cover; a single day's is unchanged."""
    if len(days) == 1:
        return metadata
    return {**metadata, "days": len(days), "first_day": days[0].isoformat(), "last_day": days[-1].isoformat()}


def combined_check(results: list[tuple[date, dg.AssetCheckResult]]) -> dg.AssetCheckResult:
    """One result for a check evaluated per day: the day's own result for a single day; else passed
    when every day passed, described by the failing days (each with its own description)."""
    if len(results) == 1:
        return results[0][1]
    first = results[0][1]
    failing = [(day, result) for day, result in results if not result.passed]
    description = (
        f"{len(failing)} of {len(results)} days fail: "
        + "; ".join(f"{day}: {result.description}" for day, result in failing[:_SHOWN_DAYS])
        if failing else f"all {len(results)} days pass")
    shown = failing[0][1] if failing else first
    return dg.AssetCheckResult(
        check_name=first.check_name, asset_key=first.asset_key, passed=not failing, severity=first.severity,
        description=description,
        metadata={**dict(shown.metadata or {}), **_counts_summed([result for _, result in results]),
                  "days": len(results),
                  "failing_days": dg.MetadataValue.json([day.isoformat() for day, _ in failing[:_SHOWN_DAYS]])})


def _counts_summed(results: list[dg.AssetCheckResult]) -> dict:
    """Integer metadata (checked, failing, ...) added up over the days."""
    totals: dict[str, int] = {}
    for result in results:
        for key, value in (result.metadata or {}).items():
            number = value.value if isinstance(value, dg.IntMetadataValue) else value
            if isinstance(number, int) and not isinstance(number, bool):
                totals[key] = totals.get(key, 0) + number
    return totals


def days_of(frame: pd.DataFrame, days: list[date], column: str = "business_date") -> dict[date, pd.DataFrame]:
    """`of_day(frame, day, days)` for every day of the run, with the frame's dates read once (not once a day)."""
    if len(days) == 1 or column not in frame.columns:
        return dict.fromkeys(days, frame)
    values = frame[column]
    if pd.api.types.is_datetime64_dtype(values.dtype):
        # DATE columns load as datetime64: rows sorted by day once (stably, so each day keeps its order) and
        # each day's found by a binary search, never converted to `date` objects row by row
        stamps = values.to_numpy().astype("datetime64[D]")
        order = np.argsort(stamps, kind="stable")
        ordered = stamps[order]
        found = {}
        for day in days:
            first, last = (np.searchsorted(ordered, np.datetime64(day, "D"), side=side) for side in ("left", "right"))
            found[day] = frame.iloc[order[first:last]].reset_index(drop=True)
        return found
    rows = pd.Series(np.arange(len(frame))).groupby(pd.to_datetime(values).dt.date.to_numpy()).indices
    empty = np.zeros(0, dtype="int64")
    return {day: frame.iloc[rows.get(day, empty)].reset_index(drop=True) for day in days}
