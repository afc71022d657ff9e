"""Monthly-discount merchants: the processor's monthly fee statement against the bank's fee debit.

Around `banking.fee_statement` (the file), `domain/settlement/monthly_fees` (the decision) and the
Sage writer. A run reconciles every month that has a statement in the fee statement folder, and,
for a monthly-discount merchant, the month just closed (whose statement may be missing). Each
month's entry `PT-FEESTMT-YYYYMM` is posted once (idempotent by reference), so re-running changes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.fee_statement import (
    FeeStatement,
    FeeStatementFormat,
    empty_fee_lines,
    parse_fee_statement,
)
from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.settlement import (
    GlAccountMap,
    SettlementPolicy,
    to_journal_entries,
)
from sage_paytrace_pipeline.domain.settlement.frames import (
    concat_exceptions,
    exception_rows,
)
from sage_paytrace_pipeline.domain.settlement.monthly_fees import (
    reconcile_fee_statement,
)
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.settlement.frames import (
    EXCEPTION_COLUMNS,
    not_configured_exception,
)

SUMMARY_COLUMNS = ["month", "status", "statement_file", "statement_sha256", "statement_lines",
                   "statement_total_cents", "bank_source_file", "bank_source_line", "bank_posted_date",
                   "bank_amount_cents", "bank_reference", "debit_deadline", "reference", "posting_date",
                   "debit_cents", "credit_cents", "lines_json", "entry_no", "created", "documents_json"]
_LINE_COLUMNS = ["reference", "account", "brand", "debit_cents", "credit_cents", "comment"]


@dataclass(frozen=True)
class FeeRun:
    """Per month: the summary row; every month's exceptions; the journal lines posted or found."""

    summary: pd.DataFrame
    exceptions: pd.DataFrame
    lines: pd.DataFrame


def fee_statements(folder: Path, fmt: FeeStatementFormat) -> tuple[list[FeeStatement], list[StatementError]]:
    """The readable fee statements in `folder` (each content once), and the unreadable files."""
    found: dict[str, FeeStatement] = {}
    errors: list[StatementError] = []
    if not folder.is_dir():
        return [], []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            statement = parse_fee_statement(path, path.read_bytes(), fmt)
        except StatementError as error:
            errors.append(error)
            continue
        except OSError as error:
            errors.append(StatementError(path, 1, f"cannot read the file ({error.strerror})",
                                         "check the file's permissions; the next run retries it"))
            continue
        found.setdefault(statement.sha256, statement)
    return list(found.values()), errors


