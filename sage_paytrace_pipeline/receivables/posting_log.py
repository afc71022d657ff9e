"""The warehouse's posting log: intent -> written (Sage document numbers) -> confirmed by read-back.

One row per PayTrace transaction id (the primary key), so the log itself cannot hold a payment
twice. The intent is committed *before* Sage is written: a run that dies after Sage took the
receipt but before the log recorded it leaves an `intent` row, and the next run's look-up in Sage
(by CreditCardTransactionID) finds the receipt and confirms it instead of writing it again.

States: `intent` (about to write), `written` (the writer returned; for Visual Integrator files,
waiting for Sage's import), `confirmed` (read back from Sage), `rejected` (Sage refused it: an
exception says why; a later run may try again once it is fixed).

Posting logs a chunk at a time: intents in one insert before the chunk is written, its outcomes
(`record_outcomes`) and the read-back's confirmations (`record_confirmations`) in one update each
after Sage committed them, never two statements per receipt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pandas as pd

TABLE = "pipeline.sage_posting_log"
STATES = ("intent", "written", "confirmed", "rejected")
# An intent's columns by their DuckDB type (`record_intents` binds each as one list).
_INTENT_TYPES = {"transaction_id": "BIGINT", "business_date": "DATE", "division": "VARCHAR",
                 "customer_no": "VARCHAR", "amount_cents": "BIGINT", "payment_type": "VARCHAR",
                 "payload_sha256": "VARCHAR", "applications_json": "VARCHAR", "link_json": "VARCHAR"}
# The log columns `_set_many` sets a value a row, by their DuckDB type.
_LIST_TYPES = {"documents_json": "VARCHAR", "deposit_no": "VARCHAR", "entry_no": "VARCHAR", "error": "VARCHAR",
               "found_in_sage": "BOOLEAN"}
LOG_COLUMNS = ("transaction_id", "business_date", "division", "customer_no", "amount_cents", "payment_type",
               "payload_sha256", "applications_json", "link_json", "state", "deposit_no", "entry_no",
               "documents_json", "error", "found_in_sage", "run_id", "updated_at", "confirmed_at")

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {TABLE} (
    transaction_id BIGINT PRIMARY KEY,
    business_date DATE NOT NULL,
    division VARCHAR NOT NULL,
    customer_no VARCHAR NOT NULL,
    amount_cents BIGINT NOT NULL,
    payment_type VARCHAR NOT NULL,
    payload_sha256 VARCHAR NOT NULL,
    applications_json VARCHAR NOT NULL,
    link_json VARCHAR NOT NULL,
    state VARCHAR NOT NULL CHECK (state IN {STATES}),
    deposit_no VARCHAR,
    entry_no VARCHAR,
    documents_json VARCHAR,
    error VARCHAR,
    found_in_sage BOOLEAN NOT NULL DEFAULT FALSE,
    run_id VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ
)
"""


@dataclass(frozen=True)
class Intent:
    transaction_id: int
    business_date: date
    division: str
    customer_no: str
    amount_cents: int
    payment_type: str
    payload_sha256: str
    applications_json: str
    link_json: str


