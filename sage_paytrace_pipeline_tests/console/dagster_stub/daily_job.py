"""A code location with a daily-partitioned job of the pipeline's name: what the console's re-run launches on
a real dagster-webserver in the tests (the real job needs the sandboxes; the launch is the same)."""

import dagster as dg

days = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(partitions_def=days)
def day_marker(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


defs = dg.Definitions(assets=[day_marker], jobs=[dg.define_asset_job("paytrace_daily_job", partitions_def=days)])
