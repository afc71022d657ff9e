"""Dagster runs for the campaign, on a real instance (DAGSTER_HOME, SQLite storage).

Three ways a day runs: in this process (`execute_in_process`, what a run worker does); in a worker
process (`python -m sage_paytrace_pipeline.sandbox.reliability.worker`), which a demo-company fault
may kill mid-posting; and as two workers on the same day at once (the activity sensor and the
daily close racing; production's per-partition run limit would queue one, the code must be safe
without it). A failed run is re-run as an operator would (or the daemon, for a killed worker:
run monitoring marks it failed, run retries start it again), until it succeeds or attempts run out.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

import dagster as dg
from dagster import DagsterEventType, DagsterRunStatus, RunsFilter

from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.sandbox.reliability.control import SandboxControl
from sage_paytrace_pipeline.sandbox.reliability.faulty_sage import sage_fault_resources
from sage_paytrace_pipeline.sandbox.sage100.faults import CRASH_EXIT_CODE

WORKER_MODULE = "sage_paytrace_pipeline.sandbox.reliability.worker"
TRIGGER_TAG = "campaign/trigger"


@dataclass
class RunRecord:
    job: str
    partition: str | None
    mode: str  # in_process | worker | concurrent
    attempt: int  # 1 = first run of this job and day, 2+ = re-runs after a failure
    run_id: str | None = None
    success: bool = False
    killed: bool = False  # the worker process died (an injected crash)
    failed_steps: list[str] = field(default_factory=list)
    retried_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class Runner:
    """Runs jobs on one instance, keeps a record of every run, re-runs failures."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions, control: SandboxControl, *,
                 sage_faults: Path, max_attempts: int = 4, expire_tokens_every: float = 2.0,
                 log_dir: Path | None = None) -> None:
        self.instance = instance
        self.definitions = definitions
        self.sage_faults = sage_faults
        self.resources = sage_fault_resources(definitions, sage_faults)
        self.control = control
        self.max_attempts = max_attempts
        self.expire_tokens_every = expire_tokens_every
        self.records: list[RunRecord] = []
        self.tokens_expired = 0
        self.log_dir = log_dir

    # --- the three modes -------------------------------------------------------------------
    def in_process(self, job: str, partition: str | None, *, attempt: int = 1, trigger: str = "operator") -> RunRecord:
        with self._tokens_expiring():
            result = self.definitions.resolve_job_def(job).execute_in_process(
                partition_key=partition, instance=self.instance, raise_on_error=False, tags={TRIGGER_TAG: trigger},
                resources=self.resources)
        return self._record(RunRecord(job, partition, "in_process", attempt), result.run_id, result.success)

    def in_worker(self, job: str, partition: str | None, *, attempt: int = 1, trigger: str = "operator") -> RunRecord:
        with self._tokens_expiring():
            process = self._start_worker(job, partition, trigger)
            output, _ = process.communicate()
        return self._from_worker(RunRecord(job, partition, "worker", attempt), process.returncode, output)

    def concurrently(self, job: str, partition: str,
                     triggers: tuple[str, ...] = ("sensor", "schedule")) -> list[RunRecord]:
        with self._tokens_expiring():
            processes = [self._start_worker(job, partition, trigger) for trigger in triggers]
            outputs = [process.communicate()[0] for process in processes]
        return [self._from_worker(RunRecord(job, partition, "concurrent", 1), process.returncode, output)
                for process, output in zip(processes, outputs)]

    def until_success(self, first: list[RunRecord]) -> bool:
        """Re-run (in process) after failed first runs, as the operator or the daemon would."""
        if any(record.success for record in first):
            return True
        job, partition = first[0].job, first[0].partition
        for attempt in range(2, self.max_attempts + 1):
            if self.in_process(job, partition, attempt=attempt, trigger="re-run").success:
                return True
        return False

    # --- bookkeeping -----------------------------------------------------------------------
    def _from_worker(self, record: RunRecord, exit_code: int, output: str) -> RunRecord:
        answer = _last_json_line(output)
        if exit_code == CRASH_EXIT_CODE or not answer:
            record.killed = True
            record.errors.append(f"worker process exited with code {exit_code} mid-run")
            run_id = self._mark_orphans_failed(record)
            return self._record(record, run_id, False)
        return self._record(record, answer["run_id"], bool(answer["success"]))

    def _mark_orphans_failed(self, record: RunRecord) -> str | None:
        """What run monitoring does for a dead worker: its run, left STARTED, is reported failed."""
        orphans = self.instance.get_runs(RunsFilter(job_name=record.job, statuses=[DagsterRunStatus.STARTED]))
        for run in orphans:
            if run.tags.get("dagster/partition") == record.partition:
                self.instance.report_run_failed(run, message="run worker died (injected crash); marked failed")
                self._free_pool_slots(run.run_id, record)
                return run.run_id
        return None

    def _free_pool_slots(self, run_id: str, record: RunRecord) -> None:
        """The monitoring daemon frees a finished run's pool slots only when the instance says so
        (run_monitoring.free_slots_after_run_end_seconds); without it the dead worker's `duckdb` slot
        stays claimed and every later run waits on it for ever, so the campaign stops instead."""
        if not self.instance.run_monitoring_settings.get("free_slots_after_run_end_seconds"):
            raise RuntimeError(f"run {run_id} died holding pool slots and this instance never frees them: set "
                               "run_monitoring.free_slots_after_run_end_seconds in dagster.yaml")
        freed = self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        record.errors.append(f"run monitoring: run marked failed, {freed or 0} pool slot(s) freed")

    def _record(self, record: RunRecord, run_id: str | None, success: bool) -> RunRecord:
        record.run_id, record.success = run_id, success
        if run_id is not None:
            self._read_step_events(record, run_id)
        self.records.append(record)
        return record

    def _read_step_events(self, record: RunRecord, run_id: str) -> None:
        kinds = {DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY}
        for entry in self.instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue  # of_type gives step events only, and a step event names its step
            if event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
                record.retried_steps.append(event.step_key)
            else:
                record.failed_steps.append(event.step_key)
            error = getattr(event.event_specific_data, "error", None)  # a retried step's error counts as seen
            if error is not None:
                record.errors.append(f"{event.step_key}: {_first_line(error)}")

    @contextmanager
    def _tokens_expiring(self) -> Iterator[None]:
        with _TokenExpirer(self.control, self.expire_tokens_every) as expirer:
            yield
        self.tokens_expired += expirer.expired

    def _start_worker(self, job: str, partition: str | None, trigger: str) -> subprocess.Popen:
        command = [sys.executable, "-m", WORKER_MODULE, "--job", job, "--trigger", trigger,
                   "--sage-faults", str(self.sage_faults)]
        if partition:
            command += ["--partition", partition]
        if self.log_dir is None:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)  # the worker's own log, for when a run needs explaining
        with open(self.log_dir / f"{job}-{partition}-{trigger}-{len(self.records)}.log", "w") as log:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)


class _TokenExpirer:
    """Expires every PayTrace token every few seconds while a run goes on (PayTrace's 2-hour tokens,
    compressed): the client must re-authenticate and replay in the middle of a run."""

    def __init__(self, control: SandboxControl, every: float) -> None:
        self.control, self.every = control, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="campaign-token-expiry", daemon=True)
        self.expired = 0

    def _loop(self) -> None:
        while not self.stop.wait(self.every):
            self.control.expire_tokens()
            self.expired += 1

    def __enter__(self) -> Self:
        if self.every > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


def _last_json_line(output: str) -> dict | None:
    for line in reversed(output.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def _first_line(error) -> str:
    """The innermost cause's class and first line: Dagster wraps what the asset raised."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = f"{error.cls_name}: {error.message}" if getattr(error, "cls_name", None) else str(error.message)
    return scrub_text(message.strip().splitlines()[0])[:300]