class PostingLog:
    def __init__(self, connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
        self.connection = connection
        self.run_id = run_id
        connection.execute(_DDL)

    def entries(self, *, business_date: date | None = None, transaction_ids: list[int] | None = None) -> pd.DataFrame:
        """Log rows of one business day, or of the given transaction ids (any day)."""
        if transaction_ids is not None:
            return self.connection.execute(  # the ids bound as one list: no frame to register
                f"SELECT * FROM {TABLE} WHERE transaction_id = ANY(?::BIGINT[]) ORDER BY transaction_id",
                [[int(transaction_id) for transaction_id in transaction_ids]]).df()
        return self.connection.execute(
            f"SELECT * FROM {TABLE} WHERE business_date = ? ORDER BY transaction_id", [business_date]).df()

    def record_intents(self, intents: list[Intent]) -> None:
        """Committed before the writes. A row already written or confirmed is never reset."""
        if not intents:
            return
        columns = {name: [getattr(intent, name) for intent in intents] for name in _INTENT_TYPES}
        columns["transaction_id"] = [int(transaction_id) for transaction_id in columns["transaction_id"]]
        columns["amount_cents"] = [int(cents) for cents in columns["amount_cents"]]
        new_intents = ", ".join(f"unnest(${name}::{kind}[]) AS {name}" for name, kind in _INTENT_TYPES.items())
        self.connection.execute(f"""
                INSERT INTO {TABLE} (transaction_id, business_date, division, customer_no, amount_cents, payment_type,
                                     payload_sha256, applications_json, link_json, state, run_id, updated_at)
                SELECT transaction_id, business_date, division, customer_no, amount_cents, payment_type,
                       payload_sha256, applications_json, link_json, 'intent', $run_id, $now
                FROM (SELECT {new_intents}) new_intents
                ON CONFLICT (transaction_id) DO UPDATE SET
                    division = excluded.division, customer_no = excluded.customer_no,
                    amount_cents = excluded.amount_cents, payment_type = excluded.payment_type,
                    payload_sha256 = excluded.payload_sha256, applications_json = excluded.applications_json,
                    link_json = excluded.link_json, state = 'intent', error = NULL,
                    run_id = excluded.run_id, updated_at = excluded.updated_at
                WHERE {TABLE}.state IN ('intent', 'rejected')
            """, {**columns, "run_id": self.run_id, "now": _now()})

    def record_outcomes(self, written: dict[int, dict[str, str]], rejected: dict[int, str]) -> None:
        """A chunk's outcomes in two statements: written (with Sage's document numbers) and rejected."""
        self._set_many(list(written), {
            "documents_json": [json.dumps(documents, sort_keys=True) for documents in written.values()],
            "deposit_no": [documents.get("DepositNo") for documents in written.values()],
            "entry_no": [documents.get("CreditCardEntryNo") for documents in written.values()]}, state="written")
        self._set_many(list(rejected), {"error": list(rejected.values())}, state="rejected")

    def record_confirmations(self, confirmations: list[Confirmation]) -> None:
        """Many `record_confirmed` at once: the missing rows' intents in one insert, the states in one update."""
        self.record_intents([c.intent for c in confirmations if c.intent is not None])
        self._set_many([c.transaction_id for c in confirmations], {
            "deposit_no": [c.deposit_no for c in confirmations], "entry_no": [c.entry_no for c in confirmations],
            "found_in_sage": [bool(c.found_in_sage) for c in confirmations]},
            state="confirmed", error=None, confirmed_at=_now())

    def record_written(self, transaction_id: int, documents: dict[str, str]) -> None:
        self._set(transaction_id, state="written", documents_json=json.dumps(documents, sort_keys=True),
                  deposit_no=documents.get("DepositNo"), entry_no=documents.get("CreditCardEntryNo"))

    def record_rejected(self, transaction_id: int, error: str) -> None:
        self._set(transaction_id, state="rejected", error=error)

    def record_confirmed(self, intent_or_none: Intent | None, transaction_id: int, *, deposit_no: str, entry_no: str,
                         found_in_sage: bool) -> None:
        """Sage holds the receipt. Without a log row (a crash before the intent), one is made from `intent_or_none`."""
        if intent_or_none is not None:
            self.record_intents([intent_or_none])
        self._set(transaction_id, state="confirmed", deposit_no=deposit_no, entry_no=entry_no, error=None,
                  found_in_sage=found_in_sage, confirmed_at=_now())

    def _set(self, transaction_id: int, **values) -> None:
        values["run_id"] = self.run_id
        values["updated_at"] = _now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.connection.execute(f"UPDATE {TABLE} SET {assignments} WHERE transaction_id = ?",
                                [*values.values(), transaction_id])


    def _set_many(self, transaction_ids: list[int], per_row: dict[str, list[Any]], **same: Any) -> None:
        """One UPDATE of the rows of `transaction_ids`: the `per_row` columns one value a row (in the
        ids' order), the `same` columns one value for all. The lists are bound as parameters and
        unnested side by side: no frame to build and register for each chunk's update."""
        if not transaction_ids:
            return
        same = {**same, "run_id": self.run_id, "updated_at": _now()}
        rows = ", ".join(["unnest($transaction_ids::BIGINT[]) AS transaction_id",
                          *(f"unnest($new_{column}::{_LIST_TYPES[column]}[]) AS {column}" for column in per_row)])
        assignments = ", ".join([*(f"{column} = new_values.{column}" for column in per_row),
                                 *(f"{column} = $same_{column}" for column in same)])
        self.connection.execute(
            f"UPDATE {TABLE} SET {assignments} FROM (SELECT {rows}) new_values "
            f"WHERE {TABLE}.transaction_id = new_values.transaction_id",
            {"transaction_ids": [int(transaction_id) for transaction_id in transaction_ids],
             **{f"new_{column}": values for column, values in per_row.items()},
             **{f"same_{column}": value for column, value in same.items()}})


@dataclass(frozen=True)
class Confirmation:
    """Sage holds this receipt; `intent` makes the log row first when the log has none."""

    transaction_id: int
    deposit_no: str
    entry_no: str
    found_in_sage: bool
    intent: Intent | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def intents_of(entries: pd.DataFrame) -> dict[int, Intent]:
    """Log rows back as intents, by transaction id."""
    names = list(Intent.__dataclass_fields__)
    return {
        int(row["transaction_id"]): Intent(**{
            **{name: row[name] for name in names},
            "transaction_id": int(row["transaction_id"]),
            "business_date": pd.Timestamp(row["business_date"]).date(),
            "amount_cents": int(row["amount_cents"]),
        })
        for row in entries.to_dict("records")
    }
