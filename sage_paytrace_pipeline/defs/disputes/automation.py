"""Dispute automation: run the flow when a report file arrives, and every morning for the deadlines.

The folder sensor hashes files only (it never opens the warehouse) and keeps the hashes it has sent
in its cursor; the job loads each file once by the same hash (disputes/report_store.py). The
morning schedule re-runs the flow so the due-date warnings go out on their day even without a new
report (a run with nothing new posts nothing and sends no alert twice). Built from the
`@dg.definitions` function below, only with `disputes` configured.
"""

import hashlib
import json
import os

import dagster as dg

from sage_paytrace_pipeline.config import ConfigError, PipelineConfig, dispute_report_folder, load_config
from sage_paytrace_pipeline.defs.automation.sensors import TRIGGER_TAG
from sage_paytrace_pipeline.defs.jobs import disputes_job
from sage_paytrace_pipeline.defs.settings import CONFIG_VARIABLE, load_time_config
from sage_paytrace_pipeline.disputes.report_store import report_files

_KEPT_HASHES = 5000  # cursor size bound; older files are also refused by the job's own hash table


def dispute_report_sensor(context: dg.SensorEvaluationContext):
    config_path = os.environ.get(CONFIG_VARIABLE, "")
    if not config_path:
        return dg.SkipReason(f"{CONFIG_VARIABLE} is not set: no dispute report folder to watch")
    try:  # the folder as the file says now (the code location may have loaded an older file)
        folder = dispute_report_folder(load_config(config_path), config_path)
    except ConfigError as error:
        return dg.SkipReason(str(error))
    if folder is None:
        return dg.SkipReason("disputes are off (no `disputes:` section in the config)")
    current = {hashlib.sha256(path.read_bytes()).hexdigest(): path.name for path in report_files(folder)}
    seen = set(json.loads(context.cursor or "{}").get("hashes", []))
    new = sorted(set(current) - seen)
    if not new:
        return dg.SkipReason(f"no new dispute reports in {folder}")
    cursor = json.dumps({"hashes": sorted(seen | set(new))[-_KEPT_HASHES:]})
    context.log.info("new dispute reports: %s", ", ".join(current[h] for h in new))
    run_key = "disputes:" + hashlib.sha256("".join(new).encode()).hexdigest()[:16]
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key, tags={TRIGGER_TAG: "sensor"})], cursor=cursor)


def build_dispute_automation(config: PipelineConfig) -> dg.Definitions:
    if config.disputes is None:
        return dg.Definitions()
    at = config.automation.settlement_time
    sensor = dg.sensor(
        name="dispute_report_sensor", target=disputes_job,
        minimum_interval_seconds=config.disputes.report_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs the dispute flow when a report file is dropped into disputes.report_folder (each file "
                    "once, by content hash).",
    )(dispute_report_sensor)
    schedule = dg.ScheduleDefinition(
        name="dispute_schedule", target=disputes_job, cron_schedule=f"{int(at[3:])} {int(at[:2])} * * *",
        execution_timezone=config.merchant.time_zone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every morning: the dispute flow again, so deadline warnings go out on their day.",
        tags={TRIGGER_TAG: "schedule"})
    return dg.Definitions(sensors=[sensor], schedules=[schedule])


@dg.definitions
def dispute_automation() -> dg.Definitions:
    return build_dispute_automation(load_time_config())
