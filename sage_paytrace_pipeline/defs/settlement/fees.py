"""Monthly-discount merchants: the processor's monthly fee statement against the bank's fee debit.

Thin asset around `banking.fee_statement` (the file), `domain/settlement/monthly_fees` (the
decision) and the Sage writer. Each run reconciles every month that has a statement in the fee
statement folder, and, for a monthly-discount merchant, the month just closed (whose statement may
be missing). Not partitioned: a statement is a month, and the asset shares a run with the daily
partitions (`dagster asset materialize --select '*' --partition DAY`) like `bank_deposits`. The bank
lines are the statements the bank statement sensor already loaded (`pipeline.bank_statement_lines`).
Each month's entry `PT-FEESTMT-YYYYMM` is posted once (idempotent by reference), so re-running
changes nothing.
"""

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.fee_statement import (
    FeeStatement,
    FeeStatementFormat,
    empty_fee_lines,
    parse_fee_statement,
)
from sage_paytrace_pipeline.banking.store import StatementStore
from sage_paytrace_pipeline.config import PipelineConfig, fee_statement_folder
from sage_paytrace_pipeline.defs.automation.sensors import TRIGGER_TAG
from sage_paytrace_pipeline.defs.metadata import preview
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
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
from sage_paytrace_pipeline.settlement_inputs import (
    account_map,
    not_configured_exception,
)

OWNERS = ["team:finance"]
_CONFIG = load_time_config()
_EXCEPTION_COLUMNS = ["kind", "severity", "batch_number", "source_ids", "problem", "action"]
_SUMMARY_COLUMNS = ["month", "status", "statement_file", "statement_sha256", "statement_lines",
                    "statement_total_cents", "bank_source_file", "bank_source_line", "bank_posted_date",
                    "bank_amount_cents", "bank_reference", "debit_deadline", "reference", "posting_date",
                    "debit_cents", "credit_cents", "lines_json", "entry_no", "created", "documents_json"]

def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name="settlement", kinds={"python", "duckdb"}, owners=OWNERS,
                       tags={"domain": "settlement"}, description=description, is_required=True)


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


def months_to_reconcile(statements: list[FeeStatement], as_of: date, discount_method: str,
                        first_business_day: date) -> list[date]:
    """Every month with a statement, and for monthly discount the month just closed (a missing
    statement is then reported), never before the first business month."""
    months = {statement.month for statement in statements}
    if discount_method == "monthly":
        months.add(previous_month(as_of))
    return sorted(month for month in months if month >= first_business_day.replace(day=1))


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


