"""The sandbox's SQLite file: schema and connection handling.

Several processes (Dagster daemon, runs, the CLI, the HTTP server's thread pool) share one file,
so every call opens its own connection (sqlite3 connections must not cross threads), the journal
is WAL (readers never wait for the writer), and every write starts with BEGIN IMMEDIATE so two
writers queue on the busy timeout instead of failing half way with "database is locked".

What is stored is card-data free by construction: card numbers are reduced to BIN, last 4,
length and brand before they get here; secrets (password, token) only as hashes in BLOBs.
Merchant free text and card facts live in JSON documents rather than in neighbouring TEXT
columns, because SQLite stores a row's values back to back and digits from adjacent values could
otherwise form card-number-shaped runs in the raw file. Money is integer cents; instants are UTC
ISO-8601 strings (sortable as text).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY,
    salt          BLOB NOT NULL,
    password_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash BLOB PRIMARY KEY,
    username   TEXT NOT NULL,
    created_at REAL NOT NULL,   -- wall clock, unix seconds
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    id               INTEGER PRIMARY KEY,
    type             TEXT NOT NULL,      -- SALE | AUTHORIZATION | REFUND
    state            TEXT NOT NULL,      -- pending | authorized | settled | voided | declined
    captured         INTEGER NOT NULL DEFAULT 0,
    amount_cents     INTEGER NOT NULL,   -- current amount (the captured amount once captured)
    authorized_cents INTEGER NOT NULL,
    tax_cents        INTEGER,
    original_id      INTEGER,            -- refunds: the refunded transaction
    batch_number     INTEGER,
    card_json        TEXT NOT NULL,      -- {"bin", "last4", "length", "brand", "exp_month", "exp_year"}
    details_json     TEXT NOT NULL,      -- customer_id, invoice_id, description, addresses, ... (masked)
    approval_code    TEXT NOT NULL DEFAULT '',
    approval_message TEXT NOT NULL DEFAULT '',
    avs_response     TEXT NOT NULL DEFAULT '',
    csc_response     TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,      -- virtual clock, UTC ISO
    pending_since    TEXT,               -- when it started waiting for a batch (creation or capture)
    settled_at       TEXT
);
CREATE INDEX IF NOT EXISTS transactions_created ON transactions (created_at);
CREATE INDEX IF NOT EXISTS transactions_state ON transactions (state, pending_since);
CREATE INDEX IF NOT EXISTS transactions_batch ON transactions (batch_number);
CREATE INDEX IF NOT EXISTS transactions_original ON transactions (original_id);
CREATE TABLE IF NOT EXISTS customers (
    customer_id  TEXT PRIMARY KEY,
    card_json    TEXT NOT NULL,
    profile_json TEXT NOT NULL,          -- addresses, email, phone, fax, discretionary data (masked)
    created_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    number    INTEGER PRIMARY KEY,
    closed_at TEXT NOT NULL                   -- virtual clock, UTC ISO
);
CREATE TABLE IF NOT EXISTS faults (
    id              INTEGER PRIMARY KEY,
    route           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    rate            REAL NOT NULL,
    max_count       INTEGER,
    latency_seconds REAL NOT NULL DEFAULT 0,
    body            TEXT NOT NULL DEFAULT 'html',
    seen            INTEGER NOT NULL DEFAULT 0,
    fired           INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stats (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# Tables emptied by a reset; settings, users, tokens, id counters and the clock survive it.
STATE_TABLES = ("transactions", "customers", "batches", "faults", "stats")


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC text so that string order is time order in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc_text(text: str) -> datetime:
    if len(text) == len("2026-01-31T23:59:59.000000Z") and text.endswith("Z"):
        # the form utc_text writes, read by fromisoformat ~50x faster than strptime (an export's
        # records each carry two of these: a year's export spent most of its time here)
        return datetime.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class Store:
    """Opens short-lived connections to one SQLite file; creates the schema on first use."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._create_schema()
        # Never used for queries: while it is open, closing a per-call connection is not "the last
        # close", which would checkpoint and delete the WAL every time (~1.5 ms per call).
        self._anchor = self._connect(check_same_thread=False)

    def close(self) -> None:
        self._anchor.close()

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so the lock mode is explicit.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=check_same_thread)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _create_schema(self) -> None:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; WAL gives it a consistent snapshot per statement."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed when the block ends, rolled back on any error."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()


def get_meta(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row["value"]) if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)),
    )


def next_counter(conn: sqlite3.Connection, key: str, first: int) -> int:
    """Take the next number of a persistent sequence (call inside a write transaction)."""
    value = int(get_meta(conn, key, first))
    set_meta(conn, key, value + 1)
    return value


def bump_stat(conn: sqlite3.Connection, key: str, by: int = 1) -> None:
    conn.execute(
        "INSERT INTO stats (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
        (key, by),
    )
