"""Which PayTrace refunds of the settled batches Sage already holds as card refunds (the refund flow).

A refund the refunds flow recorded in Sage (`record_card_refund`: Dr AR / Cr the payment type's card
clearing account) took its money out of clearing, so the batch's deposit entry debits clearing for
it instead of expensing it (`domain.settlement.RefundFlow`). The flow keeps its own logs in the
warehouse, as receivables keeps the posting log, and settlement reads them the same way:

- `pipeline.sage_refund_log`: PayTrace-side refunds, one row per refund id and kind; the confirmed
  'refund' rows were read back from Sage.
- `pipeline.refund_requests`: refunds asked for in Sage and sent by the pipeline; state 'recorded'
  with action 'refund' = the refund (paytrace_transaction_id) is recorded in Sage against the
  clerk's credit memo. (A void is recorded too, but a voided sale is in no batch.)

Neither table is created here: a table that does not exist yet means nothing recorded.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

REFUND_LOG = ("pipeline", "sage_refund_log")
REFUND_REQUESTS = ("pipeline", "refund_requests")

_RECORDED = {
    REFUND_LOG: "SELECT transaction_id FROM pipeline.sage_refund_log "
                "WHERE kind = 'refund' AND state = 'confirmed'",
    REFUND_REQUESTS: "SELECT paytrace_transaction_id AS transaction_id FROM pipeline.refund_requests "
                     "WHERE action = 'refund' AND state = 'recorded'",
}


def refunds_recorded_in_sage(connection: duckdb.DuckDBPyConnection, refund_ids: Iterable[int]) -> frozenset[int]:
    """The given PayTrace refund ids that the refunds flow recorded in Sage (one query per log)."""
    wanted = pd.DataFrame({"transaction_id": pd.Series(sorted({int(i) for i in refund_ids}), dtype="int64")})
    if wanted.empty:
        return frozenset()
    found: set[int] = set()
    connection.register("wanted_refund_ids", wanted)
    try:
        for table, query in _RECORDED.items():
            if _exists(connection, table):
                rows = connection.execute(f"SELECT DISTINCT recorded.transaction_id FROM ({query}) recorded "
                                          "JOIN wanted_refund_ids USING (transaction_id)").fetchall()
                found.update(int(row[0]) for row in rows)
    finally:
        connection.unregister("wanted_refund_ids")
    return frozenset(found)


def refunds_in_sage_currency(connection: duckdb.DuckDBPyConnection,
                             refund_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Under a currency conversion: the Sage amount and rate each given refund was recorded at (refund
    id -> (cents, rate)): a PayTrace-side refund's card refund, or a request's (the clerk's memo
    amount, converted at the sale's rate); refunds recorded without a conversion are absent."""
    wanted = pd.DataFrame({"transaction_id": pd.Series(sorted({int(i) for i in refund_ids}), dtype="int64")})
    if wanted.empty:
        return {}
    queries = {
        (REFUND_LOG, "sage_amount_cents"): "SELECT transaction_id, sage_amount_cents, fx_rate FROM "
        "pipeline.sage_refund_log JOIN wanted_refund_ids USING (transaction_id) WHERE kind = 'refund' "
        "AND state = 'confirmed' AND sage_amount_cents IS NOT NULL",
        (REFUND_REQUESTS, "paytrace_amount_cents"): "SELECT paytrace_transaction_id, amount_cents, fx_rate FROM "
        "pipeline.refund_requests r JOIN wanted_refund_ids w ON w.transaction_id = r.paytrace_transaction_id "
        "WHERE action = 'refund' AND state = 'recorded' AND paytrace_amount_cents IS NOT NULL",
    }
    found: dict[int, tuple[int, str]] = {}
    connection.register("wanted_refund_ids", wanted)
    try:
        for (table, column), query in queries.items():
            # a table not there yet, or written before conversions existed: nothing recorded converted
            if _exists(connection, table) and column in _columns(connection, table):
                found |= {int(refund): (int(cents), str(rate or ""))
                          for refund, cents, rate in connection.execute(query).fetchall()}
    finally:
        connection.unregister("wanted_refund_ids")
    return found


def _columns(connection: duckdb.DuckDBPyConnection, table: tuple[str, str]) -> set[str]:
    schema, name = table
    return {row[0] for row in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, name]).fetchall()}


def _exists(connection: duckdb.DuckDBPyConnection, table: tuple[str, str]) -> bool:
    schema, name = table
    (count,), = connection.execute(  # fetchall: a result left unfetched blocks the connection
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name]).fetchall()
    return bool(count)
