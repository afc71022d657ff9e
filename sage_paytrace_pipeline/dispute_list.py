"""The dispute cases for `sage-paytrace disputes list`: each case, its deadline and what to send.

Read from the warehouse's case store (disputes/case_store.py), opened read-only so listing never
takes the lock a running step needs. Rendered like `exceptions list`: a table, CSV a spreadsheet
opens safely (no cell runs as a formula), or JSON.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline import listing
from sage_paytrace_pipeline.disputes.case_store import saved_cases
from sage_paytrace_pipeline.domain.money import format_cents

COLUMNS = ("case_number", "status", "stage", "merchant_due_date", "days_left", "network", "reason_code",
           "reason_family", "amount", "card_last4", "sale_transaction_id", "stages", "evidence")
FORMATS = listing.FORMATS


def list_cases(warehouse: str | Path, *, today: date, open_only: bool = False,
               due_within: int | None = None) -> pd.DataFrame:
    """One row per case (COLUMNS), the nearest merchant due date first."""
    with listing.warehouse_read_only(warehouse) as connection:
        cases = saved_cases(connection)
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
    return listing.render(rows, COLUMNS, output_format, _table)


def _table(rows: pd.DataFrame) -> str:
    """The deadline columns aligned; stages and what to send in full below each case."""
    return listing.aligned_table(
        rows, ("case_number", "status", "stage", "merchant_due_date", "days_left", "reason_code", "amount",
               "card_last4", "sale_transaction_id"),
        lambda row: [f"stages:  {row['stages']} ({row['network']}, {row['reason_family']})",
                     f"send:    {row['evidence']}"], "case", nothing="no dispute cases")
