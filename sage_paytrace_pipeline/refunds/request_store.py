"""The warehouse's refund requests: one row per request (its current state) and every transition as an event.

`pipeline.refund_requests` holds the request (keyed by its credit memo, `request_id`), and
`pipeline.refund_request_events` one row per transition with time, actor and reason, so a request's
history is readable and auditable. Every state change goes through `transition`, which checks the
life cycle (domain/refunds/requests.py) and writes the row and its event together.

`sent` is committed before the money call (with the action and the SPR invoice_id): a crash after
it leaves a request the next run resolves by look-up, never by sending again blindly.

`amount_cents` is the credit memo's amount, in the Sage company's currency (what the clerk entered
and what is recorded against the memo). Under a currency conversion `paytrace_amount_cents` and
`fx_rate` are what PayTrace is (or would be) asked to refund and the rate of the sale's receipt it
was converted at (README "Currencies"); without one they stay NULL / '' and PayTrace is asked for
`amount_cents`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.refunds.requests import STATES, check_transition

TABLE = "pipeline.refund_requests"
EVENTS = "pipeline.refund_request_events"

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {TABLE} (
    request_id VARCHAR PRIMARY KEY,
    division VARCHAR NOT NULL,
    customer_no VARCHAR NOT NULL,
    memo_no VARCHAR NOT NULL,
    memo_seq VARCHAR NOT NULL,
    apply_to_invoice_no VARCHAR NOT NULL,
    sale_transaction_id BIGINT,
    amount_cents BIGINT NOT NULL,
    payment_type VARCHAR NOT NULL DEFAULT '',
    reason VARCHAR NOT NULL DEFAULT '',
    requested_by VARCHAR NOT NULL DEFAULT '',
    requested_at TIMESTAMPTZ NOT NULL,
    state VARCHAR NOT NULL CHECK (state IN {STATES}),
    action VARCHAR NOT NULL DEFAULT '' CHECK (action IN ('', 'void', 'refund')),
    paytrace_transaction_id BIGINT,
    invoice_id VARCHAR NOT NULL,
    approved_by VARCHAR NOT NULL DEFAULT '',
    error VARCHAR NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS {EVENTS} (
    request_id VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    from_state VARCHAR NOT NULL,
    to_state VARCHAR NOT NULL,
    actor VARCHAR NOT NULL,
    reason VARCHAR NOT NULL
);
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS paytrace_amount_cents BIGINT;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS fx_rate VARCHAR DEFAULT '';
"""


@dataclass(frozen=True)
class RefundRequest:
    request_id: str
    division: str
    customer_no: str
    memo_no: str
    memo_seq: str
    apply_to_invoice_no: str
    sale_transaction_id: int | None
    amount_cents: int
    payment_type: str
    reason: str
    requested_by: str
    requested_at: datetime
    state: str
    action: str
    paytrace_transaction_id: int | None
    invoice_id: str
    approved_by: str
    error: str
    updated_at: datetime
    paytrace_amount_cents: int | None = None  # under a conversion: what PayTrace refunds (its currency)
    fx_rate: str = ""  # under a conversion: the sale's receipt's rate it was converted at

    @property
    def paytrace_cents(self) -> int:
        """What PayTrace is asked to refund: the memo's amount converted, or the memo's amount itself."""
        return self.amount_cents if self.paytrace_amount_cents is None else self.paytrace_amount_cents


COLUMNS = tuple(f.name for f in fields(RefundRequest))


