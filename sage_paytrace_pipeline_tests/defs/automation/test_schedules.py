"""`daily_close_schedule`: cutoff + delay in the merchant zone, for the business day that just closed."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from sage_paytrace_pipeline.config import (
    AutomationSettings,
    MerchantSettings,
    PipelineConfig,
)
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.automation.schedules import (
    build_daily_close_schedule,
    close_cron,
    closed_business_day,
)

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(("cutoff", "delay", "cron"), [
    ("20:00", 60, "0 21 * * *"),
    ("23:30", 60, "30 0 * * *"),
    ("17:45", 30, "15 18 * * *"),
    ("22:00", 0, "0 22 * * *"),
    ("23:59", 720, "59 11 * * *"),
])
def test_close_cron(cutoff, delay, cron):
    assert close_cron(cutoff, delay) == cron


@pytest.mark.parametrize(("tick", "cutoff", "delay", "day"), [
    (datetime(2026, 3, 5, 21, 0), "20:00", 60, date(2026, 3, 5)),  # same calendar day
    (datetime(2026, 3, 6, 0, 30), "23:30", 60, date(2026, 3, 5)),  # wrapped past midnight
    (datetime(2026, 3, 5, 20, 0), "20:00", 0, date(2026, 3, 5)),  # no delay: the cutoff itself
    (datetime(2026, 3, 5, 10, 0), "20:00", 60, date(2026, 3, 4)),  # off-schedule (manual) tick
    (datetime(2026, 3, 1, 0, 30), "23:30", 60, date(2026, 2, 28)),  # across a month end
])
def test_closed_business_day(tick, cutoff, delay, day):
    assert closed_business_day(tick, cutoff, delay) == day
    assert closed_business_day(tick.replace(tzinfo=LA), cutoff, delay) == day


def test_the_code_location_schedule_closes_the_day_at_21_00():
    schedule = defs().resolve_schedule_def("daily_close_schedule")
    assert schedule.cron_schedule == "0 21 * * *" and schedule.execution_timezone == "America/Los_Angeles"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING and schedule.job_name == "paytrace_daily_job"
    data = schedule.evaluate_tick(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 5, 21, tzinfo=LA), repository_def=defs().get_repository_def()))
    [request] = data.run_requests
    assert (request.partition_key, request.run_key, request.tags["trigger"]) == (
        "2026-03-05", "close:2026-03-05", "schedule")


def test_a_late_cutoff_wraps_to_the_previous_day():
    config = PipelineConfig(merchant=MerchantSettings(batch_cutoff="23:30"),
                            automation=AutomationSettings(close_delay_minutes=60))
    schedule = build_daily_close_schedule(config)
    assert schedule.cron_schedule == "30 0 * * *"
    request = schedule(dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 6, 0, 30, tzinfo=LA)))
    assert (request.partition_key, request.run_key) == ("2026-03-05", "close:2026-03-05")


def test_no_close_before_the_first_business_day():
    schedule = build_daily_close_schedule(PipelineConfig())
    result = schedule(dg.build_schedule_context(scheduled_execution_time=datetime(2026, 1, 1, 0, 30, tzinfo=LA)))
    assert isinstance(result, dg.SkipReason)
