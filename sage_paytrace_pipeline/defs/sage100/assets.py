"""Sage 100 source assets: daily snapshots of what matching reads (customers, cards, open invoices)."""

from datetime import date

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings
from sage_paytrace_pipeline.domain.matching.frames import (
    cards_frame,
    customers_frame,
    open_invoices_frame,
)
from sage_paytrace_pipeline.domain.money import cents_to_decimal

SNAPSHOT = dict(
    partitions_def=business_day_partitions,
    group_name="sage100",
    kinds={"python", "duckdb"},
    owners=["team:accounts-receivable"],
    tags={"domain": "erp"},
    metadata={"partition_expr": "business_date"},
    pool="duckdb",
)


def _snapshot(frame: pd.DataFrame, partition_key: str) -> pd.DataFrame:
    """Typed snapshot rows: text columns as strings and the DATE partition column first."""
    frame = frame.astype({column: "string" for column in frame.columns if frame[column].dtype == object})
    frame.insert(0, "business_date", date.fromisoformat(partition_key))
    return frame


@dg.asset(**SNAPSHOT)
def sage_customers(
    context: dg.AssetExecutionContext, sage100: Sage100Resource, settings: PipelineSettings
) -> pd.DataFrame:
    """Sage customers (AR_Customer) with their default vault card, as of the business day."""
    frame = _snapshot(customers_frame(sage100.reader().customers()), context.partition_key)
    context.add_output_metadata({"customers": len(frame),
                                 "active": int((frame["status"] == "A").sum())})
    return frame


@dg.asset(**SNAPSHOT)
def sage_customer_cards(
    context: dg.AssetExecutionContext, sage100: Sage100Resource, settings: PipelineSettings
) -> pd.DataFrame:
    """Stored vault references (AR_CustomerCreditCard.CreditCardGUID = PayTrace vault id); no card data."""
    frame = _snapshot(cards_frame(sage100.reader().customer_cards()), context.partition_key)
    context.add_output_metadata({"cards": len(frame)})
    return frame


@dg.asset(**SNAPSHOT)
def sage_open_invoices(
    context: dg.AssetExecutionContext, sage100: Sage100Resource, settings: PipelineSettings
) -> pd.DataFrame:
    """Open AR items with a balance (AR_OpenInvoice), balances in integer cents."""
    frame = _snapshot(open_invoices_frame(sage100.reader().open_invoices()), context.partition_key)
    context.add_output_metadata({
        "open_items": len(frame),
        "open_balance": str(cents_to_decimal(int(frame["balance_cents"].sum()))),
        "by_type": dg.MetadataValue.json(frame.groupby("invoice_type")["balance_cents"].count().astype(int).to_dict()),
    })
    return frame
