"""What the rules judge a day against, read from the warehouse in one query per table.

Every reader returns a typed, empty frame before the table exists (the first day, a new
warehouse): a missing history means fewer flags, never a failed run.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

_BATCH_DTYPES = {"batch_number": "int64", "closed_at": "datetime64[ns, UTC]", "sales_cents": "int64",
                 "fee_cents": "int64", "business_date": "object"}


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = connection.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'pipeline' "
                              "AND table_name = ?", [table]).fetchall()
    return {row[0] for row in rows}


def typed_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Warehouse rows as `TRANSACTION_COLUMNS` (a column an older table lacks is empty)."""
    frame = frame.reindex(columns=list(TRANSACTION_COLUMNS))
    for column in ("created_at", "settled_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["business_date"] = pd.to_datetime(frame["business_date"]).dt.date
    return frame.astype({k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def transactions_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Stored PayTrace transactions with start <= business_date <= end."""
    present = _columns(connection, "paytrace_transactions")
    if not present:
        return typed_transactions(pd.DataFrame())
    wanted = [column for column in TRANSACTION_COLUMNS if column in present]
    frame = connection.execute(f"SELECT {', '.join(wanted)} FROM pipeline.paytrace_transactions "
                               "WHERE business_date BETWEEN ? AND ? ORDER BY transaction_id", [start, end]).df()
    return typed_transactions(frame)


def earlier_transactions(connection: duckdb.DuckDBPyConnection, day: date, days: int) -> pd.DataFrame:
    return transactions_between(connection, day - timedelta(days=days), day - timedelta(days=1))


def applications_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Stored payment applications (transaction_id, invoice_no, amount_cents, business_date)."""
    if not {"transaction_id", "invoice_no", "amount_cents"} <= _columns(connection, "payment_applications"):
        return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "invoice_no": pd.Series(dtype=object),
                             "amount_cents": pd.Series(dtype="int64"), "business_date": pd.Series(dtype=object)})
    return connection.execute("SELECT transaction_id, invoice_no, amount_cents, business_date "
                              "FROM pipeline.payment_applications WHERE business_date BETWEEN ? AND ?",
                              [start, end]).df()


def batch_fees_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Per settled batch: sales and the fee the deposit showed (settlement's reconciliation), by closing day."""
    present = _columns(connection, "settlement_reconciliation")
    sales = "gross_cents" if "gross_cents" in present else "sales_cents"
    if not {"batch_number", "fee_cents", sales, "business_date"} <= present:
        return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in _BATCH_DTYPES.items()})
    frame = connection.execute(
        f"SELECT batch_number, min(business_date) AS business_date, sum(coalesce({sales}, 0)) AS sales_cents, "
        "sum(coalesce(fee_cents, 0)) AS fee_cents FROM pipeline.settlement_reconciliation "
        "WHERE business_date BETWEEN ? AND ? AND fee_cents IS NOT NULL GROUP BY batch_number", [start, end]).df()
    frame["closed_at"] = pd.to_datetime(frame["business_date"]).dt.tz_localize("UTC")
    return frame.astype({k: v for k, v in _BATCH_DTYPES.items() if v != "object"})


def vault_links_before(connection: duckdb.DuckDBPyConnection, day: date, days: int) -> pd.DataFrame:
    """(customer_id, division, customer_no): vault ids earlier days' payments were matched to."""
    empty = pd.DataFrame({"customer_id": pd.Series(dtype=object), "division": pd.Series(dtype=object),
                          "customer_no": pd.Series(dtype=object)})
    if not _columns(connection, "customer_links") or not _columns(connection, "paytrace_transactions"):
        return empty
    return connection.execute(
        "SELECT DISTINCT t.customer_id, l.division, l.customer_no FROM pipeline.customer_links l "
        "JOIN pipeline.paytrace_transactions t USING (transaction_id) "
        "WHERE l.business_date BETWEEN ? AND ? AND coalesce(t.customer_id, '') <> ''",
        [day - timedelta(days=days), day - timedelta(days=1)]).df()
