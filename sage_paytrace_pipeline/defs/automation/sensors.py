"""`paytrace_activity_sensor`: runs the daily job for a business day soon after its PayTrace activity changes.

Each tick makes one export call for the watched window (today and the days before it, see
`automation.sensor_lookback_days`), groups the records by business day and fingerprints each day
(`day_watermark`). A day whose fingerprint differs from the cursor gets a run whose run_key carries
the fingerprint, so a new sale, a void or the nightly settlement each start exactly one run, and a
repeated tick starts none. A changed day whose run is still queued or running gets no second run
(it would only queue behind that one): its cursor entry stays as it was, so the first tick after
that run ends asks for one (a run that finds nothing new to post if the last one took the change).
The sensor reads PayTrace and the instance's runs only: never the warehouse (DuckDB allows one
writer, and runs hold it). Built by `build_paytrace_activity_sensor(config)` from the
`@dg.definitions` function below, so importing this module reads no configuration.

PayTrace down is loud (`defs/automation/outage.py`): the failing ticks are counted in the cursor,
after `automation.outage_alert_after_ticks` of them the alert channels get one alert and every
further failing tick fails in the UI with the sentence; the first answer sends one recovery alert.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
from pydantic import SecretStr

from sage_paytrace_pipeline.config import PipelineConfig, missing_environment
from sage_paytrace_pipeline.defs.automation.outage import OutageWatch
from sage_paytrace_pipeline.defs.jobs import paytrace_daily_job
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.models import RetryPolicy, Transaction
from sage_paytrace_pipeline.paytrace.settings import (
    ENVIRONMENT_VARIABLES,
    PayTraceConnection,
)

TRIGGER_TAG = "trigger"
# A tick must finish well inside Dagster's 60 s sensor timeout and the next tick retries anyway,
# so the sensor gives up quickly where a run step would keep retrying.
SENSOR_RETRY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0)
SENSOR_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# A tick retries a server it cannot connect to for this long at most (the next tick comes anyway).
SENSOR_OUTAGE_BUDGET_SECONDS = 2.0
# A run in one of these holds its day: another one for it would only queue behind it.
IN_PROGRESS = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED)


def watched_days(today: date, lookback_days: int, first_business_day: date) -> list[date]:
    """Today and the `lookback_days - 1` days before it, oldest first, never before the first business day."""
    days = (today - timedelta(days=back) for back in range(lookback_days - 1, -1, -1))
    return [day for day in days if day >= first_business_day]


def business_day(transaction: Transaction, zone: ZoneInfo) -> date | None:
    """The day PayTrace files the record under: its created date in the merchant zone (what
    `export_transactions(day, day)` selects, so the run for that day reads exactly these records)."""
    return transaction.created_at.astimezone(zone).date() if transaction.created_at else None


def day_watermark(transactions: Iterable[Transaction]) -> str:
    """A short fingerprint of a day's records: count, highest id and a digest of (id, status,
    amount, batch). A new payment, a void, a capture or a settlement changes it; a re-read does not."""
    rows = sorted((t.transaction_id, t.status.value, format_decimal(t.amount), t.batch_number) for t in transactions)
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]
    return f"{len(rows)}-{rows[-1][0] if rows else 0}-{digest}"


def group_by_day(transactions: Sequence[Transaction], days: Sequence[date],
                 zone: ZoneInfo) -> dict[date, list[Transaction]]:
    """The watched days' records. One without a parseable timestamp counts for every watched day:
    we cannot tell its day, and a spurious re-run is harmless where a missed one is not."""
    grouped: dict[date, list[Transaction]] = defaultdict(list)
    for transaction in transactions:
        day = business_day(transaction, zone)
        for target in [day] if day is not None else days:
            if target in days:
                grouped[target].append(transaction)
    return grouped


def read_cursor(cursor: str | None) -> dict[str, str]:
    """The per-day watermarks of the last tick; an unreadable cursor starts afresh (runs are idempotent)."""
    try:
        days = json.loads(cursor or "{}").get("days", {})
    except (ValueError, AttributeError):
        return {}
    return {str(day): str(mark) for day, mark in days.items()} if isinstance(days, Mapping) else {}


def days_in_progress(instance: dg.DagsterInstance, job_name: str, days: Sequence[str]) -> set[str]:
    """Which of `days` (partition keys) have a run of `job_name` queued or running on the instance."""
    if not days:
        return set()
    runs = instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=list(IN_PROGRESS),
                                           tags={"dagster/partition": list(days)}))
    return {run.tags["dagster/partition"] for run in runs} & set(days)


def hold_days(current: Mapping[str, str], previous: Mapping[str, str], held: set[str]) -> dict[str, str]:
    """The new cursor's watermarks, held days kept at their previous one (or left out): the next tick
    sees them as changed again."""
    kept = {day: mark for day, mark in current.items() if day not in held}
    return kept | {day: previous[day] for day in held if day in previous}


def _sensor_client(paytrace: PayTraceResource):
    return PayTraceConnection(
        api_url=paytrace.api_url, username=paytrace.username, password=SecretStr(paytrace.password),
        integrator_id=paytrace.integrator_id, time_zone=paytrace.time_zone,
    ).client(retry=SENSOR_RETRY, timeout=SENSOR_TIMEOUT, outage_budget=SENSOR_OUTAGE_BUDGET_SECONDS)


def build_paytrace_activity_sensor(config: PipelineConfig) -> dg.SensorDefinition:
    partitions = business_day_partitions(config)
    first_day = date.fromisoformat(config.merchant.first_business_day)
    watch = OutageWatch.from_settings(config.automation.outage_alert_after_ticks, config.alerts)

    @dg.sensor(
        name="paytrace_activity_sensor",
        target=paytrace_daily_job,
        minimum_interval_seconds=config.automation.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the daily job for a business day when its PayTrace activity changes (one export call per "
                    "tick).",
    )
    def paytrace_activity_sensor(context: dg.SensorEvaluationContext, paytrace: PayTraceResource):
        # A variable missing when the code location loaded is wired empty (defs/resources.py): say which.
        missing = [ENVIRONMENT_VARIABLES[field] for field in ("api_url", "username", "password")
                   if not getattr(paytrace, field)]
        if missing:
            return dg.SkipReason(missing_environment(missing))
        previous = read_cursor(context.cursor)
        client = _sensor_client(paytrace)
        try:
            # "Today" is PayTrace's: it files transactions under its own clock's date and closes batches
            # by it. Around midnight our host may disagree, and a sandbox runs on a virtual clock (frozen
            # in tests), so the sensor asks PayTrace. The ping needs no token and its Date header tells
            # the client the server's time; if it fails, the export below reports why.
            client.ping()
            today = client.server_today()
            days = watched_days(today, config.automation.sensor_lookback_days, first_day)
            if not days:
                return dg.SkipReason(f"PayTrace's today {today} is before the first business day {first_day}")
            # Lenient: a malformed record must not stop the day's run (it becomes an exception row there).
            transactions = client.read_transactions(days[0], days[-1], include_bin=False).transactions
        except PayTraceError as error:  # scrubbed by construction; the day watermarks stay, the next tick retries
            reason, cursor = watch.failed(context.cursor, error)  # raises PayTraceOutage once alerted
            context.log.warning(reason)
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        finally:
            client.close()

        recovered, _ = watch.answered(context.cursor)
        if recovered:
            context.log.info(recovered)
        # A day PayTrace has reached but Dagster's partitions have not (clock skew at midnight) waits,
        # out of the cursor, until its partition exists.
        last_partition = partitions.get_last_partition_key()
        grouped = group_by_day(transactions, days, client.zone)
        current = {day.isoformat(): day_watermark(records) for day, records in sorted(grouped.items())
                   if last_partition is not None and day.isoformat() <= last_partition}
        changed = [day for day, mark in current.items() if previous.get(day) != mark]
        busy = days_in_progress(context.instance, paytrace_daily_job.name, changed)
        if busy:
            context.log.info("A run is queued or running for %s: asked again after it", ", ".join(sorted(busy)))
            changed = [day for day in changed if day not in busy]
            current = hold_days(current, previous, busy)
        cursor = json.dumps({"days": current, "today": today.isoformat()}, sort_keys=True)
        requests = [
            dg.RunRequest(partition_key=day, run_key=f"{day}:{current[day]}",
                          tags={TRIGGER_TAG: "sensor", "paytrace/watermark": current[day]})
            for day in changed
        ]
        if requests:
            context.log.info("PayTrace activity changed on %s", ", ".join(changed))
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        window = f"{days[0]}..{days[-1]}" if len(days) > 1 else str(days[0])
        reason = (f"no change in PayTrace activity for {window} ({len(transactions)} transactions)" if current
                  else f"no PayTrace activity for {window}")
        if busy:
            reason = f"PayTrace activity changed on {', '.join(sorted(busy))}, whose run is queued or running"
        return dg.SensorResult(skip_reason=f"{recovered}; {reason}" if recovered else reason, cursor=cursor)

    return paytrace_activity_sensor


@dg.definitions
def paytrace_activity() -> dg.Definitions:
    return dg.Definitions(sensors=[build_paytrace_activity_sensor(load_time_config())])
