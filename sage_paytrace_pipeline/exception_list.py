"""Every flow's exceptions across days, read from the warehouse for `sage-paytrace exceptions list`.

Each flow's exception asset is a warehouse table partitioned by business day, and the I/O manager
replaces a day's rows on every run: the tables hold exactly what each day's latest run found. A
problem a re-run resolved is gone from them; what is left is what someone may still have to act on.
Informational rows (a deposit still inside its window, a receipt waiting for Sage's import, a
duplicate record already dropped) clear by themselves, so `open_only` leaves them out; an exception
a day's window reports again on later days (a batch still missing its deposit) is shown once, on
the latest day that reports it.

The warehouse is opened read-only: listing never takes the lock a running step needs for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline import listing

SCHEMA = "pipeline"
COLUMNS = ("business_day", "area", "kind", "severity", "source_ids", "problem", "action")
FORMATS = listing.FORMATS


@dataclass(frozen=True)
class ExceptionTable:
    """A flow's exception table and how its rows read as the list's columns."""

    table: str
    area: str
    key: str | None = None  # the id column the source ids fall back to
    kind: str | None = None  # for tables without a kind column: what every row is
    severity: str = "warning"  # for tables without a severity column


TABLES = (
    ExceptionTable("receivable_exceptions", "receivables", key="transaction_id"),
    ExceptionTable("settlement_exceptions", "settlement", key="batch_number"),
    ExceptionTable("bank_statement_exceptions", "bank statements", kind="unreadable_statement_file"),
    ExceptionTable("fee_statement_exceptions", "fee statements"),
    ExceptionTable("refund_exceptions", "refunds", key="transaction_id"),
    ExceptionTable("refund_request_exceptions", "refund requests", key="transaction_id"),
    ExceptionTable("customer_sync_exceptions", "customers", key="vault_id"),
    ExceptionTable("dispute_exceptions", "disputes", key="transaction_id"),
)
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def list_exceptions(warehouse: str | Path, *, open_only: bool = False, kind: str | None = None,
                    since: date | None = None) -> pd.DataFrame:
    """One row per exception (COLUMNS), newest day first, errors before warnings within a day."""
    with listing.warehouse_read_only(warehouse) as connection:
        present = _tables(connection)
        frames = [_read(connection, spec) for spec in TABLES if spec.table in present]
    rows = pd.concat([pd.DataFrame(columns=list(COLUMNS)), *[f for f in frames if len(f)]], ignore_index=True)
    if kind:
        rows = rows[rows["kind"] == kind]
    if since is not None:
        rows = rows[rows["business_day"].fillna("9999") >= since.isoformat()]
    if open_only:
        rows = _open(rows)
    order = rows.assign(_day=rows["business_day"].fillna(""), _severity=rows["severity"].map(SEVERITY_ORDER))
    order = order.sort_values(["_day", "_severity", "area", "kind", "source_ids"],
                              ascending=[False, True, True, True, True], kind="stable")
    return order[list(COLUMNS)].reset_index(drop=True)


def _tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    found = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                               [SCHEMA]).fetchall()
    return {name for (name,) in found}


def _read(connection: duckdb.DuckDBPyConnection, spec: ExceptionTable) -> pd.DataFrame:
    frame = connection.execute(f'SELECT * FROM {SCHEMA}."{spec.table}"').df()
    count = len(frame)

    def text(column: str, default: str = "") -> pd.Series:
        return _text(frame, column, default)

    return pd.DataFrame({
        "business_day": _days(frame),
        "area": [spec.area] * count,
        "kind": pd.Series([spec.kind] * count, dtype=object) if spec.kind else text("kind"),
        "severity": text("severity", spec.severity),
        "source_ids": _source_ids(frame, spec),
        "problem": text("problem"),
        "action": text("action"),
    })


def _text(frame: pd.DataFrame, column: str, default: str = "") -> pd.Series:
    """The column as text (a missing value or column: `default`), whole columns at a time."""
    if column not in frame.columns:
        return pd.Series([default] * len(frame), index=frame.index, dtype=object)
    return frame[column].astype("string").fillna(default).astype(object)


def _days(frame: pd.DataFrame) -> pd.Series:
    """The business day (YYYY-MM-DD); a monthly table gives its month (YYYY-MM), a table without a day None."""
    for column in ("business_date", "month"):
        if column in frame.columns:
            days = frame[column].astype("string").str.slice(0, 10)
            return days.astype(object).where(days.notna(), None)
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _source_ids(frame: pd.DataFrame, spec: ExceptionTable) -> pd.Series:
    """The row's source ids; else its file (and line); else the key column as `key:value`; else ""."""
    ids = _text(frame, "source_ids")
    if "file" in frame.columns:
        file = frame["file"].astype("string")
        line = (":" + frame["line"].astype("Int64").astype("string")).fillna("") if "line" in frame.columns else ""
        ids = ids.where(ids != "", ("file:" + file + line).fillna("").astype(object))
    if spec.key and spec.key in frame.columns:
        values = frame[spec.key]
        if pd.api.types.is_numeric_dtype(values):  # a float column of ids with gaps reads as whole numbers
            values = values.astype("Int64")
        key = (f"{spec.key}:" + values.astype("string")).fillna("").astype(object)
        ids = ids.where(ids != "", key)
    return ids.astype(object)


def _open(rows: pd.DataFrame) -> pd.DataFrame:
    """Error and warning rows, each exception once: on the latest day that still reports it."""
    actionable = rows[rows["severity"] != "info"]
    latest_first = actionable.sort_values("business_day", ascending=False, na_position="last", kind="stable")
    return latest_first.drop_duplicates(["area", "kind", "source_ids"])


def render(rows: pd.DataFrame, output_format: str) -> str:
    """The rows as a table for the terminal, CSV a spreadsheet opens safely, or a JSON list."""
    return listing.render(rows, COLUMNS, output_format, _table)


def _table(rows: pd.DataFrame) -> str:
    """Day, area, kind, severity and source ids aligned; problem and action in full below each row
    (the action is what the operator came for: it is never cut)."""
    return listing.aligned_table(
        rows, ("business_day", "area", "kind", "severity", "source_ids"),
        lambda row: [f"problem: {row['problem']}", f"action:  {row['action']}"], "exception")
