"""Loaded dispute reports in the warehouse: one row per file (by content hash) and its rows.

Like the bank statements store (banking/store.py): a file and its rows in one transaction, the
content hash the primary key, so a report is loaded once whatever its name, and a crash leaves it
loaded or not at all. A malformed file is refused whole (`DisputeReportError`) and comes back as
an exception row naming the file and the line each scan until it is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS
from sage_paytrace_pipeline.domain.disputes.report import (
    REPORT_COLUMNS,
    DisputeReport,
    DisputeReportError,
    DisputeReportFormat,
    read_report,
)

FILES = "pipeline.dispute_report_files"
ROWS = "pipeline.dispute_report_rows"
SUFFIXES = (".csv", ".txt")

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {FILES} (
    sha256 VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, row_count BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS {ROWS} (
    sha256 VARCHAR NOT NULL, source_file VARCHAR, source_line BIGINT, case_number VARCHAR,
    original_case_number VARCHAR, stage VARCHAR, activity_date DATE, card_type VARCHAR, reason_code VARCHAR,
    reason_text VARCHAR, amount_cents BIGINT, transaction_amount_cents BIGINT, transaction_date DATE,
    card_last4 VARCHAR, authorization_code VARCHAR, reference VARCHAR, arn VARCHAR, network_due_date DATE,
    merchant_due_date DATE, fee_cents BIGINT
);
"""
_DATES = ("activity_date", "transaction_date", "network_due_date", "merchant_due_date")


@dataclass(frozen=True)
class FolderLoad:
    loaded: list[str]  # file names loaded this time
    already_loaded: int
    exceptions: pd.DataFrame  # one per malformed file


class ReportStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        connection.execute(_DDL)

    def seen_hashes(self) -> set[str]:
        return {row[0] for row in self.connection.execute(f"SELECT sha256 FROM {FILES}").fetchall()}

    def add(self, report: DisputeReport, run_id: str) -> None:
        rows = report.rows.assign(sha256=report.sha256)
        self.connection.execute("BEGIN TRANSACTION")
        try:
            self.connection.execute(f"INSERT INTO {FILES} VALUES (?, ?, ?, ?, ?)", [
                report.sha256, report.path.name, len(rows), datetime.now(UTC), run_id])
            self.connection.register("dispute_rows", rows)
            self.connection.execute(f"INSERT INTO {ROWS} BY NAME SELECT * FROM dispute_rows")
            self.connection.unregister("dispute_rows")
            self.connection.execute("COMMIT")
        except Exception:
            self.connection.execute("ROLLBACK")
            raise

    def rows(self) -> pd.DataFrame:
        frame = self.connection.execute(f"SELECT * FROM {ROWS} ORDER BY activity_date, source_file, source_line").df()
        for column in _DATES:
            frame[column] = [None if pd.isna(value) else pd.Timestamp(value).date() for value in frame[column]]
        for column in ("transaction_amount_cents", "fee_cents"):
            frame[column] = frame[column].astype("Int64")
        text = [name for name, dtype in REPORT_COLUMNS.items() if dtype == "string"]
        frame[text] = frame[text].fillna("")
        return frame[["sha256", *REPORT_COLUMNS]]

    def files(self) -> pd.DataFrame:
        return self.connection.execute(f"SELECT * FROM {FILES} ORDER BY loaded_at").df()


def report_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def load_folder(folder: Path, store: ReportStore, layout: DisputeReportFormat, run_id: str) -> FolderLoad:
    """Every report in `folder` not loaded yet (by content hash); a malformed one is an exception."""
    seen = store.seen_hashes()
    loaded, already, problems = [], 0, []
    for path in report_files(folder):
        data = path.read_bytes()
        try:
            report = read_report(path, data, layout)
        except DisputeReportError as error:
            problems.append(EXCEPTIONS.rows(
                "dispute_report_malformed", "error", None, size=1, source_ids=f"{path.name}:{error.line}",
                problem=f"dispute report {path.name}, line {error.line}: {error.problem}; nothing of it was loaded",
                action=error.fix + f"; then drop the corrected file into {folder}"))
            continue
        if report.sha256 in seen:
            already += 1
            continue
        store.add(report, run_id)
        seen.add(report.sha256)
        loaded.append(path.name)
    return FolderLoad(loaded, already, EXCEPTIONS.concat(problems))
