"""Cases and their stages in the warehouse, rebuilt from the loaded reports each run.

`pipeline.dispute_stage_store` holds every stage of every case once (with the money it moves);
`pipeline.dispute_case_store` one row per case (current stage, status, due dates, sale, what to send).
Both are derived from the report rows and the warehouse's PayTrace sales, so they are replaced
whole in one transaction. Other flows read `pipeline.dispute_case_store` by SQL (the refund flow's
block: `sales_under_dispute`).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.disputes.cases import case_summary, no_cases, stage_history
from sage_paytrace_pipeline.domain.disputes.linking import approved_sales, link_cases

CASES = "pipeline.dispute_case_store"
STAGES = "pipeline.dispute_stage_store"
_TRANSACTIONS = "pipeline.paytrace_transactions"


def warehouse_sales(connection: duckdb.DuckDBPyConnection, card_last4: set[str]) -> pd.DataFrame:
    """The approved sales on the cases' cards (latest row per id), one query; none before the table exists."""
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'paytrace_transactions'").fetchall()[0][0]
    columns = ["transaction_id", "transaction_type", "status", "business_date", "amount_cents", "card_last4",
               "approval_code", "invoice_id"]
    if not exists or not card_last4:
        return approved_sales(pd.DataFrame(columns=columns))
    connection.register("dispute_cards", pd.DataFrame({"card_last4": sorted(card_last4)}))
    try:
        frame = connection.execute(f"""
            SELECT {", ".join("t." + c for c in columns)} FROM {_TRANSACTIONS} t JOIN dispute_cards USING (card_last4)
            QUALIFY row_number() OVER (PARTITION BY t.transaction_id ORDER BY t.business_date DESC) = 1""").df()
    finally:
        connection.unregister("dispute_cards")
    return approved_sales(frame)


def build_cases(rows: pd.DataFrame, sales: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stages, cases) of the report rows against the sales."""
    if rows.empty:
        return rows.head(0), no_cases()
    history = stage_history(rows.drop(columns=["sha256"], errors="ignore"))
    cases = case_summary(history, link_cases(history, sales))
    return history, cases


def save(connection: duckdb.DuckDBPyConnection, stages: pd.DataFrame, cases: pd.DataFrame) -> None:
    connection.execute("CREATE SCHEMA IF NOT EXISTS pipeline")
    connection.execute("BEGIN TRANSACTION")
    try:
        for table, frame in ((STAGES, stages), (CASES, cases)):
            connection.register("dispute_frame", frame)
            connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM dispute_frame")
            connection.unregister("dispute_frame")
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise


def saved_cases(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not _exists(connection, "dispute_case_store"):
        return no_cases()
    frame = connection.execute(f"SELECT * FROM {CASES} ORDER BY merchant_due_date NULLS LAST, case_number").df()
    for column in ("merchant_due_date", "network_due_date", "received_date", "last_activity_date", "transaction_date"):
        if column in frame:
            frame[column] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in frame[column]]
    return frame


def saved_stages(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stage of every case as the last dispute run saved them (none before the first)."""
    if not _exists(connection, "dispute_stage_store"):
        return pd.DataFrame(columns=["case_number", "stage", "taken_cents", "fee_cents"])
    return connection.execute(f"SELECT * FROM {STAGES} ORDER BY chain, activity_date").df()


def sales_under_dispute(connection: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Sale id -> a case disputing it that the merchant has not won: open (the money is taken or may
    be), lost or accepted (the cardholder has it back already); a linked case's sale, and every
    candidate of a case whose sale is ambiguous (any of them may be the one)."""
    if not _exists(connection, "dispute_case_store"):
        return {}
    rows = connection.execute(f"SELECT case_number, sale_transaction_id, link, candidates FROM {CASES} "
                              "WHERE status <> 'won' ORDER BY case_number").fetchall()
    blocked: dict[int, str] = {}
    for case_number, sale, link, candidates in rows:
        ids = [int(sale)] if link == "linked" and sale is not None and not pd.isna(sale) else []
        if link == "ambiguous":
            ids = [int(c) for c in str(candidates).split(",") if c.strip().isdigit()]
        for sale_id in ids:
            blocked.setdefault(sale_id, str(case_number))
    return blocked


def _exists(connection: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                   "AND table_name = ?", [table]).fetchall()[0][0])