def previous_month(day: date) -> date:
    first = day.replace(day=1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def months_to_reconcile(statements: list[FeeStatement], as_of: date, discount_method: str,
                        first_business_day: date) -> list[date]:
    """Every month with a statement, and for monthly discount the month just closed (a missing
    statement is then reported), never before the first business month."""
    months = {statement.month for statement in statements}
    if discount_method == "monthly":
        months.add(previous_month(as_of))
    return sorted(month for month in months if month >= first_business_day.replace(day=1))


def reconcile_fee_months(config: PipelineConfig, statements: list[FeeStatement], errors: list[StatementError],
                         bank_lines: pd.DataFrame, *, accounts: GlAccountMap, as_of: date,
                         open_writer: Callable[[], Sage100Writer]) -> FeeRun:
    """Every month to reconcile, each entry posted once; the Sage writer is opened only when there is
    a statement to book. Without `settlement`, nothing is booked (and, given statements, that is said)."""
    policy = config.settlement
    summaries, exception_frames, all_lines = [], [_with_month(_unreadable(errors), None)], []
    if policy is None:  # nothing is booked without the merchant's discount method; say so if it matters
        months = []
        if statements:
            exception_frames.append(_with_month(not_configured_exception(), None))
    else:
        months = months_to_reconcile(statements, as_of, policy.discount_method,
                                     date.fromisoformat(config.merchant.first_business_day))
    writer = open_writer() if statements and months else None
    for month in months:
        assert policy is not None  # without a settlement policy there is no month to reconcile
        of_month = [statement for statement in statements if statement.month == month]
        summary, exceptions, lines = _reconcile_month(month, of_month, bank_lines, config=config, policy=policy,
                                                      accounts=accounts, as_of=as_of, writer=writer)
        summaries.append(summary)
        exception_frames.append(_with_month(exceptions, month))
        all_lines.append(lines)
    if writer is not None and callable(flush := getattr(writer, "flush", None)):
        flush()
    summary = pd.DataFrame(summaries, columns=SUMMARY_COLUMNS).astype(
        {"bank_source_line": "Int64", "bank_amount_cents": "Int64", "statement_lines": "int64",
         "statement_total_cents": "int64", "debit_cents": "int64", "credit_cents": "int64", "created": "bool"})
    exceptions = pd.concat(exception_frames, ignore_index=True)
    lines = pd.concat(all_lines, ignore_index=True) if all_lines else pd.DataFrame(columns=_LINE_COLUMNS)
    return FeeRun(summary, exceptions, lines)


def _unreadable(errors: list[StatementError]) -> pd.DataFrame:
    return exception_rows(
        "fee_statement_unreadable", "error", None, size=len(errors),
        source_ids=[f"{error.path.name}:{error.line}" for error in errors],
        problem=[f"fee statement file {error.path.name} line {error.line}: {error.problem}" for error in errors],
        action=[f"{error.fix}; nothing of the file is used" for error in errors])


def _ambiguous(month: date, statements: list[FeeStatement]) -> pd.DataFrame:
    frames = []
    if len(statements) > 1:
        names = ", ".join(statement.path.name for statement in statements)
        frames.append(exception_rows(
            "fee_statement_ambiguous", "error", None, size=1, source_ids=[names],
            problem=[f"{len(statements)} different fee statements for {month:%Y-%m} ({names})"],
            action=[("keep only the processor's final statement for the month in the fee statement folder; "
                     "nothing is booked until then")]))
    return concat_exceptions(frames)


def _reconcile_month(month: date, statements: list[FeeStatement], bank_lines: pd.DataFrame, *,
                     config: PipelineConfig, policy: SettlementPolicy, accounts: GlAccountMap, as_of: date,
                     writer: Sage100Writer | None) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One month: its statement (exactly one, else an exception) against the bank's fee debit, and
    the entry posted once. Returns (summary row as a dict, exceptions, journal lines)."""
    statement = statements[0] if len(statements) == 1 else None
    result = reconcile_fee_statement(
        statement.lines if statement is not None else empty_fee_lines(), bank_lines, month=month, policy=policy,
        accounts=accounts, as_of=as_of, fee_day=config.bank.fee_debit_business_day,
        statement_name=statement.path.name if statement is not None else "")
    if len(statements) > 1:  # ambiguous: report that instead of "no statement", and book nothing
        exceptions, status = _ambiguous(month, statements), "ambiguous"
        entries, lines = result.entries.iloc[0:0], result.lines.iloc[0:0]
    else:
        exceptions, status = result.exceptions, result.status
        entries, lines = result.entries, result.lines

    posted = {"entry_no": "", "created": False, "documents_json": ""}
    if len(entries):
        assert writer is not None  # entries come from the month's statement, and with one the writer is open
        for document in to_journal_entries(result.plan):
            outcome = writer.post_journal_entry(document)
            posted = {"entry_no": outcome.documents.get("EntryNo", ""), "created": bool(outcome.created),
                      "documents_json": json.dumps(outcome.documents, sort_keys=True)}
    match = result.match
    summary = {
        "month": month,
        "status": status,
        "statement_file": statement.path.name if statement is not None else "",
        "statement_sha256": statement.sha256 if statement is not None else "",
        "statement_lines": len(statement.lines) if statement is not None else 0,
        "statement_total_cents": result.total_cents,
        "bank_source_file": match.source_file if match else "",
        "bank_source_line": match.source_line if match else None,
        "bank_posted_date": match.posted_date if match else None,
        "bank_amount_cents": match.amount_cents if match else None,
        "bank_reference": match.bank_reference if match else "",
        "debit_deadline": result.deadline,
        "reference": entries["reference"].iloc[0] if len(entries) else "",
        "posting_date": entries["posting_date"].iloc[0] if len(entries) else None,
        "debit_cents": int(entries["debit_cents"].iloc[0]) if len(entries) else 0,
        "credit_cents": int(entries["credit_cents"].iloc[0]) if len(entries) else 0,
        "lines_json": json.dumps(lines[["line_no", "account", "brand", "debit_cents", "credit_cents", "comment"]]
                                 .to_dict("records"), default=int),
        **posted,
    }
    return summary, exceptions, lines


def _with_month(exceptions: pd.DataFrame, month: date | None) -> pd.DataFrame:
    exceptions = concat_exceptions([exceptions])[EXCEPTION_COLUMNS]
    exceptions.insert(0, "month", pd.Series([month] * len(exceptions), dtype="object"))
    return exceptions
