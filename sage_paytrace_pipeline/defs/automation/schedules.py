"""`daily_close_schedule`: the full pass over a business day once its PayTrace batch has closed.

PayTrace closes the day's batch at the merchant's cutoff (merchant.batch_cutoff); the schedule
runs `automation.close_delay_minutes` later, in the merchant's zone, for that day. A late cutoff
plus the delay can pass midnight (23:30 + 60 min → 00:30), and then the day that closed is
yesterday's. The run_key `close:<day>` makes each day's close run at most once. The schedule is built from the
`@dg.definitions` function at the end, so importing this module reads no configuration.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.automation.sensors import TRIGGER_TAG
from sage_paytrace_pipeline.defs.jobs import paytrace_daily_job
from sage_paytrace_pipeline.defs.settings import load_time_config


def close_time(batch_cutoff: str, close_delay_minutes: int) -> time:
    """The merchant-local time of day the close runs (cutoff + delay, wrapping past midnight)."""
    cutoff = time.fromisoformat(batch_cutoff)
    return (datetime.combine(date.min, cutoff) + timedelta(minutes=close_delay_minutes)).time()


def close_cron(batch_cutoff: str, close_delay_minutes: int) -> str:
    at = close_time(batch_cutoff, close_delay_minutes)
    return f"{at.minute} {at.hour} * * *"


def closed_business_day(local_tick: datetime, batch_cutoff: str, close_delay_minutes: int) -> date:
    """The latest business day whose close moment (cutoff + delay, merchant wall clock) is at or
    before the tick: the cutoff's own day when the tick falls on it, the day before when the delay
    carried the tick past midnight. Also right for an off-schedule tick (a manual test in the UI)."""
    cutoff = time.fromisoformat(batch_cutoff)
    tick = local_tick.replace(tzinfo=None)
    day = tick.date()
    while datetime.combine(day, cutoff) + timedelta(minutes=close_delay_minutes) > tick:
        day -= timedelta(days=1)
    return day


def build_daily_close_schedule(config: PipelineConfig) -> dg.ScheduleDefinition:
    merchant, delay = config.merchant, config.automation.close_delay_minutes
    zone = ZoneInfo(merchant.time_zone)
    first_day = date.fromisoformat(merchant.first_business_day)

    @dg.schedule(
        name="daily_close_schedule",
        cron_schedule=close_cron(merchant.batch_cutoff, delay),
        execution_timezone=merchant.time_zone,
        target=paytrace_daily_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"The daily pass over the business day whose batch closed at {merchant.batch_cutoff} "
                    f"({merchant.time_zone}), {delay} minutes after the cutoff.",
    )
    def daily_close_schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time or datetime.now(zone)
        local = tick.astimezone(zone) if tick.tzinfo else tick  # a naive tick is merchant local already
        day = closed_business_day(local, merchant.batch_cutoff, delay)
        if day < first_day:
            return dg.SkipReason(f"{day} is before the first business day {first_day}")
        return dg.RunRequest(partition_key=day.isoformat(), run_key=f"close:{day}", tags={TRIGGER_TAG: "schedule"})

    return daily_close_schedule


@dg.definitions
def daily_close() -> dg.Definitions:
    return dg.Definitions(schedules=[build_daily_close_schedule(load_time_config())])
