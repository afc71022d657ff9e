"""PayTrace source assets: the day's transactions, read with one export call per day."""

from datetime import date

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.defs.metadata import preview
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.settings import PipelineSettings
from sage_paytrace_pipeline.domain.money import from_cents
from sage_paytrace_pipeline.paytrace.frames import (
    transactions_frame,
    vault_customers_frame,
)

# Reads are idempotent, so a step may simply be retried; the client already retries single calls.
API_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

PAYTRACE_SOURCE = dict(
    partitions_def=business_day_partitions,
    group_name="paytrace",
    kinds={"python", "duckdb"},
    owners=["team:accounts-receivable"],
    tags={"domain": "payments", "pii": "masked"},
    metadata={"partition_expr": "business_date"},
    pool="duckdb",
    retry_policy=API_RETRY,
)


@dg.asset(**PAYTRACE_SOURCE)
def paytrace_transactions(
    context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings
) -> pd.DataFrame:
    """Every PayTrace transaction created on the business day, with its current status.

    Re-materializing a day picks up later status changes (pending → settled `GB<batch>`, voids).
    Card data is reduced to brand, BIN, last 4 and expiry by the client before it gets here.
    """
    day = date.fromisoformat(context.partition_key)
    transactions = paytrace.get_client().export_transactions(day, day)
    frame = transactions_frame(transactions, day)
    context.add_output_metadata(_summary_metadata(frame))
    return frame


@dg.asset(**PAYTRACE_SOURCE)
def paytrace_customers(
    context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings
) -> pd.DataFrame:
    """The PayTrace customer vault as of the business day (one export call): who each vault id is.

    Matching uses it to fill a vault payment's missing name, e-mail or ZIP; cards appear only as
    brand, last 4 and expiry.
    """
    frame = vault_customers_frame(paytrace.get_client().export_customers(), date.fromisoformat(context.partition_key))
    context.add_output_metadata({"vault_customers": dg.MetadataValue.int(len(frame)),
                                 "with_email": dg.MetadataValue.int(int(frame["email"].fillna("").ne("").sum()))})
    return frame


def _summary_metadata(frame: pd.DataFrame) -> dict:
    by_status = frame.groupby("status")["amount_cents"].agg(["count", "sum"])
    return {
        "transactions": dg.MetadataValue.int(len(frame)),
        "by_status": dg.MetadataValue.json(
            {status: {"count": int(row["count"]), "amount": str(from_cents(int(row["sum"])))}
             for status, row in by_status.iterrows()}
        ),
        "preview": preview(frame, ["transaction_id", "transaction_type", "status", "amount_cents", "invoice_id",
                                   "card_brand", "card_last4"]),
    }
