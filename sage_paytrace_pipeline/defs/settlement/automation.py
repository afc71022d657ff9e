"""Settlement automation: load bank statements when files arrive; reconcile every morning.

The folder sensor hashes files only (it never opens the warehouse) and keeps the hashes it has
sent in its cursor; the job stores each file once by the same hash. Deposits land one to a few
business days after a batch, so the morning schedule re-runs every day of the lookback window:
a run for a day whose batches are settled and posted changes nothing (journal entries are
idempotent by reference). Both are built from the `@dg.definitions` function below, so importing
this module reads no configuration.
"""

import hashlib
import json
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from sage_paytrace_pipeline.config import (
    ConfigError,
    PipelineConfig,
    load_config,
    statement_folder,
)
from sage_paytrace_pipeline.defs.automation.sensors import TRIGGER_TAG
from sage_paytrace_pipeline.defs.jobs import bank_statements_job, settlement_daily_job
from sage_paytrace_pipeline.defs.settings import CONFIG_VARIABLE, load_time_config
from sage_paytrace_pipeline.defs.settlement.assets import settlement_lookback

_KEPT_HASHES = 5000  # cursor size bound; older files are also refused by the job's own hash table


def settlement_days(today: date, lookback: int, first_business_day: date) -> list[date]:
    """Yesterday and the `lookback` days before it, oldest first, never before the first business day."""
    days = [today - timedelta(days=back) for back in range(lookback + 1, 0, -1)]
    return [day for day in days if day >= first_business_day]


def build_settlement_schedule(config: PipelineConfig) -> dg.ScheduleDefinition:
    merchant, at = config.merchant, config.automation.settlement_time
    zone, days_back = ZoneInfo(merchant.time_zone), settlement_lookback(config)
    first_day = date.fromisoformat(merchant.first_business_day)

    @dg.schedule(
        name="settlement_schedule",
        cron_schedule=f"{int(at[3:])} {int(at[:2])} * * *",
        execution_timezone=merchant.time_zone,
        target=settlement_daily_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every morning: reconcile the days whose deposits may still arrive and post their journal entries.",
    )
    def settlement_schedule(context: dg.ScheduleEvaluationContext):
        tick = (context.scheduled_execution_time or datetime.now(zone)).astimezone(zone)
        days = settlement_days(tick.date(), days_back, first_day)
        return [dg.RunRequest(partition_key=day.isoformat(), run_key=f"settle:{day}:{tick.date()}",
                              tags={TRIGGER_TAG: "schedule"}) for day in days]

    return settlement_schedule


def file_hashes(folder) -> dict[str, str]:
    """sha256 -> file name of the statement candidates in the folder (same rule as the loader)."""
    found = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                found[hashlib.sha256(path.read_bytes()).hexdigest()] = path.name
    return found


def bank_statement_sensor(context: dg.SensorEvaluationContext):
    config_path = os.environ.get(CONFIG_VARIABLE, "")
    if not config_path:
        return dg.SkipReason(f"{CONFIG_VARIABLE} is not set: no statement folder to watch")
    try:  # the folder as the file says now (the code location may have loaded an older file)
        folder = statement_folder(load_config(config_path), config_path)
    except ConfigError as error:
        return dg.SkipReason(str(error))
    seen = set(json.loads(context.cursor or "{}").get("hashes", []))
    current = file_hashes(folder)
    new = sorted(set(current) - seen)
    if not new:
        return dg.SkipReason(f"no new statement files in {folder}")
    cursor = json.dumps({"hashes": sorted(seen | set(new))[-_KEPT_HASHES:]})
    run_key = "bank:" + hashlib.sha256("".join(new).encode()).hexdigest()[:16]
    context.log.info("new statement files: %s", ", ".join(current[h] for h in new))
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key, tags={TRIGGER_TAG: "sensor"})], cursor=cursor)


def build_bank_statement_sensor(config: PipelineConfig) -> dg.SensorDefinition:
    return dg.sensor(
        name="bank_statement_sensor",
        target=bank_statements_job,
        minimum_interval_seconds=config.automation.statement_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Loads bank statement files dropped into the statement folder, each once (by content hash).",
    )(bank_statement_sensor)


@dg.definitions
def settlement_automation() -> dg.Definitions:
    config = load_time_config()
    return dg.Definitions(schedules=[build_settlement_schedule(config)], sensors=[build_bank_statement_sensor(config)])
