"""Loaded bank statements in the warehouse: one row per file (by content hash) and its lines.

A file and its lines are stored in one transaction, so a crash leaves the file either fully
loaded or not at all (the next scan reads it again); a file is never loaded twice because its
content hash is the primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd

from sage_paytrace_pipeline.banking.rows import BANK_TRANSACTION_COLUMNS
from sage_paytrace_pipeline.banking.statements import StatementFile

FILES = "pipeline.bank_statement_files"
LINES = "pipeline.bank_statement_lines"

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {FILES} (
    sha256 VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, format VARCHAR NOT NULL, line_count BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS {LINES} (
    sha256 VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, account_id VARCHAR, posted_date DATE,
    amount_cents BIGINT, type_code VARCHAR, bank_reference VARCHAR, description VARCHAR, currency VARCHAR
);
"""


class StatementStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        connection.execute(_DDL)

    def seen_hashes(self) -> set[str]:
        return {row[0] for row in self.connection.execute(f"SELECT sha256 FROM {FILES}").fetchall()}

    def add(self, statement: StatementFile, run_id: str) -> None:
        rows = statement.transactions.assign(sha256=statement.sha256)
        self.connection.execute("BEGIN TRANSACTION")
        try:
            self.connection.execute(f"INSERT INTO {FILES} VALUES (?, ?, ?, ?, ?, ?)", [
                statement.sha256, statement.path.name, statement.format, len(rows), datetime.now(UTC), run_id])
            self.connection.register("statement_rows", rows)
            self.connection.execute(f"INSERT INTO {LINES} BY NAME SELECT * FROM statement_rows")
            self.connection.unregister("statement_rows")
            self.connection.execute("COMMIT")
        except Exception:
            self.connection.execute("ROLLBACK")
            raise

    def lines(self) -> pd.DataFrame:
        frame = self.connection.execute(f"SELECT * FROM {LINES} ORDER BY posted_date, source_file, source_line").df()
        frame["posted_date"] = pd.to_datetime(frame["posted_date"]).dt.date
        return frame[["sha256", *BANK_TRANSACTION_COLUMNS]]
