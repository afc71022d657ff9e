"""The warehouse's refund log: intent -> written -> confirmed by read-back, for refunds and reversals.

Like receivables/posting_log.py, one row per (PayTrace id, kind): ``refund`` (a PayTrace REFUND
recorded in Sage: memos + card refund), ``receipt_reversal`` (a sale PayTrace voided after its
receipt posted; the id is the sale's), ``refund_reversal`` (a refund PayTrace voided; the id is the
refund's). The intent is committed *before* Sage is written, so a run that dies in between leaves
an ``intent`` row and the next run's look-up in Sage (by the refund id or the reversal reference)
finds what was written instead of writing it again. ``rejected``: Sage refused it; an exception
says why and a later run tries again. The settlement flow reads the confirmed ``refund`` rows
(`confirmed_refunds`) to know which refunds now pass through card clearing.

``amount_cents`` is the PayTrace amount (what counts against the sale's remaining amount);
``sage_amount_cents`` and ``fx_rate``: what Sage was given and at which rate, under a currency
conversion (NULL without one; README "Currencies").

``allocations_json``: what a refund takes from each open item of its sale's receipt
("IN:<invoice>" / "PP:<prepayment>" -> cents), so later refunds of the same sale never plan the
same credit twice; ``documents_json``: the Sage document numbers written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pandas as pd

TABLE = "pipeline.sage_refund_log"
KINDS = ("refund", "receipt_reversal", "refund_reversal")
STATES = ("intent", "written", "confirmed", "rejected")

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {TABLE} (
    transaction_id BIGINT NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN {KINDS}),
    sale_transaction_id BIGINT,
    division VARCHAR NOT NULL,
    customer_no VARCHAR NOT NULL,
    amount_cents BIGINT NOT NULL,
    state VARCHAR NOT NULL CHECK (state IN {STATES}),
    allocations_json VARCHAR NOT NULL DEFAULT '{{}}',
    documents_json VARCHAR NOT NULL DEFAULT '{{}}',
    error VARCHAR,
    business_date DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (transaction_id, kind)
);
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS sage_amount_cents BIGINT;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS fx_rate VARCHAR;
"""


@dataclass(frozen=True)
class RefundIntent:
    transaction_id: int
    kind: str
    sale_transaction_id: int | None
    division: str
    customer_no: str
    amount_cents: int
    business_date: date
    allocations: dict[str, int]
    sage_amount_cents: int | None = None  # under a currency conversion: the amount written to Sage
    fx_rate: str | None = None  # the rate it was converted at (the sale's, as its receipt recorded it)


