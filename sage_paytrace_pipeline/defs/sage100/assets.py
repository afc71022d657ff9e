"""Sage 100 source assets: daily snapshots of what matching reads (customers, cards, open invoices).

The three are one shape (read through the Sage reader, typed, dated, counted), so one factory
makes them; `build_sage100_assets(config)` runs from the `@dg.definitions` function below, so
importing this module reads no configuration.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, run_days, with_days
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.warehouse import AS_OF
from sage_paytrace_pipeline.domain.matching.frames import (
    cards_frame,
    customers_frame,
    open_invoices_frame,
)
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

# The customer sync saves cards and creates customers: matching reads the snapshot taken after it.
AFTER_CUSTOMER_SYNC = ("customer_sync_plan",)

# keyword arguments of dg.asset shared by the assets below
SNAPSHOT: dict[str, Any] = dict(
    group_name="sage100",
    kinds={"python", "duckdb"},
    owners=["team:accounts-receivable"],
    tags={"domain": "erp"},
    metadata={"partition_expr": "business_date", **AS_OF},
    pool="duckdb",
    backfill_policy=BACKFILL_POLICY,
)


def _snapshot(frame: pd.DataFrame, partition_key: str) -> pd.DataFrame:
    """Typed snapshot rows: text columns as strings and the DATE partition column first."""
    frame = frame.astype({column: "string" for column in frame.columns if frame[column].dtype == object})
    frame.insert(0, "business_date", date.fromisoformat(partition_key))
    return frame


def snapshot_asset(name: str, description: str, read: Callable[[Sage100Reader], pd.DataFrame],
                   summarize: Callable[[pd.DataFrame], dict], partitions: dg.PartitionsDefinition,
                   *, deps: Sequence[str] = ()) -> dg.AssetsDefinition:
    """A daily snapshot asset: `read` the frame through the Sage reader, store it dated, report
    `summarize(frame)` as its metadata. `deps`: assets that write what it reads, run first."""

    @dg.asset(name=name, description=description, partitions_def=partitions, deps=list(deps), **SNAPSHOT)
    @fails_fast_on_outage
    def _snapshot_asset(context: dg.AssetExecutionContext, sage100: Sage100Resource,
                        settings: PipelineSettings) -> pd.DataFrame:
        # one read and one snapshot for the run, dated its first day: the range's later days load it as
        # the snapshot they live under (warehouse.AS_OF, ranges.as_of), Sage as the run found it (matching
        # carries the range's own earlier receipts forward, defs/receivables/assets.py)
        days = run_days(context)
        snapshot = _snapshot(read(sage100.reader()), days[0].isoformat())
        context.add_output_metadata(with_days(summarize(snapshot), days))
        return snapshot

    return _snapshot_asset


def _open_invoice_metadata(frame: pd.DataFrame) -> dict:
    return {
        "open_items": len(frame),
        "open_balance": str(cents_to_decimal(int(frame["balance_cents"].sum()))),
        "by_type": dg.MetadataValue.json(frame.groupby("invoice_type")["balance_cents"].count().astype(int).to_dict()),
    }


def build_sage100_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions = business_day_partitions(config)
    return [
        snapshot_asset("sage_customers", "Sage customers (AR_Customer) with their default vault card, as of the "
                       "business day.", lambda reader: customers_frame(reader.customers()),
                       lambda frame: {"customers": len(frame), "active": int((frame["status"] == "A").sum())},
                       partitions, deps=AFTER_CUSTOMER_SYNC),
        snapshot_asset("sage_customer_cards", "Stored vault references (AR_CustomerCreditCard.CreditCardGUID = "
                       "PayTrace vault id); no card data.", lambda reader: cards_frame(reader.customer_cards()),
                       lambda frame: {"cards": len(frame)}, partitions, deps=AFTER_CUSTOMER_SYNC),
        snapshot_asset("sage_open_invoices", "Open AR items with a balance (AR_OpenInvoice), balances in integer "
                       "cents.", lambda reader: open_invoices_frame(reader.open_invoices()),
                       _open_invoice_metadata, partitions),
    ]


@dg.definitions
def sage100_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_sage100_assets(load_time_config())))
