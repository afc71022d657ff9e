"""Chargeback cases: the processor's dispute reports -> cases with every stage -> GL entries -> deadline alerts.

Thin: `disputes/flow.run_disputes` does the work; this multi-asset gives it the resources, delivers
the deadline alerts through the configured alert channels (defs/alerts/), reports what happened
and checks the invariants: `dispute_entries_balance`, `no_case_posted_twice` (blocking) and
`every_chargeback_debit_has_a_case` (a warning: a debit settlement booked that no report explains).
Under a currency conversion the entries are in Sage's currency, at the rates file's rates and each
sale's recorded rate (disputes/posting.py). Not partitioned: a case spans weeks; every run reads
every loaded report. With `disputes` absent from the config the assets exist, do nothing and say
so. Built by `build_dispute_assets(config)` from the `@dg.definitions` function below, so
importing this module reads no configuration.
"""

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import PipelineConfig, dispute_report_folder
from sage_paytrace_pipeline.defs.alerts.message import AlertMessage
from sage_paytrace_pipeline.defs.alerts.sensors import configured_channels
from sage_paytrace_pipeline.defs.disputes import checks
from sage_paytrace_pipeline.defs.exchange import exchange_rates, receipt_exchange
from sage_paytrace_pipeline.defs.metadata import exception_metadata, money_total, preview
from sage_paytrace_pipeline.defs.sage100.resources import SAGE_WRITE_RETRY, Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.disputes.deadlines import AlertLog, DeadlineAlert, deadline_alerts, deliver
from sage_paytrace_pipeline.disputes.flow import run_disputes
from sage_paytrace_pipeline.disputes.posting import DisputeConversion, PostingLog
from sage_paytrace_pipeline.disputes.report_store import ReportStore
from sage_paytrace_pipeline.domain.disputes.cases import no_cases
from sage_paytrace_pipeline.domain.disputes.currency import PROCESSOR_LINE_COLUMNS
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS
from sage_paytrace_pipeline.domain.disputes.postings import POSTING_COLUMNS

OWNERS = ["team:accounts-receivable"]
GROUP = "disputes"
_JOURNAL_LINES = "pipeline.gl_journal_entries"  # the settlement entries' lines (asset gl_journal_entries)


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name=GROUP, kinds={"python", "duckdb", "sage"}, owners=OWNERS,
                       tags={"domain": "disputes"}, description=description, is_required=True)


def dispute_assets(
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
    warehouse: DuckDBResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    config = settings.config()
    sent: list[tuple[str, str, str]] = []
    alert_errors: list[str] = []
    loaded: list[str] = []
    stages, cases, exceptions = pd.DataFrame(), no_cases(), EXCEPTIONS.empty()
    lines = pd.DataFrame(columns=POSTING_COLUMNS)
    log = pd.DataFrame(columns=["reference", "case_number", "stage", "state", "entry_no"])
    note = "disputes are off (no `disputes:` section in the config): nothing read, nothing posted"
    with warehouse.get_connection() as connection:
        files = ReportStore(connection).files()  # (none while disputes are off: the table's shape)
        if config.disputes is not None:
            folder = dispute_report_folder(config, settings.config_path)
            assert folder is not None
            folder.mkdir(parents=True, exist_ok=True)
            today = datetime.now(ZoneInfo(config.merchant.time_zone)).date()
            run = run_disputes(connection, config, folder, sage100.open_writer(), as_of=today,
                               run_id=context.run.run_id,
                               reader=sage100.reader() if config.disputes.reopen_invoice else None,
                               conversion=_conversion(connection, config, settings.config_path, context.run.run_id))
            files, stages, cases, exceptions, loaded = (ReportStore(connection).files(), run.stages, run.cases,
                                                        run.exceptions, run.load.loaded)
            lines = run.posting.lines if run.posting else pd.DataFrame(columns=POSTING_COLUMNS)
            log = PostingLog(connection, context.run.run_id).frame()
            sent, alert_errors = _alert(connection, config, cases, today)
            note = f"reports from {folder}"
        debits = _chargeback_debits(connection, config)
    for error in alert_errors:
        context.log.warning("dispute alert not delivered: %s", error)
    yield dg.Output(files, output_name="dispute_reports", metadata={
        "mode": note, "files": len(files), "loaded_now": dg.MetadataValue.json(loaded)})
    yield dg.Output(cases, output_name="dispute_cases", metadata={
        "cases": len(cases), "stages": len(stages),
        "by_status": dg.MetadataValue.json(cases["status"].value_counts().to_dict() if len(cases) else {}),
        "open_amount": money_total(cases.loc[cases["status"] == "open", "amount_cents"] if len(cases)
                                   else pd.Series(dtype="int64")),
        "alerts_sent_now": dg.MetadataValue.json([list(s) for s in sent]),
        "alerts_not_delivered": len(alert_errors),
        "preview": preview(cases, ["case_number", "stage", "status", "merchant_due_date", "reason_code",
                                   "amount_cents", "sale_transaction_id"]) if len(cases) else "no case",
    })
    yield dg.Output(log, output_name="dispute_postings", metadata={
        "entries_planned": int(lines["reference"].nunique()) if len(lines) else 0, "posted": len(log)})
    yield dg.Output(exceptions, output_name="dispute_exceptions", metadata=exception_metadata(exceptions))
    yield checks.dispute_entries_balance(lines)
    yield checks.no_case_posted_twice(log)
    yield checks.every_chargeback_debit_has_a_case(debits, stages)


def _conversion(connection: duckdb.DuckDBPyConnection, config: PipelineConfig, config_path: str,
                run_id: str) -> DisputeConversion | None:
    """The cases' conversion to Sage's currency (README "Currencies"), None with one currency."""
    rates = exchange_rates(config, config_path)
    if rates is None:
        return None
    account = config.currency.exchange_difference_account
    assert account is not None  # required by the config with a conversion
    return DisputeConversion(rates, receipt_exchange(connection, run_id),
                             (config.currency.paytrace, config.currency.sage), account,
                             processor_lines=lambda: booked_processor_lines(connection, config))


def booked_processor_lines(connection: duckdb.DuckDBPyConnection, config: PipelineConfig) -> pd.DataFrame:
    """Settlement's converted lines debiting chargebacks or crediting what the processor owes (the
    processor receivable, else chargebacks): the day and rate each processor debit or credit was booked at."""
    columns = {name for (name,) in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pipeline' "
        "AND table_name = 'gl_journal_entries'").fetchall()}
    if not {"paytrace_debit_cents", "paytrace_credit_cents", "fx_rate", "posting_date"} <= columns:
        return pd.DataFrame(columns=PROCESSOR_LINE_COLUMNS)  # not booked yet, or booked before the conversion
    settled = config.gl_accounts.chargebacks
    owed = config.gl_accounts.processor_receivable or settled
    return connection.execute(f"""
        SELECT DISTINCT reference, account, posting_date,
               CASE WHEN account = ? AND debit_cents > 0 THEN 'debit' ELSE 'credit' END AS side,
               CASE WHEN account = ? AND debit_cents > 0 THEN paytrace_debit_cents ELSE paytrace_credit_cents END
                   AS paytrace_cents, fx_rate
        FROM {_JOURNAL_LINES}
        WHERE (account = ? AND debit_cents > 0) OR (account = ? AND credit_cents > 0)""",
                              [settled, settled, settled, owed]).df()[PROCESSOR_LINE_COLUMNS]