class RequestStore:
    """The two tables on one DuckDB connection (the caller holds the duckdb pool)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, *, create: bool = True) -> None:
        self.connection = connection
        if create:  # create=False: a reader's read-only connection, on tables that exist
            connection.execute(_DDL)
        self._select = ", ".join(COLUMNS) if create else self._readable_columns()

    def _readable_columns(self) -> str:
        """The columns to select from a table a reader cannot alter: one written before the currency
        columns existed reads them as not converted."""
        present = {row[0] for row in self.connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pipeline' "
            "AND table_name = 'refund_requests'").fetchall()}
        added = {"paytrace_amount_cents": "CAST(NULL AS BIGINT) AS paytrace_amount_cents", "fx_rate": "'' AS fx_rate"}
        return ", ".join(column if column in present or column not in added else added[column] for column in COLUMNS)

    # -------------------------------------------------------------- reads

    def frame(self, state: str | None = None) -> pd.DataFrame:
        return self._query(state).df()

    def all(self, state: str | None = None) -> list[RefundRequest]:
        # rows as `get` reads them, not through a DataFrame: a run lists the queue several times a day
        return [_request(dict(zip(COLUMNS, row, strict=True))) for row in self._query(state).fetchall()]

    def _query(self, state: str | None) -> duckdb.DuckDBPyConnection:
        sql = f"SELECT {self._select} FROM {TABLE}"
        params: list[object] = []
        if state:
            sql += " WHERE state = ?"
            params.append(state)
        return self.connection.execute(sql + " ORDER BY requested_at, request_id", params)

    def get(self, request_id: str) -> RefundRequest | None:
        rows = self.connection.execute(f"SELECT {self._select} FROM {TABLE} WHERE request_id = ?",
                                       [request_id]).fetchall()
        return _request(dict(zip(COLUMNS, rows[0], strict=True))) if rows else None

    def events(self, request_id: str | None = None) -> pd.DataFrame:
        where, params = ("WHERE request_id = ?", [request_id]) if request_id else ("", [])
        return self.connection.execute(
            f'SELECT request_id, "at", from_state, to_state, actor, reason FROM {EVENTS} {where} '
            'ORDER BY "at", rowid', params).df()

    # -------------------------------------------------------------- writes

    def add(self, request: RefundRequest, *, actor: str, reason: str) -> bool:
        """A new request (state `requested`) with its first event; False when it exists already."""
        if self.get(request.request_id) is not None:
            return False
        now = _now()
        values = {**vars(request), "state": "requested", "updated_at": now}
        self.connection.execute("BEGIN TRANSACTION")
        try:
            self.connection.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                [values[column] for column in COLUMNS])
            self._event(request.request_id, now, "", "requested", actor=actor, reason=reason)
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        return True

    def transition(self, request_id: str, to_state: str, *, actor: str, reason: str, **values: object) -> RefundRequest:
        """Move a request to `to_state` (checked against the life cycle), setting `values` with it."""
        current = self.get(request_id)
        if current is None:
            raise KeyError(f"no refund request {request_id}")
        check_transition(current.state, to_state)
        return self._write(current, to_state, actor=actor, reason=reason, values=values)

    def note(self, request_id: str, *, actor: str, reason: str, **values: object) -> RefundRequest:
        """An event without a state change (a dry run, a wait that goes on), with `values` set."""
        current = self.get(request_id)
        if current is None:
            raise KeyError(f"no refund request {request_id}")
        return self._write(current, current.state, actor=actor, reason=reason, values=values)

    def _write(self, current: RefundRequest, to_state: str, *, actor: str, reason: str,
               values: dict[str, object]) -> RefundRequest:
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown request columns: {sorted(unknown)}")
        now = _now()
        update = {**values, "state": to_state, "updated_at": now}
        assignments = ", ".join(f"{column} = ?" for column in update)
        self.connection.execute("BEGIN TRANSACTION")
        try:
            # the state in the WHERE: a concurrent change makes this update touch nothing
            changed = self.connection.execute(
                f"UPDATE {TABLE} SET {assignments} WHERE request_id = ? AND state = ? RETURNING request_id",
                [*update.values(), current.request_id, current.state]).fetchall()
            if not changed:
                raise RuntimeError(f"refund request {current.request_id} changed meanwhile; run again")
            self._event(current.request_id, now, current.state, to_state, actor=actor, reason=reason)
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        result = self.get(current.request_id)
        assert result is not None
        return result

    def _event(self, request_id: str, at: datetime, from_state: str, to_state: str, *, actor: str,
               reason: str) -> None:
        self.connection.execute(f"INSERT INTO {EVENTS} VALUES (?, ?, ?, ?, ?, ?)",
                                [request_id, at, from_state, to_state, actor, reason])


def _now() -> datetime:
    return datetime.now(UTC)


def _request(row: dict) -> RefundRequest:
    def optional_int(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    return RefundRequest(**{
        **{column: row[column] for column in COLUMNS},
        "sale_transaction_id": optional_int(row["sale_transaction_id"]),
        "paytrace_transaction_id": optional_int(row["paytrace_transaction_id"]),
        "amount_cents": int(row["amount_cents"]),
        "paytrace_amount_cents": optional_int(row["paytrace_amount_cents"]),
        "fx_rate": "" if row["fx_rate"] is None or pd.isna(row["fx_rate"]) else str(row["fx_rate"]),
        "requested_at": pd.Timestamp(row["requested_at"]).to_pydatetime(),
        "updated_at": pd.Timestamp(row["updated_at"]).to_pydatetime(),
    })
