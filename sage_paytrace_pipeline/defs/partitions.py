"""One daily partitioning for the whole project: the merchant's business day in its time zone.

`end_offset=1` exposes today's (still open) day so intraday runs can post within minutes.
The zone and first day come from the YAML config (merchant.time_zone, merchant.first_business_day).
"""

import dagster as dg

from sage_paytrace_pipeline.defs.settings import load_time_config

_MERCHANT = load_time_config().merchant

business_day_partitions = dg.DailyPartitionsDefinition(
    start_date=_MERCHANT.first_business_day, timezone=_MERCHANT.time_zone, end_offset=1
)
