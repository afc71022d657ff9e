"""Jobs: the daily pass over one business day."""

import dagster as dg

paytrace_daily_job = dg.define_asset_job(
    "paytrace_daily_job",
    selection=dg.AssetSelection.groups("paytrace", "sage100", "receivables"),
    description="Read the business day's PayTrace activity and the Sage snapshot, match the payments, post them "
                "as Sage cash receipts, and list every exception.",
    tags={"dagster/max_retries": 1},
)
