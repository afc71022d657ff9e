"""Replay the anomaly rules over stored days: what each rule would have flagged (nothing is written)."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sage_paytrace_pipeline.anomalies.day import flag_day
from sage_paytrace_pipeline.anomalies.history import applications_between, transactions_between
from sage_paytrace_pipeline.domain.anomalies import RULES, AnomalyPolicy, empty_flags


def stored_days(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> list[date]:
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'paytrace_transactions'").fetchall()[0][0]
    if not exists:
        return []
    rows = connection.execute("SELECT DISTINCT business_date FROM pipeline.paytrace_transactions "
                              "WHERE business_date BETWEEN ? AND ? ORDER BY 1", [start, end]).fetchall()
    return [row[0] for row in rows]


def backtest(connection: duckdb.DuckDBPyConnection, start: date, end: date, policy: AnomalyPolicy) -> pd.DataFrame:
    """Every flag of every stored day from start to end (each day against its own history), with business_date."""
    days = []
    for day in stored_days(connection, start, end):  # one pass per day, as the daily run does
        flags = flag_day(connection, day, transactions_between(connection, day, day),
                         applications_between(connection, day, day), policy)
        days.append(flags.assign(business_date=day))
    if not days:
        return empty_flags().assign(business_date=pd.Series(dtype=object))
    return pd.concat(days, ignore_index=True)


def report(flags: pd.DataFrame, start: date, end: date, days: int, policy: AnomalyPolicy, *, shown: int = 10) -> str:
    """The backtest as text: per rule, the count and the first flags' sentences."""
    lines = [f"Anomaly backtest {start} to {end}: {days} stored day(s), {len(flags)} flag(s)"]
    for rule in RULES:
        if not policy.enabled(rule):
            lines.append(f"\n{rule}: off")
            continue
        mine = flags[flags["rule"] == rule]
        held = " (holds payments)" if rule in policy.hold_from_posting else ""
        lines.append(f"\n{rule}: {len(mine)} flag(s){held}")
        for row in mine.head(shown).itertuples(index=False):
            lines.append(f"  {row.business_date} [{row.severity}] {row.explanation}")
        if len(mine) > shown:
            lines.append(f"  ... and {len(mine) - shown} more")
    return "\n".join(lines)
