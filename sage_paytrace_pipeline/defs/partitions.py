"""One daily partitioning for the whole project: the merchant's business day in its time zone.

`end_offset=1` exposes today's (still open) day so intraday runs can post within minutes.
The zone and first day come from the YAML config (merchant.time_zone, merchant.first_business_day),
so the partitioning is built with the definitions (`load_time_config()` in a `@dg.definitions`
function), never when a module is imported. Definitions built from one config compare equal.
"""

import dagster as dg

from sage_paytrace_pipeline.config import PipelineConfig


def business_day_partitions(config: PipelineConfig) -> dg.DailyPartitionsDefinition:
    merchant = config.merchant
    return dg.DailyPartitionsDefinition(start_date=merchant.first_business_day, timezone=merchant.time_zone,
                                        end_offset=1)
