"""Jobs: the daily pass over one business day (grows as the pipeline's assets land)."""

import dagster as dg

paytrace_daily_job = dg.define_asset_job(
    "paytrace_daily_job",
    selection=dg.AssetSelection.groups("paytrace", "sage100"),
    description="Read the business day's PayTrace activity and the Sage snapshot into the warehouse.",
)