def _alert(connection: duckdb.DuckDBPyConnection, config: PipelineConfig, cases: pd.DataFrame,
           today) -> tuple[list, list[str]]:
    settings = config.disputes
    if config.alerts is None or settings is None:
        return [], []

    def sender(channel):
        def send(alert: DeadlineAlert) -> None:
            channel.send(AlertMessage(subject=alert.subject, lines=alert.lines))
        return send

    channels = {channel.name: sender(channel) for channel in configured_channels(config.alerts)}
    alerts = deadline_alerts(cases, today=today, warn_days=settings.warn_days_before_due)
    return deliver(alerts, channels, AlertLog(connection))


def _chargeback_debits(connection: duckdb.DuckDBPyConnection, config: PipelineConfig) -> pd.DataFrame:
    """The settlement entries' debits to gl_accounts.chargebacks (netted shortfalls and chargeback debits),
    in PayTrace's currency like the cases."""
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'gl_journal_entries'").fetchall()[0][0]
    if not exists or config.disputes is None:
        return pd.DataFrame(columns=["reference", "posting_date", "debit_cents"])
    columns = {name for (name,) in connection.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pipeline' "
        "AND table_name = 'gl_journal_entries'").fetchall()}
    # under a currency conversion the cases' amounts are PayTrace's: so is what is compared with them
    amount = "CASE WHEN paytrace_debit_cents > 0 THEN paytrace_debit_cents ELSE debit_cents END" \
        if "paytrace_debit_cents" in columns else "debit_cents"
    return connection.execute(
        f"SELECT DISTINCT reference, posting_date, {amount} AS debit_cents FROM {_JOURNAL_LINES} "
        "WHERE account = ? AND debit_cents > 0 ORDER BY posting_date, reference",
        [config.gl_accounts.chargebacks]).df()


def build_dispute_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    del config  # the assets always exist; `disputes` absent makes them say so
    return [dg.multi_asset(
        outs={
            "dispute_reports": _out("The processor's dispute report files loaded (each once, by content hash)."),
            "dispute_cases": _out("One row per dispute case: current stage and status, every stage it went "
                                  "through, reason and family, merchant and network due dates, its PayTrace sale "
                                  "and what to send."),
            "dispute_postings": _out("The GL entries posted to Sage per case and stage (Dr chargeback receivable "
                                     "or expense + fee / Cr what settlement booked; a won case reversed; a lost "
                                     "one to the loss account), each once."),
            "dispute_exceptions": _out("Malformed report files (file and line), cases with no or several sales, "
                                       "stages out of order, entries Sage refused: what fixes each."),
        },
        deps=["bank_deposits"],
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        can_subset=False,
        check_specs=[
            dg.AssetCheckSpec("dispute_entries_balance", asset="dispute_postings", blocking=True,
                              description="every dispute entry's debits equal its credits"),
            dg.AssetCheckSpec("no_case_posted_twice", asset="dispute_postings", blocking=True,
                              description="one posted entry per case and stage"),
            dg.AssetCheckSpec("every_chargeback_debit_has_a_case", asset="dispute_cases",
                              description="each chargeback the settlement entries booked has a dispute case"),
        ],
    )(dispute_assets)]


@dg.definitions
def dispute_asset_definitions() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_dispute_assets(load_time_config())))
