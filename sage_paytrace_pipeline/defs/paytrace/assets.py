"""PayTrace source assets: the days' transactions, read with one export call per run (split into days).

Built by `build_paytrace_assets(config)` from the `@dg.definitions` function below, so importing
this module reads no configuration (the partitions need the merchant's zone and first day).
"""

from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.metadata import exception_metadata, preview
from sage_paytrace_pipeline.defs.outages import outages_fail_the_step
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, run_days, stacked, with_days
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.warehouse import AS_OF
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.paytrace.frames import (
    rejected_records_frame,
    transactions_frame,
    vault_customers_frame,
)
from sage_paytrace_pipeline.paytrace.ranges import transactions_by_day

# Reads are idempotent, so a step may simply be retried; the client already retries single calls.
# Not when PayTrace is unreachable: that fails at once, without step retries (outages_fail_the_step).
API_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# keyword arguments of dg.asset shared by the assets below
PAYTRACE_SOURCE: dict[str, Any] = dict(
    group_name="paytrace",
    kinds={"python", "duckdb"},
    owners=["team:accounts-receivable"],
    tags={"domain": "payments", "pii": "masked"},
    metadata={"partition_expr": "business_date"},
    pool="duckdb",
    retry_policy=API_RETRY,
    backfill_policy=BACKFILL_POLICY,
)


def _source_out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name="paytrace", kinds={"python", "duckdb"}, owners=["team:accounts-receivable"],
                       tags={"domain": "payments", "pii": "masked"}, metadata={"partition_expr": "business_date"},
                       description=description, is_required=True)


def paytrace_transactions(context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings):
    """Every PayTrace transaction created on the business day, with its current status.

    Re-materializing a day picks up later status changes (pending → settled `GB<batch>`, voids).
    Card data is reduced to brand, BIN, last 4 and expiry by the client before it gets here, and
    card numbers typed into free text are masked. A record that cannot be read does not hold back
    the others: it becomes a `paytrace_record_exceptions` row (shown in `receivable_exceptions`).
    """
    days = run_days(context)
    client = paytrace.get_client()
    with outages_fail_the_step():  # one export call for the range, split into its days as one-day calls give them
        exports = transactions_by_day(client, days)
    frames, rejections = [], []
    for day in days:
        export = exports[day]
        frames.append(transactions_frame(export.transactions, day))
        rejections.append(_dated(rejected_records_frame(export.rejected, day), day))
    frame, rejected = stacked(frames), stacked(rejections)
    yield dg.Output(frame, output_name="paytrace_transactions",
                    metadata=with_days({**_summary_metadata(frame), "rejected_records": len(rejected)}, days))
    yield dg.Output(rejected, output_name="paytrace_record_exceptions",
                    metadata=with_days(exception_metadata(rejected), days))


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "business_date", day)
    return frame


def paytrace_customers(
    context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings
) -> pd.DataFrame:
    """The PayTrace customer vault as of the business day (one export call): who each vault id is.

    Matching uses it to fill a vault payment's missing name, e-mail or ZIP; cards appear only as
    brand, last 4 and expiry.
    """
    with outages_fail_the_step():
        customers = paytrace.get_client().export_customers()
    # one export and one snapshot for the run, dated its first day: a range run's days all see the vault
    # as it is now, as each day's own run would (they load it as of their day: warehouse.AS_OF)
    days = run_days(context)
    frame = vault_customers_frame(customers, days[0])
    context.add_output_metadata(with_days(
        {"vault_customers": dg.MetadataValue.int(len(frame)),
         "with_email": dg.MetadataValue.int(int(frame["email"].fillna("").ne("").sum()))}, days))
    return frame


def _summary_metadata(frame: pd.DataFrame) -> dict:
    by_status = frame.groupby("status")["amount_cents"].agg(["count", "sum"])
    return {
        "transactions": dg.MetadataValue.int(len(frame)),
        "by_status": dg.MetadataValue.json(
            {status: {"count": int(row["count"]), "amount": str(cents_to_decimal(int(row["sum"])))}
             for status, row in by_status.iterrows()}
        ),
        "preview": preview(frame, ["transaction_id", "transaction_type", "status", "amount_cents", "invoice_id",
                                   "card_brand", "card_last4"]),
    }


def build_paytrace_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions = business_day_partitions(config)
    transactions = dg.multi_asset(
        outs={
            "paytrace_transactions": _source_out(
                "Every PayTrace transaction created on the business day, with its current status (card-free)."),
            "paytrace_record_exceptions": _source_out(
                "Records of the day's PayTrace export that could not be loaded (malformed, or a repeated "
                "transaction id): which record, which field, what is wrong, what to do."),
        },
        partitions_def=partitions,
        pool="duckdb",
        retry_policy=API_RETRY,
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
    )(paytrace_transactions)
    snapshot = {**PAYTRACE_SOURCE, "metadata": {**PAYTRACE_SOURCE["metadata"], **AS_OF}}
    return [transactions, dg.asset(partitions_def=partitions, **snapshot)(paytrace_customers)]


@dg.definitions
def paytrace_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_paytrace_assets(load_time_config())))
