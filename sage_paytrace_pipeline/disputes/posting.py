"""Posting each case's GL entries to Sage once: a log row per entry, the writer idempotent by reference.

The plan is domain/disputes/postings.py (one entry per case and stage that moves money). A
reference the log holds as posted is not sent again; one the log holds as intent (a crash after
the call) is sent again and the Sage writer, which posts a reference once, answers with the entry
already there. Sage refusing an entry (an inactive account, a closed period) is an exception row,
and the next run tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.disputes.reopen import SageDocument, plan_reopen
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS
from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings, posting_reference
from sage_paytrace_pipeline.domain.ledger import JournalEntry, JournalLine
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

LOG = "pipeline.dispute_posting_log"
_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {LOG} (
    reference VARCHAR PRIMARY KEY, case_number VARCHAR NOT NULL, stage VARCHAR NOT NULL, posting_date DATE NOT NULL,
    amount_cents BIGINT NOT NULL, state VARCHAR NOT NULL CHECK (state IN ('intent', 'posted', 'rejected')),
    entry_no VARCHAR, created BOOLEAN, error VARCHAR, run_id VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class PostingOutcome:
    lines: pd.DataFrame  # the whole plan (POSTING_COLUMNS)
    posted: list[str]  # references posted by this run
    exceptions: pd.DataFrame


def dispute_accounts(config: PipelineConfig) -> DisputeAccounts:
    settings = config.disputes
    accounts = config.gl_accounts
    if settings is None:
        raise ValueError("disputes is not configured")
    return DisputeAccounts(settled=accounts.chargebacks, chargeback=settings.chargeback_account or accounts.chargebacks,
                           fee=settings.fee_account or accounts.merchant_fees, loss=settings.loss_account,
                           clearing=accounts.card_clearing, owed=accounts.processor_receivable)


class PostingLog:
    def __init__(self, connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
        self.connection = connection
        self.run_id = run_id
        connection.execute(_DDL)

    def frame(self) -> pd.DataFrame:
        return self.connection.execute(f"SELECT * FROM {LOG} ORDER BY posting_date, reference").df()

    def posted(self) -> set[str]:
        return {r[0] for r in self.connection.execute(f"SELECT reference FROM {LOG} WHERE state = 'posted'").fetchall()}

    def intent(self, reference: str, case_number: str, stage: str, posting_date: date, amount_cents: int) -> None:
        self.connection.execute(f"""
            INSERT INTO {LOG} (reference, case_number, stage, posting_date, amount_cents, state, run_id, updated_at)
            VALUES (?, ?, ?, ?, ?, 'intent', ?, ?)
            ON CONFLICT (reference) DO UPDATE SET state = 'intent', error = NULL, run_id = excluded.run_id,
                updated_at = excluded.updated_at WHERE {LOG}.state <> 'posted'""",
                                [reference, case_number, stage, posting_date, amount_cents, self.run_id, _now()])

    def done(self, reference: str, *, entry_no: str, created: bool) -> None:
        self.connection.execute(f"UPDATE {LOG} SET state = 'posted', entry_no = ?, created = ?, run_id = ?, "
                                "updated_at = ? WHERE reference = ?",
                                [entry_no, created, self.run_id, _now(), reference])

    def rejected(self, reference: str, error: str) -> None:
        self.connection.execute(f"UPDATE {LOG} SET state = 'rejected', error = ?, run_id = ?, updated_at = ? "
                                "WHERE reference = ?", [error, self.run_id, _now(), reference])


def journal_entries(lines: pd.DataFrame) -> list[JournalEntry]:
    entries = []
    for reference, entry in lines.groupby("reference", sort=True):
        entries.append(JournalEntry(
            reference=str(reference), posting_date=entry["posting_date"].iloc[0],
            comment=f"Dispute {entry['case_number'].iloc[0]} {entry['stage'].iloc[0]}",
            lines=tuple(JournalLine(account=row.account, debit=cents_to_decimal(int(row.debit_cents)),
                                    credit=cents_to_decimal(int(row.credit_cents)), comment=row.comment)
                        for row in entry.itertuples())))
    return entries


def post_cases(stages: pd.DataFrame, config: PipelineConfig, writer: Sage100Writer, log: PostingLog, *,
               as_of: date, cases: pd.DataFrame | None = None, reader: Sage100Reader | None = None) -> PostingOutcome:
    """Post the entries of every case and stage dated up to `as_of` that the log does not hold as posted.

    With `disputes.reopen_invoice` (then `cases` and `reader` are needed) the receipt reversal or
    re-application of a stage (disputes/reopen.py) is written first; Sage refusing it holds its entry."""
    settings = config.disputes
    assert settings is not None
    documents: dict[str, SageDocument] = {}
    problems: list[pd.DataFrame] = []
    if settings.reopen_invoice and len(stages):
        assert cases is not None and reader is not None, "reopen_invoice needs the cases and a Sage reader"
        due_stages = stages[pd.to_datetime(stages["activity_date"]).dt.date <= as_of]
        reopen = plan_reopen(due_stages, cases, reader, posted=log.posted(), entry_reference=posting_reference)
        stages, documents, problems = reopen.stages, reopen.documents, list(reopen.exceptions)
    lines = plan_postings(stages, dispute_accounts(config), case_fee_cents=decimal_to_cents(settings.case_fee)) \
        if len(stages) else plan_postings(stages, dispute_accounts(config))
    due = lines[pd.to_datetime(lines["posting_date"]).dt.date <= as_of] if len(lines) else lines
    todo = due[~due["reference"].isin(log.posted())]
    heads = todo.drop_duplicates("reference").set_index("reference")
    posted = []
    for entry in journal_entries(todo):
        first = heads.loc[entry.reference]
        document = documents.get(entry.reference)
        if document is not None and not _write_document(document, writer, log, problems):
            continue
        amount = sum(decimal_to_cents(line.debit) for line in entry.lines)
        log.intent(entry.reference, str(first["case_number"]), str(first["stage"]), entry.posting_date, amount)
        try:
            result = writer.post_journal_entry(entry)
        except Sage100ValidationError as error:
            log.rejected(entry.reference, str(error))
            problems.append(EXCEPTIONS.rows(
                "dispute_entry_rejected_by_sage", "error", None, size=1, source_ids=f"dispute:{first['case_number']}",
                problem=f"Sage refused the entry {entry.reference} of case {first['case_number']} "
                        f"({first['stage']}): {error.problem}",
                action=(error.fix or "correct it in Sage") + "; the next run posts it again"))
            continue
        log.done(entry.reference, entry_no=str(result.documents.get("EntryNo", "")), created=result.created)
        posted.append(entry.reference)
    flush = getattr(writer, "flush", None)
    if callable(flush):
        flush()
    return PostingOutcome(lines, posted, EXCEPTIONS.concat(problems))


def _write_document(document: SageDocument, writer: Sage100Writer, log: PostingLog,
                    problems: list[pd.DataFrame]) -> bool:
    """The stage's receipt reversal or re-application, logged like an entry; False (an exception) if Sage refuses."""
    if document.reference in log.posted():
        return True
    log.intent(document.reference, document.case_number, document.stage, document.posting_date, document.amount_cents)
    try:
        result = document.write(writer)
    except Sage100ValidationError as error:
        log.rejected(document.reference, str(error))
        problems.append(EXCEPTIONS.rows(
            "dispute_invoice_rejected_by_sage", "error", None, size=1, source_ids=f"dispute:{document.case_number}",
            problem=f"Sage refused {document.reference} (the invoice of case {document.case_number}, "
                    f"{document.stage}): {error.problem}; its GL entry waits",
            action=(error.fix or "correct it in Sage") + "; the next run writes it again"))
        return False
    number = result.documents.get("DepositNo") or result.documents.get("CreditCardEntryNo") or ""
    log.done(document.reference, entry_no=f"{document.reference}:{number}", created=result.created)
    return True


def _now() -> datetime:
    return datetime.now(UTC)
