"""The anomaly flags of every day of a run, each day judged as its own run would judge it."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sage_paytrace_pipeline.anomalies.day import flag_day
from sage_paytrace_pipeline.anomalies.history import RangeHistory
from sage_paytrace_pipeline.domain.anomalies import AnomalyPolicy


def flag_days(connection: duckdb.DuckDBPyConnection, days: list[date], transactions_of: dict[date, pd.DataFrame],
              applications_of: dict[date, pd.DataFrame], policy: AnomalyPolicy, *,
              range_wide: bool = True) -> dict[date, pd.DataFrame]:
    """Each day's flags, oldest day first; `range_wide=False`: each day reads and judges its history alone."""
    history = (RangeHistory(connection, days, policy.history_days, time_zone=policy.time_zone)
               if range_wide and len(days) > 1 else None)
    keyed = history.with_keys(transactions_of) if history is not None else transactions_of
    return {day: flag_day(connection, day, keyed[day], applications_of[day], policy, history=history)
            for day in days}

