"""Monthly-discount merchants: the processor's monthly fee statement against the bank's fee debit.

A thin asset around `settlement.fees` (statements, months, the entry posted once). Not
partitioned: a statement is a month, and the asset shares a run with the daily partitions
(`dagster asset materialize --select '*' --partition DAY`) like `bank_deposits`. The bank lines are
the statements the bank statement sensor already loaded (`pipeline.bank_statement_lines`). The
asset and its schedule are built from the `@dg.definitions` function below, so importing this
module reads no configuration (the schedule needs the merchant's zone).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.banking.fee_statement import FeeStatementFormat
from sage_paytrace_pipeline.banking.store import StatementStore
from sage_paytrace_pipeline.config import PipelineConfig, fee_statement_folder
from sage_paytrace_pipeline.defs.automation.sensors import TRIGGER_TAG
from sage_paytrace_pipeline.defs.metadata import exception_list, preview
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.settlement.fees import (
    fee_statements,
    previous_month,
    reconcile_fee_months,
)
from sage_paytrace_pipeline.settlement.frames import account_map

OWNERS = ["team:finance"]


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name="settlement", kinds={"python", "duckdb"}, owners=OWNERS,
                       tags={"domain": "settlement"}, description=description, is_required=True)


def monthly_fee_reconciliation(context: dg.AssetExecutionContext, settings: PipelineSettings,
                               sage100: Sage100Resource, warehouse: DuckDBResource):
    config = settings.config()
    folder = fee_statement_folder(config, settings.config_path)
    statements, errors = fee_statements(folder, config.bank.fee_statement_csv or FeeStatementFormat())
    with warehouse.get_connection() as connection:
        bank_lines = StatementStore(connection).lines()
    reader = sage100.reader()
    accounts = account_map(config, reader.payment_types(), reader.gl_accounts())
    as_of = datetime.now(ZoneInfo(config.merchant.time_zone)).date()
    run = reconcile_fee_months(config, statements, errors, bank_lines, accounts=accounts, as_of=as_of,
                               open_writer=sage100.open_writer)
    summary, exceptions = run.summary, run.exceptions
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
        "preview": exception_list(exceptions, ["month"]),
    })
    yield fee_entry_balances(run.lines)


def fee_entry_balances(lines: pd.DataFrame) -> dg.AssetCheckResult:
    debits, credits = int(lines["debit_cents"].sum()), int(lines["credit_cents"].sum())
    return dg.AssetCheckResult(
        check_name="fee_entry_balances", asset_key="fee_statement_reconciliation", passed=debits == credits,
        severity=dg.AssetCheckSeverity.ERROR,
        description="no entry this run" if lines.empty else f"debits {debits} cents, credits {credits} cents",
        metadata={"debit_cents": debits, "credit_cents": credits, "lines": len(lines)})


def build_fee_assets() -> list[dg.AssetsDefinition]:
    return [dg.multi_asset(
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
    )(fails_fast_on_outage(monthly_fee_reconciliation))]


monthly_fees_job = dg.define_asset_job(
    "monthly_fees_job",
    selection=dg.AssetSelection.assets("fee_statement_reconciliation", "fee_statement_exceptions"),
    description="Reconcile each month's processor fee statement with the bank's fee debit and post its fee entry.",
)


def build_monthly_fees_schedule(config: PipelineConfig) -> dg.ScheduleDefinition:
    zone = ZoneInfo(config.merchant.time_zone)
    first_month = date.fromisoformat(config.merchant.first_business_day).replace(day=1)

    @dg.schedule(
        name="monthly_fees_schedule",
        cron_schedule="0 8 10 * *",
        execution_timezone=config.merchant.time_zone,
        target=monthly_fees_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The 10th of each month, 08:00 merchant time: reconcile the fee statements (the previous month's "
                    "is due by then) and book their fees.",
    )
    def monthly_fees_schedule(context: dg.ScheduleEvaluationContext):
        tick = (context.scheduled_execution_time or datetime.now(zone)).astimezone(zone)
        month = previous_month(tick.date())
        if month < first_month:
            return dg.SkipReason(f"{month:%Y-%m} is before merchant.first_business_day")
        return dg.RunRequest(run_key=f"fees:{month:%Y-%m}:{tick.date()}", tags={TRIGGER_TAG: "schedule"})

    return monthly_fees_schedule


@dg.definitions
def monthly_fees() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_fee_assets()),
                          schedules=[build_monthly_fees_schedule(load_time_config())])
