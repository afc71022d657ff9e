"""Posting each case's GL entries to Sage once: a log row per entry, the writer idempotent by reference.

The plan is domain/disputes/postings.py (one entry per case and stage that moves money). A
reference the log holds as posted is not sent again; one the log holds as intent (a crash after
the call) is sent again and the Sage writer, which posts a reference once, answers with the entry
already there. Sage refusing an entry (an inactive account, a closed period) is an exception row,
and the next run tries again.

Under a currency conversion (`DisputeConversion`, README "Currencies") the stages are converted
first (domain/disputes/currency.py): a stage that cannot be yet waits as an exception and nothing of
it is written; the log keeps each entry's (and reversal's) Sage amount, its PayTrace amount and rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.disputes.reopen import SageDocument, plan_reopen
from sage_paytrace_pipeline.domain.currency import FX_RATE, RateTable
from sage_paytrace_pipeline.domain.disputes.currency import SaleExchange, stages_in_sage_currency
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS, LINKED
from sage_paytrace_pipeline.domain.disputes.postings import (
    PAYTRACE_DEBIT,
    DisputeAccounts,
    plan_postings,
    posting_reference,
    stage_fees,
)
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
);
ALTER TABLE {LOG} ADD COLUMN IF NOT EXISTS paytrace_amount_cents BIGINT;
ALTER TABLE {LOG} ADD COLUMN IF NOT EXISTS fx_rate VARCHAR;
"""


@dataclass(frozen=True)
class DisputeConversion:
    """PayTrace's currency -> Sage's for the cases: the rates file, each sale's receipt as Sage holds it
    (sale id -> rate and both amounts; a sale whose receipt Sage does not hold is absent), the currencies
    (PayTrace's, Sage's) and the exchange difference account."""

    rates: RateTable
    sales: Callable[[list[int]], Mapping[int, SaleExchange]]
    currencies: tuple[str, str]
    exchange_account: str
    # What settlement booked on chargebacks / the processor receivable (domain/disputes/currency.py
    # PROCESSOR_LINE_COLUMNS): the processor side takes the rate of the line of its money. None: none booked.
    processor_lines: Callable[[], pd.DataFrame] | None = None


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

    def intent(self, reference: str, case_number: str, stage: str, posting_date: date, amount_cents: int, *,
               paytrace_cents: int | None = None, fx_rate: str = "") -> None:
        """`amount_cents` in Sage's currency; under a conversion also in PayTrace's and the rate(s)."""
        self.connection.execute(f"""
            INSERT INTO {LOG} (reference, case_number, stage, posting_date, amount_cents, state, run_id, updated_at,
                               paytrace_amount_cents, fx_rate)
            VALUES (?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?)
            ON CONFLICT (reference) DO UPDATE SET state = 'intent', error = NULL, run_id = excluded.run_id,
                updated_at = excluded.updated_at, amount_cents = excluded.amount_cents,
                paytrace_amount_cents = excluded.paytrace_amount_cents, fx_rate = excluded.fx_rate
                WHERE {LOG}.state <> 'posted'""",
                                [reference, case_number, stage, posting_date, amount_cents, self.run_id, _now(),
                                 paytrace_cents, fx_rate or None])

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
               as_of: date, cases: pd.DataFrame | None = None, reader: Sage100Reader | None = None,
               conversion: DisputeConversion | None = None) -> PostingOutcome:
    """Post the entries of every case and stage dated up to `as_of` that the log does not hold as posted.

    With `disputes.reopen_invoice` (then `cases` and `reader` are needed) the receipt reversal or
    re-application of a stage (disputes/reopen.py) is written first; Sage refusing it holds its entry.
    With a `conversion` (then `cases` is needed) the entries are in Sage's currency (module docstring)."""
    settings = config.disputes
    assert settings is not None
    documents: dict[str, SageDocument] = {}
    problems: list[pd.DataFrame] = []
    case_fee = decimal_to_cents(settings.case_fee)
    sales: Mapping[int, SaleExchange] | None = None
    if conversion is not None and len(stages):
        assert cases is not None, "a currency conversion needs the cases (their sales)"
        stages, sales, converted_problems = _converted(stages, cases, conversion, as_of=as_of, posted=log.posted(),
                                                       case_fee=case_fee)
        problems.append(converted_problems)
    if settings.reopen_invoice and len(stages):
        assert cases is not None and reader is not None, "reopen_invoice needs the cases and a Sage reader"
        due_stages = stages[pd.to_datetime(stages["activity_date"]).dt.date <= as_of]
        reopen = plan_reopen(due_stages, cases, reader, posted=log.posted(), entry_reference=posting_reference,
                             sales=sales)
        stages, documents = reopen.stages, reopen.documents
        problems.extend(reopen.exceptions)
    exchange = conversion.exchange_account if conversion is not None else None
    lines = plan_postings(stages, dispute_accounts(config), case_fee_cents=case_fee if len(stages) else 0,
                          exchange_account=exchange)
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
        paytrace, rate = _exchange_of(todo[todo["reference"] == entry.reference]) if conversion else (None, "")
        log.intent(entry.reference, str(first["case_number"]), str(first["stage"]), entry.posting_date, amount,
                   paytrace_cents=paytrace, fx_rate=rate)
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


def _converted(stages: pd.DataFrame, cases: pd.DataFrame, conversion: DisputeConversion, *, as_of: date,
               posted: set[str], case_fee: int) -> tuple[pd.DataFrame, Mapping[int, SaleExchange], pd.DataFrame]:
    """The due stages with their Sage amounts (those that cannot be converted yet left out), the sales'
    receipts, and why stages wait."""
    due = stages[pd.to_datetime(stages["activity_date"]).dt.date <= as_of]
    linked = cases[cases["link"] == LINKED] if len(cases) else cases
    sale_of = dict(zip(linked["case_number"], pd.to_numeric(linked["sale_transaction_id"], errors="coerce"),
                       strict=True))
    due = due.assign(sale=due["case_number"].map(sale_of))
    sales = conversion.sales(sorted({int(sale) for sale in due["sale"].dropna()}))
    lines = conversion.processor_lines() if conversion.processor_lines is not None and len(due) else None
    converted = stages_in_sage_currency(due, sales=sales, rates=conversion.rates, fees=stage_fees(due, case_fee),
                                        posted=posted, entry_reference=posting_reference,
                                        currencies=conversion.currencies, processor_lines=lines)
    return converted.stages.drop(columns="sale"), sales, converted.exceptions


def _exchange_of(lines: pd.DataFrame) -> tuple[int, str]:
    """An entry's PayTrace amount (its debit lines') and the rates its lines were converted at."""
    rates = sorted({rate for text in lines[FX_RATE] for rate in str(text).split("/") if rate})
    return int(lines[PAYTRACE_DEBIT].sum()), "/".join(rates)


def _write_document(document: SageDocument, writer: Sage100Writer, log: PostingLog,
                    problems: list[pd.DataFrame]) -> bool:
    """The stage's receipt reversal or re-application, logged like an entry; False (an exception) if Sage refuses."""
    if document.reference in log.posted():
        return True
    log.intent(document.reference, document.case_number, document.stage, document.posting_date, document.amount_cents,
               paytrace_cents=document.paytrace_cents, fx_rate=document.fx_rate)
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
