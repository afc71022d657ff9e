"""A generated merchant for backfill runs: PayTrace sandbox state, Sage demo company, config, bank statements.

`build_world(folder, first, last)` writes everything under `folder` from a seed, so two folders built
with the same arguments hold the same data (the books test runs one day by day and the other as one
range). `serving(world)` starts the sandbox's HTTP server and points the code location's variables
at the world while the block runs: in a thread of this process, or with `own_process` in a process
of its own, as PayTrace is a remote service (the benchmarks: the sandbox's work is then not
charged to the pipeline's steps, which share a thread's interpreter lock with it otherwise). Used
by benchmarks/bench_backfill.py, bench_run_overhead.py and
sage_paytrace_pipeline_tests/defs/test_range_runs.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import dagster as dg

ZONE = "America/Los_Angeles"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class World:
    folder: Path
    first: date
    last: date
    state: Path  # the PayTrace sandbox's SQLite file
    sage_db: Path
    warehouse: Path
    config_path: Path
    payments: int  # sales, authorizations and their outcomes the plan made

    def environment(self, api_url: str) -> dict[str, str]:
        from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

        return {
            "PAYTRACE_API_URL": api_url, "PAYTRACE_USERNAME": DEFAULT_USERNAME,
            "PAYTRACE_PASSWORD": DEFAULT_PASSWORD, "PAYTRACE_INTEGRATOR_ID": "SPPBENCH0001",
            "SAGE100_DATABASE": str(self.sage_db), "SAGE_PAYTRACE_WAREHOUSE": str(self.warehouse),
            "SAGE_PAYTRACE_CONFIG": str(self.config_path),
        }


def build_world(folder: Path, first: date, last: date, *, seed: int = 11, per_day: int = 1000,
                customers: int | None = None) -> World:
    """`per_day` payments every day from `first` to `last` (weekends too), replayed into a fresh sandbox
    whose batches then close, a demo company holding the plan's customers and invoices, the demo's
    config (settlement and the refund flow on) and the bank's statements of every batch."""
    from sage_paytrace_pipeline.demo import write_bank_statements, write_demo_config
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.generator import MerchantProfile, generate_activity
    from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    payers = customers or max(40, per_day // 4)
    profile = MerchantProfile(customers=payers, payments_per_weekday=per_day, payments_per_weekend_day=per_day)
    plan, summary = generate_activity(first, last, seed=seed, profile=profile)
    state = folder / "paytrace_sandbox.sqlite3"
    sandbox = PayTraceSandbox(state, settings={"time_zone": ZONE})
    outcome = apply_plan(sandbox, plan)
    if outcome.failures:
        raise RuntimeError(f"the plan did not replay: {outcome.failures[:3]}")
    sandbox.set_clock(mode="real")  # every batch of the generated days closes
    company = create_demo_company(folder / "sage100.sqlite3", seed=seed, activity=summary, customers=payers,
                                  overwrite=True)
    config_path = write_demo_config(folder, time_zone=ZONE, first_day=first)
    write_bank_statements(PayTraceSandbox(state), folder, seed=seed)
    return World(folder, first, last, state, Path(company.db_path).resolve(), folder / "warehouse.duckdb",
                  config_path, sum(summary.counts.values()))


@contextmanager
def serving(world: World, *, own_process: bool = False) -> Iterator[dict[str, str]]:
    """The sandbox served over HTTP and the code location's variables pointing at `world` (restored after)."""
    from sage_paytrace_pipeline.sandbox.environment import environment_set

    with (_served_apart(world) if own_process else _served_in_thread(world)) as base_url:
        environment = world.environment(base_url)
        with environment_set(environment):
            yield environment


@contextmanager
def _served_in_thread(world: World) -> Iterator[str]:
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

    app = create_app(world.state, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, settings={"time_zone": ZONE})
    with serve_in_thread(app) as base_url:
        yield base_url


@contextmanager
def _served_apart(world: World, startup_seconds: float = 60.0) -> Iterator[str]:
    """`sage-paytrace sandbox paytrace serve` on a free port in a child process, stopped after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "sage_paytrace_pipeline.cli", "sandbox", "paytrace", "serve", "--port", str(port),
         "--state", str(world.state), "--time-zone", ZONE], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + startup_seconds
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the PayTrace sandbox did not start on port {port} (exit {server.poll()})")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as connection:
        return connection.connect_ex(("127.0.0.1", port)) == 0


# what the definitions read when they are built (the warehouse path, the config); the rest is read per run
_LOAD_TIME_VARIABLES = ("SAGE_PAYTRACE_WAREHOUSE", "SAGE_PAYTRACE_CONFIG", "SAGE100_DATABASE", "PAYTRACE_API_URL")


@cache
def _definitions(*_load_time_values: str) -> dg.Definitions:
    """The code location's definitions, built once per world (as a code server keeps them loaded)."""
    from sage_paytrace_pipeline.definitions import defs

    return defs()


def run_job(job_name: str, instance: dg.DagsterInstance, *, day: date | None = None,
            days: tuple[date, date] | None = None) -> dg.ExecuteInProcessResult:
    """One run of a job of the code location: one business day, a range of days (one run), or unpartitioned."""
    job = _definitions(*(os.environ.get(name, "") for name in _LOAD_TIME_VARIABLES)).resolve_job_def(job_name)
    tags = {RANGE_START: days[0].isoformat(), RANGE_END: days[1].isoformat()} if days else None
    return job.execute_in_process(partition_key=day.isoformat() if day else None, tags=tags, instance=instance,
                                  raise_on_error=False)
