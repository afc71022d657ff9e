"""The rows behind each dashboard figure: what a number on the dashboard is the sum or count of.

Every figure of a day or month links to `/rows/<figure>?period=<day or month>`, which lists the rows
the dashboard's query (console/dashboard.py) adds up, with the same filters, and their total, so a
number is checked by reading its rows. The warehouse's figures read the warehouse; the card clearing
balance reads Sage's GL detail (console/clearing.py). Exceptions opened link to the filtered queue,
decisions to the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sage_paytrace_pipeline.console.dashboard import SCHEMA

PERIOD = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
ROW_LIMIT = 1000
_APPROVED = "upper(transaction_type) IN ('SALE', 'AUTHORIZATION') AND upper(status) IN ('PENDING', 'SETTLED')"
_REFUND = "upper(transaction_type) = 'REFUND' AND upper(status) NOT IN ('VOIDED', 'DECLINED')"
# A transaction counts on the first day a run saw it, in the state the latest run saw (as the dashboard).
_LATEST_TRANSACTIONS = f"""(SELECT *, CAST(min(business_date) OVER (PARTITION BY transaction_id) AS DATE) AS day
    FROM {SCHEMA}.paytrace_transactions
    QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY business_date DESC) = 1)"""


@dataclass(frozen=True)
class RowSet:
    title: str
    table: str  # the warehouse table the rows come from
    source: str  # FROM clause (the table, or a sub-query of it with a `day` column)
    day: str  # the date expression a period filters on
    columns: tuple[str, ...]  # shown when the table has them
    where: str = "TRUE"
    total: str | None = None  # the money column the figure sums


_TRANSACTION_COLUMNS = ("day", "transaction_id", "transaction_type", "status", "amount_cents", "card_last4",
                        "invoice_id")
_BATCH_COLUMNS = ("closed_date", "batch_number", "funding_group", "deposit_status", "gross_cents", "deposit_cents",
                  "fee_cents", "deposit_date")
_SALES = RowSet("PayTrace approved sales", "paytrace_transactions", _LATEST_TRANSACTIONS, "day",
                _TRANSACTION_COLUMNS, _APPROVED, "amount_cents")
_BATCHES = RowSet("Batches and their deposits", "settlement_reconciliation", f"{SCHEMA}.settlement_reconciliation",
                  "closed_date", _BATCH_COLUMNS)

ROW_SETS: dict[str, RowSet] = {
    "sales_count": _SALES, "sales_cents": _SALES,
    "refund_count": RowSet("PayTrace refunds", "paytrace_transactions", _LATEST_TRANSACTIONS, "day",
                           _TRANSACTION_COLUMNS, _REFUND, "amount_cents"),
    "receipts_count": RowSet("Receipts confirmed in Sage", "sage_posting_log", f"{SCHEMA}.sage_posting_log",
                             "business_date", ("business_date", "transaction_id", "division", "customer_no",
                                               "amount_cents", "payment_type", "deposit_no", "entry_no", "state"),
                             "state = 'confirmed'", "amount_cents"),
    "batches_matched": RowSet("Batches matched to a deposit", _BATCHES.table, _BATCHES.source, _BATCHES.day,
                              _BATCHES.columns, "deposit_status = 'matched'", "deposit_cents"),
    "batches_short": RowSet("Batches whose deposit differs", _BATCHES.table, _BATCHES.source, _BATCHES.day,
                            _BATCHES.columns, "deposit_status IN ('short', 'over')", "deposit_cents"),
    "batches_missing": RowSet("Batches whose deposit is missing", _BATCHES.table, _BATCHES.source, _BATCHES.day,
                              _BATCHES.columns, "deposit_status = 'missing'", "gross_cents"),
    "deposited_cents": RowSet("Deposits", _BATCHES.table, _BATCHES.source, _BATCHES.day, _BATCHES.columns,
                              "deposit_status <> 'missing'", "deposit_cents"),
    "fee_cents": RowSet("Fees by batch", _BATCHES.table, _BATCHES.source, _BATCHES.day, _BATCHES.columns,
                        "fee_cents IS NOT NULL", "fee_cents"),
    "chargeback_count": RowSet("Chargeback cases received", "dispute_case_store", f"{SCHEMA}.dispute_case_store",
                               "received_date", ("received_date", "case_number", "stage", "status", "reason_code",
                                                 "amount_cents", "merchant_due_date", "sale_transaction_id"),
                               total="amount_cents"),
}
ROW_SETS["receipts_cents"] = ROW_SETS["receipts_count"]
ROW_SETS["refund_cents"] = ROW_SETS["refund_count"]
ROW_SETS["chargeback_cents"] = ROW_SETS["chargeback_count"]


@dataclass(frozen=True)
class Rows:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    count: int  # all the rows of the period (rows holds at most ROW_LIMIT)
    total_cents: int | None
    total_column: str | None


def figure_rows(warehouse: Path, figure: str, period: str, *, limit: int = ROW_LIMIT) -> Rows | None:
    """The rows behind `figure` for a day (YYYY-MM-DD) or month (YYYY-MM); None for an unknown figure or period."""
    spec = ROW_SETS.get(figure)
    if spec is None or not PERIOD.match(period):
        return None
    empty = Rows(spec.title, list(spec.columns), [], 0, 0 if spec.total else None, spec.total)
    if not warehouse.is_file():
        return empty
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {row[0] for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, spec.table]).fetchall()}
        if not present:
            return empty
        columns = [c for c in spec.columns if c in present or (c == "day" and spec.day == "day")]
        scope = f"FROM {spec.source} AS t WHERE ({spec.where}) AND strftime(CAST({spec.day} AS DATE), " \
                "'%Y-%m-%d') LIKE ?"
        pattern = period + ("" if len(period) == 10 else "-%")
        total = f"coalesce(sum({spec.total}), 0)" if spec.total and spec.total in present else "NULL"
        count, total_cents = connection.execute(f"SELECT count(*), {total} {scope}", [pattern]).fetchall()[0]
        frame = connection.execute(
            f"SELECT {', '.join(columns)} {scope} ORDER BY {spec.day}, 2 LIMIT {int(limit)}", [pattern]).df()
    except duckdb.Error:
        return empty
    finally:
        connection.close()
    return Rows(spec.title, columns, _records(frame), int(count),
                None if total_cents is None else int(total_cents), spec.total)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict("records")
