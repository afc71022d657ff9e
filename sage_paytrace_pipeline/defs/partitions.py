"""One daily partitioning for the whole project: the merchant's business day in its time zone.

`end_offset=1` exposes today's (still open) day so intraday runs can post within minutes.
The zone and first day come from the environment until the YAML config (issue 4) owns them.
"""

import os

import dagster as dg

BUSINESS_TIME_ZONE = os.environ.get("PAYTRACE_TIME_ZONE", "America/Los_Angeles")
FIRST_BUSINESS_DAY = os.environ.get("SAGE_PAYTRACE_FIRST_DAY", "2026-01-01")

business_day_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_BUSINESS_DAY, timezone=BUSINESS_TIME_ZONE, end_offset=1
)
