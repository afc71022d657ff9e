"""The dispute cases for `sage-paytrace disputes list`: each case, its deadline and what to send.

Read from the warehouse's case store (disputes/case_store.py), opened read-only so listing never
takes the lock a running step needs. Rendered like `exceptions list`: a table, CSV a spreadsheet
opens safely (no cell runs as a formula), or JSON.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.disputes.case_store import saved_cases
from sage_paytrace_pipeline.domain.free_text import sheet_safe
from sage_paytrace_pipeline.domain.money import format_cents

COLUMNS = ("case_number", "status", "stage", "merchant_due_date", "days_left", "network", "reason_code",
           "reason_family", "amount", "card_last4", "sale_transaction_id", "stages", "evidence")
FORMATS = ("table", "csv", "json")


def list_cases(warehouse: str | Path, *, today: date, open_only: bool = False,
               due_within: int | None = None) -> pd.DataFrame:
    """One row per case (COLUMNS), the nearest merchant due date first."""
    path = Path(warehouse)
    if not path.is_file():
        raise FileNotFoundError(f"SAGE_PAYTRACE_WAREHOUSE: {path} does not exist yet (no run has written it)")
    connection = duckdb.connect(str(path), read_only=True)
    try:
        cases = saved_cases(connection)
    finally:
        connection.close()
    if cases.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    due = cases["merchant_due_date"]
    cases = cases.assign(
        days_left=[(d - today).days if isinstance(d, date) else None for d in due],
        amount=format_cents(cases["amount_cents"].astype("int64")),
        sale_transaction_id=pd.to_numeric(cases["sale_transaction_id"], errors="coerce").astype("Int64"))
    if open_only:
        cases = cases[cases["status"] == "open"]
    if due_within is not None:
        limit = today + timedelta(days=due_within)
        cases = cases[[isinstance(d, date) and d <= limit for d in cases["merchant_due_date"]]]
    frame = cases[list(COLUMNS)].reset_index(drop=True)
    return frame.astype({"sale_transaction_id": "Int64", "days_left": "Int64"})


def render(rows: pd.DataFrame, output_format: str) -> str:
    if output_format == "json":
        records = [{column: _plain(row[column]) for column in COLUMNS} for _, row in rows.iterrows()]
        return json.dumps(records, indent=2, default=str) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for _, row in rows.iterrows():
            writer.writerow([sheet_safe(str(_plain(row[column]) if _plain(row[column]) is not None else ""))
                             for column in COLUMNS])
        return buffer.getvalue()
    if output_format == "table":
        return _table(rows)
    raise ValueError(f"unknown format {output_format!r}; use one of {', '.join(FORMATS)}")


def _plain(value: object) -> object:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return int(value) if isinstance(value, np.integer) else value


def _table(rows: pd.DataFrame) -> str:
    """The deadline columns aligned; stages and what to send in full below each case."""
    if rows.empty:
        return "no dispute cases\n"
    heads = ("case_number", "status", "stage", "merchant_due_date", "days_left", "reason_code", "amount",
             "card_last4", "sale_transaction_id")
    cells = [[str(_plain(row[column]) if _plain(row[column]) is not None else "-") for column in heads]
             for _, row in rows.iterrows()]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(heads)]
    out = ["  ".join(column.ljust(width) for column, width in zip(heads, widths, strict=True)).rstrip()]
    for line, (_, row) in zip(cells, rows.iterrows(), strict=True):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        out.append(f"    stages:  {row['stages']} ({row['network']}, {row['reason_family']})")
        out.append(f"    send:    {row['evidence']}")
    out.append(f"{len(rows)} case{'s' if len(rows) != 1 else ''}")
    return "\n".join(out) + "\n"