class RefundLog:
    def __init__(self, connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
        self.connection = connection
        self.run_id = run_id
        connection.execute(_DDL)

    def entries(self, *, business_date: date | None = None, kind: str | None = None) -> pd.DataFrame:
        """Rows of one business day and/or one kind (all rows when neither is given)."""
        where: list[str] = []
        params: list[object] = []
        if business_date is not None:
            where.append("business_date = ?")
            params.append(business_date)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self.connection.execute(
            f"SELECT * FROM {TABLE}{clause} ORDER BY kind, transaction_id", params).df()

    def linked_refunds(self) -> pd.DataFrame:
        """(refund_id, sale_transaction_id, amount_cents, allocations_json) of every refund logged and not reversed:
        what counts against its sale's remaining amount."""
        return self.connection.execute(f"""
            SELECT r.transaction_id AS refund_id, r.sale_transaction_id, r.amount_cents, r.allocations_json
            FROM {TABLE} r
            WHERE r.kind = 'refund' AND r.state <> 'rejected' AND r.sale_transaction_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {TABLE} v WHERE v.kind = 'refund_reversal'
                              AND v.transaction_id = r.transaction_id AND v.state = 'confirmed')
            ORDER BY r.transaction_id""").df()

    def state_of(self, transaction_id: int, kind: str) -> str | None:
        row = self.connection.execute(f"SELECT state FROM {TABLE} WHERE transaction_id = ? AND kind = ?",
                                      [transaction_id, kind]).fetchone()
        return None if row is None else str(row[0])

    def record_intent(self, intent: RefundIntent) -> None:
        """Committed before the write. A row already written or confirmed is never reset."""
        self.connection.execute(f"""
            INSERT INTO {TABLE} (transaction_id, kind, sale_transaction_id, division, customer_no, amount_cents,
                                 state, allocations_json, business_date, run_id, updated_at, sage_amount_cents, fx_rate)
            VALUES (?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?, ?)
            ON CONFLICT (transaction_id, kind) DO UPDATE SET
                sale_transaction_id = excluded.sale_transaction_id, division = excluded.division,
                customer_no = excluded.customer_no, amount_cents = excluded.amount_cents,
                sage_amount_cents = excluded.sage_amount_cents, fx_rate = excluded.fx_rate,
                allocations_json = excluded.allocations_json, state = 'intent', error = NULL,
                run_id = excluded.run_id, updated_at = excluded.updated_at
            WHERE {TABLE}.state IN ('intent', 'rejected')
        """, [intent.transaction_id, intent.kind, intent.sale_transaction_id, intent.division, intent.customer_no,
              intent.amount_cents, json.dumps(intent.allocations, sort_keys=True), intent.business_date,
              self.run_id, _now(), intent.sage_amount_cents, intent.fx_rate])

    def record_written(self, transaction_id: int, kind: str, documents: dict[str, Any]) -> None:
        self._set(transaction_id, kind, state="written", documents_json=json.dumps(documents, sort_keys=True))

    def record_confirmed(self, transaction_id: int, kind: str, documents: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"state": "confirmed", "error": None}
        if documents is not None:
            values["documents_json"] = json.dumps(documents, sort_keys=True)
        self._set(transaction_id, kind, **values)

    def record_written_many(self, kind: str, written: dict[int, dict[str, Any]]) -> None:
        """`record_written` of many ids in one statement (one commit of the warehouse)."""
        if not written:
            return
        frame = pd.DataFrame({"transaction_id": pd.Series(list(written), dtype="int64"),
                              "documents_json": [json.dumps(documents, sort_keys=True)
                                                 for documents in written.values()]})
        self.connection.register("written_documents", frame)
        try:
            self.connection.execute(f"""
                UPDATE {TABLE} SET state = 'written', documents_json = w.documents_json, run_id = ?,
                                   updated_at = ?
                FROM written_documents w WHERE {TABLE}.transaction_id = w.transaction_id AND {TABLE}.kind = ?
            """, [self.run_id, _now(), kind])
        finally:
            self.connection.unregister("written_documents")

    def record_confirmed_many(self, kind: str, transaction_ids: list[int]) -> None:
        """`record_confirmed` (documents as logged) of many ids in one statement."""
        if not transaction_ids:
            return
        self.connection.execute(
            f"UPDATE {TABLE} SET state = 'confirmed', error = NULL, run_id = ?, updated_at = ? "
            f"WHERE kind = ? AND transaction_id IN (SELECT unnest(?::BIGINT[]))",
            [self.run_id, _now(), kind, [int(i) for i in transaction_ids]])

    def record_rejected(self, transaction_id: int, kind: str, error: str) -> None:
        self._set(transaction_id, kind, state="rejected", error=error)

    def _set(self, transaction_id: int, kind: str, **values: Any) -> None:
        values["run_id"] = self.run_id
        values["updated_at"] = _now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.connection.execute(f"UPDATE {TABLE} SET {assignments} WHERE transaction_id = ? AND kind = ?",
                                [*values.values(), transaction_id, kind])


def confirmed_refunds(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The PayTrace refunds Sage holds through this flow (settlement: they pass through card clearing)."""
    connection.execute(_DDL)
    return connection.execute(
        f"SELECT transaction_id, sale_transaction_id, amount_cents, business_date FROM {TABLE} "
        "WHERE kind = 'refund' AND state = 'confirmed' ORDER BY transaction_id").df()


def _now() -> datetime:
    return datetime.now(UTC)
