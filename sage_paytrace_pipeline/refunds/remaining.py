"""What remains refundable of a sale: its amount, less the PayTrace refunds of it the warehouse holds
and the other requests in flight. One function for the sender (just before the money call, with the
sale as PayTrace says) and for whoever shows it beforehand (the console's approvals, from the warehouse).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.refunds.requests import (
    IN_FLIGHT_STATES,
    RECORDED,
    SaleSnapshot,
    is_request_invoice_id,
)
from sage_paytrace_pipeline.refunds.request_store import RefundRequest

TRANSACTIONS_TABLE = "pipeline.paytrace_transactions"


def sale_snapshot(request: RefundRequest, requests: list[RefundRequest], refunds: pd.DataFrame, *,
                  transaction_id: int, status: str, amount_cents: int, invoice_id: str,
                  card_last4: str | None) -> SaleSnapshot:
    """The sale with what is refunded of it (`refunds`: the warehouse's PayTrace refunds) and in flight."""
    refunds = refunds[~refunds["status"].isin(["VOIDED", "DECLINED"])]
    others = [r for r in requests if r.sale_transaction_id == transaction_id
              and r.request_id != request.request_id and r.action == "refund"
              and r.state in (*IN_FLIGHT_STATES, RECORDED)]
    ours = refunds["invoice_id"].isin([r.invoice_id for r in others])
    # refunds made in PayTrace itself carry the sale's invoice_id (and card); ours an SPR id
    same_sale = (refunds["invoice_id"] == invoice_id) & (refunds["card_last4"] == card_last4) \
        & ~refunds["invoice_id"].map(is_request_invoice_id) & bool(invoice_id)
    refunded = int(refunds.loc[ours | same_sale, "amount_cents"].sum())
    seen = set(refunds["invoice_id"])
    in_flight = sum(r.paytrace_cents for r in others if r.invoice_id not in seen)
    return SaleSnapshot(transaction_id=transaction_id, status=status, amount_cents=amount_cents,
                        refunded_cents=refunded, in_flight_cents=in_flight,
                        refunded_in_paytrace_cents=int(refunds.loc[same_sale & ~ours, "amount_cents"].sum()))


def warehouse_refunds(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every PayTrace REFUND the warehouse holds (all partitions, latest row per id), one query."""
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'paytrace_transactions'").fetchall()[0][0]
    columns = ["transaction_id", "invoice_id", "amount_cents", "status", "card_last4"]
    if not exists:
        return pd.DataFrame({column: pd.Series(dtype="object") for column in columns})
    return connection.execute(f"""
        SELECT {', '.join(columns)} FROM {TRANSACTIONS_TABLE} WHERE transaction_type = 'REFUND'
        QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY business_date DESC) = 1
    """).df()
