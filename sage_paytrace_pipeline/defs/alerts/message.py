"""What an alert says about a failed run (job, run, partition, failing steps and their errors) or
about a run that succeeded with failed asset checks (WARN severity: a bank statement file refused).

Everything that came from a run (error messages above all) is scrubbed before it leaves the
process: card numbers are masked, tokens and passwords hidden, and the values of the secret
environment variables this deployment holds are replaced wherever they appear.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from sage_paytrace_pipeline.defs.dagster_internals import SerializableErrorInfo
from sage_paytrace_pipeline.domain.pci import FILTERED, scrub_text

# Secrets the pipeline itself reads; channel secrets are added by the channels that use them.
# (SAGE100_DATABASE is often a plain file path; its ODBC form's PWD= is scrubbed by pattern.)
SECRET_VARIABLES = ("PAYTRACE_PASSWORD", "DAGSTER_PG_PASSWORD")
# Shorter values ("1", "yes") would blank out ordinary words; no real secret is this short.
_SHORTEST_SECRET = 6
_MAX_ERROR_CHARS = 600
_MAX_STEPS = 5
_MAX_CHECKS = 5
_PARTITION_TAG = "dagster/partition"
_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def redact(text: str, secret_variables: Iterable[str] = ()) -> str:
    """`scrub_text`, plus the literal values of the secret variables set in this process."""
    for name in (*SECRET_VARIABLES, *secret_variables):
        value = os.environ.get(name, "")
        if len(value) >= _SHORTEST_SECRET:
            text = text.replace(value, FILTERED)
    return scrub_text(text)


def partition_of(run: dg.DagsterRun) -> str | None:
    tags = run.tags
    if tags.get(_PARTITION_TAG):
        return tags[_PARTITION_TAG]
    start, end = (tags.get(name) for name in _RANGE_TAGS)
    return f"{start}...{end}" if start and end else None


def user_error(error: SerializableErrorInfo) -> SerializableErrorInfo:
    """The error the asset raised, not Dagster's "Error occurred while executing op" wrapper."""
    while error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
        error = error.cause
    return error


def describe_error(error: SerializableErrorInfo | None) -> str:
    if error is None:
        return "no error recorded"
    error = user_error(error)
    message = " ".join(error.message.split())
    if len(message) > _MAX_ERROR_CHARS:
        message = message[:_MAX_ERROR_CHARS] + "..."
    # Dagster's messages usually start with the class name already (traceback's own format).
    named = not error.cls_name or message.startswith(f"{error.cls_name}:")
    return message if named else f"{error.cls_name}: {message}"


def step_failure_lines(step_failures: Sequence[dg.DagsterEvent]) -> list[str]:
    lines = [f"Failed step: {event.step_key}: {describe_error(event.step_failure_data.error)}"
             for event in step_failures[:_MAX_STEPS]]
    if len(step_failures) > _MAX_STEPS:
        lines.append(f"... and {len(step_failures) - _MAX_STEPS} more failed steps")
    return lines or ["Failed step: none (the run failed outside its steps, e.g. its worker crashed)"]


def retry_line(run: dg.DagsterRun) -> str | None:
    # The daemon's run retries (dagster.yaml `run_retries`) mark runs they will re-execute.
    if run.tags.get("dagster/will_retry") == "true":
        return "Retry: the daemon will retry this run automatically"
    if run.tags.get("dagster/retry_number"):
        return f"Retry: this was automatic retry {run.tags['dagster/retry_number']}"
    return None


def build_alert_message(context: dg.RunFailureSensorContext, *, webserver_base_url: str | None = None,
                        secret_variables: Iterable[str] = ()) -> AlertMessage:
    run = context.dagster_run
    partition = partition_of(run)
    where = f" for {partition}" if partition else ""
    lines = [
        f"Job: {run.job_name}",
        f"Run: {run.run_id}",
        f"Partition: {partition or 'none'}",
        *step_failure_lines(context.get_step_failure_events()),
        f"Run failure: {context.failure_event.message or 'no message'}",
        *failed_check_lines(failed_checks(context.instance, run.run_id)),
    ]
    lines += [line for line in (retry_line(run),) if line]
    if webserver_base_url:
        lines.append(f"Open: {webserver_base_url.rstrip('/')}/runs/{run.run_id}")
    secrets = tuple(secret_variables)
    return AlertMessage(subject=redact(f"[sage-paytrace] {run.job_name} failed{where}", secrets),
                        lines=tuple(redact(line, secrets) for line in lines))


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The asset checks that failed in the run, in the order they were evaluated."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    events = [record.event_log_entry.dagster_event for record in records]
    evaluations = [event.event_specific_data for event in events if event is not None]
    return [evaluation for evaluation in evaluations
            if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed]


def failed_check_lines(failed: Sequence[dg.AssetCheckEvaluation]) -> list[str]:
    lines = []
    for evaluation in failed[:_MAX_CHECKS]:
        what = " ".join((evaluation.description or "no description").split())
        if len(what) > _MAX_ERROR_CHARS:
            what = what[:_MAX_ERROR_CHARS] + "..."
        lines.append(f"Failed check ({evaluation.severity.value}): {evaluation.asset_key.to_user_string()} "
                     f"{evaluation.check_name}: {what}")
    if len(failed) > _MAX_CHECKS:
        lines.append(f"... and {len(failed) - _MAX_CHECKS} more failed checks")
    return lines


def build_check_alert_message(context: dg.RunStatusSensorContext, *, webserver_base_url: str | None = None,
                              secret_variables: Iterable[str] = ()) -> AlertMessage | None:
    """For a successful run with failed asset checks (a failed run's own alert lists them); None without."""
    run = context.dagster_run
    failed = failed_checks(context.instance, run.run_id)
    if not failed:
        return None
    partition = partition_of(run)
    where = f" for {partition}" if partition else ""
    lines = [f"Job: {run.job_name}", f"Run: {run.run_id}", f"Partition: {partition or 'none'}",
             *failed_check_lines(failed)]
    if webserver_base_url:
        lines.append(f"Open: {webserver_base_url.rstrip('/')}/runs/{run.run_id}")
    secrets = tuple(secret_variables)
    checks = "check" if len(failed) == 1 else "checks"
    return AlertMessage(subject=redact(f"[sage-paytrace] {run.job_name}: {len(failed)} failed {checks}{where}",
                                       secrets),
                        lines=tuple(redact(line, secrets) for line in lines))