@dg.multi_asset(
    outs={
        "fee_statement_reconciliation": _out(
            "Per month: the processor's fee statement total, the bank's fee debit it matched (file, line, date, "
            "amount), status matched/variance/debit_missing/no_statement/ambiguous, and the Sage entry "
            "PT-FEESTMT-YYYYMM (Dr merchant fees per brand line, Cr bank)."),
        "fee_statement_exceptions": _out(
            "Fee debit missing or different from the statement, unreadable or duplicate statements, unmapped GL "
            "accounts: what is wrong and what fixes it."),
    },
    pool="duckdb",
    retry_policy=SAGE_WRITE_RETRY,
    can_subset=False,
    check_specs=[dg.AssetCheckSpec("fee_entry_balances", asset="fee_statement_reconciliation",
                                   description="each fee statement's journal entry debits equal its credits")],
)
def monthly_fee_reconciliation(context: dg.AssetExecutionContext, settings: PipelineSettings,
                               sage100: Sage100Resource, warehouse: DuckDBResource):
    config = settings.config()
    policy = config.settlement
    fmt = config.bank.fee_statement_csv or FeeStatementFormat()
    folder = fee_statement_folder(config, settings.config_path)
    statements, errors = fee_statements(folder, fmt)
    with warehouse.get_connection() as connection:
        bank_lines = StatementStore(connection).lines()
    reader = sage100.reader()
    accounts = account_map(config, reader.payment_types(), reader.gl_accounts())
    as_of = datetime.now(ZoneInfo(config.merchant.time_zone)).date()
    summaries, exception_frames, all_lines = [], [_with_month(_unreadable(errors), None)], []
    if policy is None:  # nothing is booked without the merchant's discount method; say so if it matters
        months = []
        if statements:
            exception_frames.append(_with_month(not_configured_exception(), None))
    else:
        months = months_to_reconcile(statements, as_of, policy.discount_method,
                                     date.fromisoformat(config.merchant.first_business_day))
    writer = sage100.open_writer() if statements and months else None
    for month in months:
        of_month = [statement for statement in statements if statement.month == month]
        summary, exceptions, lines = _reconcile_month(month, of_month, bank_lines, config, policy, accounts, as_of,
                                                      writer)
        summaries.append(summary)
        exception_frames.append(_with_month(exceptions, month))
        all_lines.append(lines)
    if writer is not None and callable(flush := getattr(writer, "flush", None)):
        flush()

    summary = pd.DataFrame(summaries, columns=_SUMMARY_COLUMNS).astype(
        {"bank_source_line": "Int64", "bank_amount_cents": "Int64", "statement_lines": "int64",
         "statement_total_cents": "int64", "debit_cents": "int64", "credit_cents": "int64", "created": "bool"})
    exceptions = pd.concat(exception_frames, ignore_index=True)
    lines = pd.concat(all_lines, ignore_index=True) if all_lines else pd.DataFrame(
        columns=["reference", "account", "brand", "debit_cents", "credit_cents", "comment"])
    yield dg.Output(summary, output_name="fee_statement_reconciliation", metadata={
        "months": len(summary),
        "by_status": dg.MetadataValue.json(summary["status"].value_counts().to_dict()),
        "posted_now": int(summary["created"].sum()) if len(summary) else 0,
        "folder": str(folder),
        "preview": preview(summary, ["month", "status", "statement_file", "statement_total_cents", "reference",
                                     "entry_no"]),
    })
    yield dg.Output(exceptions, output_name="fee_statement_exceptions", metadata={
        "exceptions": len(exceptions),
        "by_kind": dg.MetadataValue.json(exceptions["kind"].value_counts().sort_index().to_dict()),
        "preview": preview(exceptions, ["month", "kind", "severity", "problem", "action"]),
    })
    yield fee_entry_balances(lines)


def _reconcile_month(month: date, statements: list[FeeStatement], bank_lines: pd.DataFrame, config: PipelineConfig,
                     policy: SettlementPolicy, accounts: GlAccountMap, as_of: date,
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
    exceptions = concat_exceptions([exceptions])[_EXCEPTION_COLUMNS]
    exceptions.insert(0, "month", pd.Series([month] * len(exceptions), dtype="object"))
    return exceptions


def fee_entry_balances(lines: pd.DataFrame) -> dg.AssetCheckResult:
    debits, credits = int(lines["debit_cents"].sum()), int(lines["credit_cents"].sum())
    return dg.AssetCheckResult(
        check_name="fee_entry_balances", asset_key="fee_statement_reconciliation", passed=debits == credits,
        severity=dg.AssetCheckSeverity.ERROR,
        description="no entry this run" if lines.empty else f"debits {debits} cents, credits {credits} cents",
        metadata={"debit_cents": debits, "credit_cents": credits, "lines": len(lines)})


monthly_fees_job = dg.define_asset_job(
    "monthly_fees_job",
    selection=dg.AssetSelection.assets("fee_statement_reconciliation", "fee_statement_exceptions"),
    description="Reconcile each month's processor fee statement with the bank's fee debit and post its fee entry.",
)


def previous_month(day: date) -> date:
    first = day.replace(day=1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


@dg.schedule(
    name="monthly_fees_schedule",
    cron_schedule="0 8 10 * *",
    execution_timezone=_CONFIG.merchant.time_zone,
    target=monthly_fees_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The 10th of each month, 08:00 merchant time: reconcile the fee statements (the previous month's "
                "is due by then) and book their fees.",
)
def monthly_fees_schedule(context: dg.ScheduleEvaluationContext):
    zone = ZoneInfo(_CONFIG.merchant.time_zone)
    tick = (context.scheduled_execution_time or datetime.now(zone)).astimezone(zone)
    month = previous_month(tick.date())
    if month < date.fromisoformat(_CONFIG.merchant.first_business_day).replace(day=1):
        return dg.SkipReason(f"{month:%Y-%m} is before merchant.first_business_day")
    return dg.RunRequest(run_key=f"fees:{month:%Y-%m}:{tick.date()}", tags={TRIGGER_TAG: "schedule"})
