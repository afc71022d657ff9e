"""The warehouse's refund log: intent -> written -> confirmed by read-back, for refunds and reversals.

Like receivables/posting_log.py, one row per (PayTrace id, kind): ``refund`` (a PayTrace REFUND
recorded in Sage: memos + card refund), ``receipt_reversal`` (a sale PayTrace voided after its
receipt posted; the id is the sale's), ``refund_reversal`` (a refund PayTrace voided; the id is the
refund's). The intent is committed *before* Sage is written (with a writer committing a day's documents
at once: before that commit, the day's intents in one statement, `RefundLog.one_commit`), so a run
that dies in between leaves an ``intent`` row and the next run's look-up in Sage (by the refund id
or the reversal reference) finds what was written instead of writing it again. ``rejected``: Sage
refused it; an exception says why and a later run tries again. The settlement flow reads the confirmed ``refund`` rows
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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd

TABLE = "pipeline.sage_refund_log"
KINDS = ("refund", "receipt_reversal", "refund_reversal")
STATES = ("intent", "written", "confirmed", "rejected")

_UPSERT_INTENT = f"""
    ON CONFLICT (transaction_id, kind) DO UPDATE SET
        sale_transaction_id = excluded.sale_transaction_id, division = excluded.division,
        customer_no = excluded.customer_no, amount_cents = excluded.amount_cents,
        sage_amount_cents = excluded.sage_amount_cents, fx_rate = excluded.fx_rate,
        allocations_json = excluded.allocations_json, state = 'intent', error = NULL,
        run_id = excluded.run_id, updated_at = excluded.updated_at
    WHERE {TABLE}.state IN ('intent', 'rejected')"""

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
        # in `one_commit`: intents held back to go in one statement, and the linked refunds as read then
        self._deferred: dict[tuple[int, str], RefundIntent] | None = None
        self._linked_read: _LinkedRead | None = None

    @contextmanager
    def one_commit(self) -> Iterator[None]:
        """The block's log rows in one warehouse transaction, its intents in one statement (an upsert costs
        milliseconds a statement): sent before any other statement of the block and at its end, and
        `linked_refunds` answers with them as if they were sent. Only around writes Sage commits *after*
        the block (inside the writer's one-transaction block), so every intent is still committed before
        Sage holds its documents. An error rolls the block's rows back, as the writer's block rolls its
        documents back."""
        self.connection.begin()
        self._deferred = {}
        try:
            yield
            self._send_deferred()
        except BaseException:
            self._deferred, self._linked_read = None, None
            self.connection.rollback()
            raise
        self._deferred, self._linked_read = None, None
        self.connection.commit()

    def _send_deferred(self) -> None:
        """The held-back intents in one upsert (as `record_intent` would have sent them one by one)."""
        if not self._deferred:
            return
        intents = list(self._deferred.values())
        self._deferred.clear()
        self._linked_read = None
        frame = pd.DataFrame({
            "transaction_id": pd.Series([i.transaction_id for i in intents], dtype="int64"),
            "kind": [i.kind for i in intents],
            "sale_transaction_id": pd.Series([i.sale_transaction_id for i in intents], dtype="Int64"),
            "division": [i.division for i in intents], "customer_no": [i.customer_no for i in intents],
            "amount_cents": pd.Series([i.amount_cents for i in intents], dtype="int64"),
            "allocations_json": [json.dumps(i.allocations, sort_keys=True) for i in intents],
            "business_date": [i.business_date.isoformat() for i in intents],
            "sage_amount_cents": pd.Series([i.sage_amount_cents for i in intents], dtype="Int64"),
            "fx_rate": pd.Series([i.fx_rate for i in intents], dtype=object)})
        self.connection.register("deferred_refund_intents", frame)
        try:
            self.connection.execute(f"""
                INSERT INTO {TABLE} (transaction_id, kind, sale_transaction_id, division, customer_no, amount_cents,
                                     state, allocations_json, business_date, run_id, updated_at,
                                     sage_amount_cents, fx_rate)
                SELECT transaction_id, kind, sale_transaction_id, division, customer_no, amount_cents, 'intent',
                       allocations_json, CAST(business_date AS DATE), ?, ?,
                       CAST(sage_amount_cents AS BIGINT), CAST(fx_rate AS VARCHAR)
                FROM deferred_refund_intents
                {_UPSERT_INTENT}""", [self.run_id, _now()])
        finally:
            self.connection.unregister("deferred_refund_intents")

    def _statement(self) -> None:
        """Before any other statement: the held-back intents go first; a write makes the read stale."""
        self._send_deferred()
        self._linked_read = None

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
        self._send_deferred()
        return self.connection.execute(
            f"SELECT * FROM {TABLE}{clause} ORDER BY kind, transaction_id", params).df()

    def linked_refunds(self) -> pd.DataFrame:
        """(refund_id, sale_transaction_id, amount_cents, allocations_json) of every refund logged and not reversed:
        what counts against its sale's remaining amount."""
        if self._deferred is None:
            return self._linked_in_warehouse()
        if self._linked_read is None:
            self._linked_read = self._read_linked()
        return self._linked_read.with_intents(self._deferred.values())

    def linked_refunds_of_sale(self, sale_id: int) -> list[LinkedRefund]:
        """`linked_refunds` rows of one sale, in the same order, as plain tuples: what a refund of it plans
        around, without building a frame of every sale's rows (they grow with the year) for each refund."""
        if self._deferred is None:
            return _linked_rows(self._linked_in_warehouse(sale_id))
        if self._linked_read is None:
            self._linked_read = self._read_linked()
        return self._linked_read.of_sale(self._deferred.values(), sale_id)

    def confirmed_ids(self, kind: str) -> np.ndarray:
        """The ids of the confirmed `kind` rows, as one array (int64): they grow with the year, and a frame of
        every row of the kind (`entries`) cost a day tens of milliseconds where this costs one or two."""
        self._send_deferred()
        found = self.connection.execute(f"SELECT transaction_id FROM {TABLE} WHERE kind = ? AND state = 'confirmed'",
                                        [kind]).fetchnumpy()
        return np.asarray(found["transaction_id"], dtype="int64")

    def _read_linked(self) -> _LinkedRead:
        """The warehouse's linked refunds, refund states and reversals, as `one_commit`'s reads answer from."""
        self._send_deferred()
        return _LinkedRead(self._linked_in_warehouse(), self._refund_states(), self._reversed())

    def _refund_states(self) -> _States:
        # as arrays (the rows grow with the year): a day asks for the states of its few intents only
        found = self.connection.execute(
            f"SELECT transaction_id, state FROM {TABLE} WHERE kind = 'refund' ORDER BY transaction_id").fetchnumpy()
        return _States(np.asarray(found["transaction_id"], dtype="int64"), np.asarray(found["state"], dtype=object))

    def _reversed(self) -> set[int]:
        rows = self.connection.execute(f"SELECT transaction_id FROM {TABLE} WHERE kind = 'refund_reversal' "
                                       "AND state = 'confirmed'").fetchall()
        return {int(row[0]) for row in rows}

    def _linked_in_warehouse(self, sale_id: int | None = None) -> pd.DataFrame:
        of_sale = "AND r.sale_transaction_id = ?" if sale_id is not None else ""
        return self.connection.execute(f"""
            SELECT r.transaction_id AS refund_id, r.sale_transaction_id, r.amount_cents, r.allocations_json
            FROM {TABLE} r
            WHERE r.kind = 'refund' AND r.state <> 'rejected' AND r.sale_transaction_id IS NOT NULL {of_sale}
              AND NOT EXISTS (SELECT 1 FROM {TABLE} v WHERE v.kind = 'refund_reversal'
                              AND v.transaction_id = r.transaction_id AND v.state = 'confirmed')
            ORDER BY r.transaction_id""", [] if sale_id is None else [int(sale_id)]).df()

    def state_of(self, transaction_id: int, kind: str) -> str | None:
        self._send_deferred()
        row = self.connection.execute(f"SELECT state FROM {TABLE} WHERE transaction_id = ? AND kind = ?",
                                      [transaction_id, kind]).fetchone()
        return None if row is None else str(row[0])

    def record_intent(self, intent: RefundIntent) -> None:
        """Committed before the write. A row already written or confirmed is never reset. In `one_commit`
        held back until the block's next other statement or its end (still before Sage commits)."""
        if self._deferred is not None:
            self._deferred[(intent.transaction_id, intent.kind)] = intent
            return
        self._statement()
        self.connection.execute(f"""
            INSERT INTO {TABLE} (transaction_id, kind, sale_transaction_id, division, customer_no, amount_cents,
                                 state, allocations_json, business_date, run_id, updated_at, sage_amount_cents, fx_rate)
            VALUES (?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?, ?)
            {_UPSERT_INTENT}""",
            [intent.transaction_id, intent.kind, intent.sale_transaction_id, intent.division, intent.customer_no,
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
        self._statement()
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
        self._statement()
        self.connection.execute(
            f"UPDATE {TABLE} SET state = 'confirmed', error = NULL, run_id = ?, updated_at = ? "
            f"WHERE kind = ? AND transaction_id IN (SELECT unnest(?::BIGINT[]))",
            [self.run_id, _now(), kind, [int(i) for i in transaction_ids]])

    def record_rejected(self, transaction_id: int, kind: str, error: str) -> None:
        self._set(transaction_id, kind, state="rejected", error=error)

    def _set(self, transaction_id: int, kind: str, **values: Any) -> None:
        self._statement()
        values["run_id"] = self.run_id
        values["updated_at"] = _now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.connection.execute(f"UPDATE {TABLE} SET {assignments} WHERE transaction_id = ? AND kind = ?",
                                [*values.values(), transaction_id, kind])


@dataclass(frozen=True)
class _LinkedRead:
    """`linked_refunds` as the warehouse held it, with what the held-back intents change in it."""

    linked: pd.DataFrame
    states: _States  # refund id -> state of its `refund` row
    reversed: set[int]  # refunds with a confirmed `refund_reversal`
    _by_sale: list[_RowsBySale] = field(default_factory=list)  # `linked` indexed by sale, when first asked

    def with_intents(self, intents: Iterable[RefundIntent]) -> pd.DataFrame:
        """The rows the upsert would leave: an intent replaces a new, `intent` or `rejected` row (never a
        written or confirmed one) and counts unless it names no sale or its refund was reversed."""
        changing = self._changing(intents)
        if not changing:
            return self.linked.copy()
        counting = [intent for intent in changing
                    if intent.sale_transaction_id is not None and intent.transaction_id not in self.reversed]
        added = pd.DataFrame({
            "refund_id": pd.Series([i.transaction_id for i in counting], dtype="int64"),
            "sale_transaction_id": pd.Series([i.sale_transaction_id for i in counting], dtype="int64"),
            "amount_cents": pd.Series([i.amount_cents for i in counting], dtype="int64"),
            "allocations_json": pd.Series([json.dumps(i.allocations, sort_keys=True) for i in counting],
                                          dtype="object")})
        # column-wise (the log's linked refunds grow with the year): a refund's earlier row gives way to its intent
        kept = self.linked[~self.linked["refund_id"].isin([intent.transaction_id for intent in changing])]
        frame = pd.concat([kept, added[list(self.linked.columns)]], ignore_index=True)
        return frame.sort_values("refund_id", kind="stable").reset_index(drop=True).astype(
            {"refund_id": "int64", "sale_transaction_id": "int64", "amount_cents": "int64"})

    def of_sale(self, intents: Iterable[RefundIntent], sale_id: int) -> list[LinkedRefund]:
        """`with_intents` rows of one sale, as tuples."""
        changing = self._changing(intents)
        replaced = {intent.transaction_id for intent in changing}
        if not self._by_sale:
            self._by_sale.append(_RowsBySale.of(self.linked))
        rows = [row for row in self._by_sale[0].rows(int(sale_id)) if row.refund_id not in replaced]
        rows += [LinkedRefund(intent.transaction_id, int(sale_id), intent.amount_cents,
                              json.dumps(intent.allocations, sort_keys=True)) for intent in changing
                 if intent.sale_transaction_id == sale_id and intent.transaction_id not in self.reversed]
        return sorted(rows, key=lambda row: row.refund_id)  # stable, as the frame's sort

    def _changing(self, intents: Iterable[RefundIntent]) -> list[RefundIntent]:
        return [intent for intent in intents if intent.kind == "refund"
                and self.states.get(intent.transaction_id) in (None, "intent", "rejected")]


@dataclass(frozen=True)
class _RowsBySale:
    """`linked_refunds` rows as columns sorted by sale (stably: a sale's rows keep their refund-id order), so a
    sale's rows are a sorted search away: a day's refunds each ask for their sale, and turning every sale's rows
    of the year into tuples for them cost more than the rest of their planning."""

    sales: np.ndarray
    refund_ids: np.ndarray
    cents: np.ndarray
    allocations: np.ndarray

    @classmethod
    def of(cls, linked: pd.DataFrame) -> _RowsBySale:
        sales = linked["sale_transaction_id"].to_numpy(dtype="int64")
        order = np.argsort(sales, kind="stable")
        return cls(sales[order], linked["refund_id"].to_numpy(dtype="int64")[order],
                   linked["amount_cents"].to_numpy(dtype="int64")[order],
                   linked["allocations_json"].to_numpy(dtype=object)[order])

    def rows(self, sale_id: int) -> list[LinkedRefund]:
        first, end = (int(at) for at in np.searchsorted(self.sales, [sale_id, sale_id + 1]))
        return [LinkedRefund(int(self.refund_ids[at]), sale_id, int(self.cents[at]), str(self.allocations[at]))
                for at in range(first, end)]


@dataclass(frozen=True)
class _States:
    """The log's `refund` rows' states by refund id, as two arrays sorted by id (a dict of the year's rows
    cost a day more than its few look-ups)."""

    ids: np.ndarray  # int64, ascending (the primary key: each once)
    states: np.ndarray

    def get(self, refund_id: int) -> str | None:
        at = int(np.searchsorted(self.ids, refund_id))
        return str(self.states[at]) if at < len(self.ids) and self.ids[at] == refund_id else None


class LinkedRefund(NamedTuple):
    """A `linked_refunds` row."""

    refund_id: int
    sale_transaction_id: int
    amount_cents: int
    allocations_json: str


def _linked_rows(frame: pd.DataFrame) -> list[LinkedRefund]:
    columns = frame[["refund_id", "sale_transaction_id", "amount_cents", "allocations_json"]]
    return [LinkedRefund(int(refund), int(sale), int(cents), str(allocations))
            for refund, sale, cents, allocations in columns.itertuples(index=False)]


def confirmed_refunds(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The PayTrace refunds Sage holds through this flow (settlement: they pass through card clearing)."""
    connection.execute(_DDL)
    return connection.execute(
        f"SELECT transaction_id, sale_transaction_id, amount_cents, business_date FROM {TABLE} "
        "WHERE kind = 'refund' AND state = 'confirmed' ORDER BY transaction_id").df()


def _now() -> datetime:
    return datetime.now(UTC)
