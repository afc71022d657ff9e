"""Backfill throughput: N days at ~1,000 payments a day backfilled into a fresh demo company in one run per job.

    python -m benchmarks.bench_backfill [--days 365] [--per-day 1000] [--chunk-days 0] [--profile FILE]
                                        [--world DIR]

Generates the days (sales, authorizations, declines, voids, refunds, their nightly batches and the
bank's deposits) into a fresh PayTrace sandbox state and Sage demo company, then runs what the
pipeline needs for a backfill: the daily job over the whole range in one run (or in runs of
`--chunk-days`), the bank statement job, and settlement over the range in one run. The sandbox
serves in a process of its own (PayTrace is a remote service: its work is not the pipeline's). Prints the total
and per-day seconds (and per phase), the load average at start and end, and the exactly-once
verification: no PayTrace transaction held by two Sage receipts, every approved sale either posted
or listed as an exception, and every run's asset checks passed. `--profile FILE` writes a cProfile
of the runs (not of the generation) to FILE. `--world DIR` keeps the generated days in DIR and reuses
them when DIR already holds the same days, size and seed (a year's generation takes about ten
minutes): the backfill then runs on a fresh copy, so the figures are the same as on a new world.

Only the JSON summary is printed (`python -m benchmarks` puts stdout in its report): what the runs
print on stdout and stderr (Dagster's event log, at DEBUG) goes to `--log FILE`, by default nowhere;
a failure's traceback is still printed on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from benchmarks.backfill_world import ZONE, World, build_world, run_job, serving


def _chunks(first: date, last: date, chunk_days: int) -> list[tuple[date, date]]:
    if chunk_days <= 0:
        return [(first, last)]
    chunks, start = [], first
    while start <= last:
        end = min(start + timedelta(days=chunk_days - 1), last)
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def backfill(world: World, chunk_days: int = 0) -> dict:
    """The daily job over the world's days (one run, or one per chunk), bank statements, settlement;
    the PayTrace sandbox in a process of its own, as the gateway is a remote service."""
    timings: dict[str, float] = {}
    runs = []
    with serving(world, own_process=True), dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        for chunk in _chunks(world.first, world.last, chunk_days):
            runs.append(run_job("paytrace_daily_job", instance, days=chunk))
        timings["daily_job_s"] = time.perf_counter() - started
        mark = time.perf_counter()
        runs.append(run_job("bank_statements_job", instance))
        timings["bank_statements_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        runs.append(run_job("settlement_daily_job", instance, days=(world.first, world.last)))
        timings["settlement_s"] = time.perf_counter() - mark
        steps = _step_seconds(instance, runs)
    failed = [check.check_name for run in runs for check in run.get_asset_check_evaluations() if not check.passed]
    return {"runs": len(runs), "all_succeeded": all(run.success for run in runs), "failed_checks": failed,
            "timings": timings, "step_seconds": steps}


def _step_seconds(instance: dg.DagsterInstance, runs: list) -> dict[str, float]:
    """Seconds per step, added up over the runs (STEP_START to STEP_SUCCESS)."""
    totals: dict[str, float] = {}
    for run in runs:
        started: dict[str, float] = {}
        for event in instance.all_logs(run.run_id):
            kind = event.dagster_event.event_type_value if event.dagster_event else None
            if kind == "STEP_START":
                started[event.step_key] = event.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
                totals[event.step_key] = totals.get(event.step_key, 0.0) + event.timestamp - started[event.step_key]
    return {key: round(value, 2) for key, value in sorted(totals.items(), key=lambda item: -item[1])}


def exactly_once(world: World) -> dict:
    """Sage receipts per PayTrace transaction, and every approved sale posted or excepted."""
    with sqlite3.connect(world.sage_db) as connection:
        # a posted receipt's lines are in the history under its card entry number: two numbers = posted twice
        per_transaction = connection.execute(
            "SELECT CreditCardTransactionID, count(DISTINCT CreditCardEntryNo) FROM AR_CashReceiptsHistory "
            "WHERE coalesce(CreditCardTransactionID, '') <> '' GROUP BY 1").fetchall()
    twice = sum(1 for _, count in per_transaction if count > 1)
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        approved, unaccounted = connection.execute("""
            WITH sales AS (
                SELECT DISTINCT transaction_id FROM pipeline.paytrace_transactions
                WHERE upper(transaction_type) IN ('SALE', 'AUTHORIZATION', 'CAPTURE', 'FORCE')
                  AND upper(status) IN ('PENDING', 'SETTLED')),
            posted AS (SELECT DISTINCT transaction_id FROM pipeline.sage_cash_receipts
                       WHERE state IN ('confirmed', 'written')),
            excepted AS (SELECT DISTINCT transaction_id FROM pipeline.receivable_exceptions
                         WHERE transaction_id IS NOT NULL)
            SELECT count(*), count(*) FILTER (WHERE transaction_id NOT IN (SELECT transaction_id FROM posted)
                                               AND transaction_id NOT IN (SELECT transaction_id FROM excepted))
            FROM sales""").fetchone()
        posted = connection.execute("SELECT count(DISTINCT transaction_id) FROM pipeline.sage_cash_receipts "
                                    "WHERE state IN ('confirmed', 'written')").fetchone()[0]
    return {"receipts_in_sage": len(per_transaction), "posted_twice": twice, "approved_sales": approved,
            "posted": posted, "neither_posted_nor_excepted": unaccounted}


def kept_world(kept: Path, target: Path, first: date, last: date, *, seed: int, per_day: int) -> World:
    """The world kept in `kept` (built there first unless it holds these days, size and seed), copied to
    `target`: the backfill changes its files, the kept copy stays as generated."""
    recipe = {"first": first.isoformat(), "last": last.isoformat(), "seed": seed, "per_day": per_day}
    stamp = kept / "recipe.json"
    kept_recipe = json.loads(stamp.read_text()) if stamp.exists() else {}
    if {key: kept_recipe.get(key) for key in recipe} != recipe:
        shutil.rmtree(kept, ignore_errors=True)
        built = build_world(kept / "world", first, last, seed=seed, per_day=per_day)
        stamp.write_text(json.dumps({**recipe, "payments": built.payments}))
    payments = json.loads(stamp.read_text())["payments"]
    shutil.copytree(kept / "world", target)
    source = (kept / "world").resolve()

    def moved(path: Path) -> Path:
        return target.resolve() / path.resolve().relative_to(source)

    return World(target.resolve(), first, last, moved(source / "paytrace_sandbox.sqlite3"),
                 moved(source / "sage100.sqlite3"), moved(source / "warehouse.duckdb"),
                 moved(source / "config.yaml"), payments)


def run(*, days: int = 365, per_day: int = 1000, chunk_days: int = 0, seed: int = 11,
        folder: Path | None = None, profile: Path | None = None, world_dir: Path | None = None) -> dict:
    """Generate (or copy the kept world), backfill, verify; every figure as a dict."""
    last = datetime_today() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        root = folder or Path(scratch)
        generating = time.perf_counter()
        if world_dir:
            world = kept_world(world_dir, root / "world", first, last, seed=seed, per_day=per_day)
        else:
            world = build_world(root / "world", first, last, seed=seed, per_day=per_day)
        generated = time.perf_counter() - generating
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        done = backfill(world, chunk_days)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        total = time.perf_counter() - started
        verified = exactly_once(world)
    return {
        "days": days, "per_day": per_day, "payments_generated": world.payments, "first": first.isoformat(),
        "last": last.isoformat(), "chunk_days": chunk_days, "generation_s": round(generated, 1),
        "backfill_s": round(total, 1), "per_day_s": round(total / days, 2),
        "timings": {key: round(value, 1) for key, value in done["timings"].items()},
        "step_seconds": done["step_seconds"], "runs": done["runs"], "all_succeeded": done["all_succeeded"],
        "failed_checks": done["failed_checks"], "exactly_once": verified,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


@contextmanager
def output_to(path: str) -> Iterator[None]:
    """File descriptors 1 and 2 (so every handler writing to stdout or stderr, whenever it was made)
    sent to `path` while the block runs."""
    streams = (sys.stdout, sys.stderr)
    for stream in streams:
        stream.flush()
    saved = [os.dup(stream.fileno()) for stream in streams]
    with open(path, "a", encoding="utf-8") as target:
        for stream in streams:
            os.dup2(target.fileno(), stream.fileno())
        try:
            yield
        finally:
            for stream, original in zip(streams, saved, strict=True):
                stream.flush()
                os.dup2(original, stream.fileno())
                os.close(original)


def datetime_today() -> date:
    from datetime import datetime

    return datetime.now(ZoneInfo(ZONE)).date()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--chunk-days", type=int, default=0, help="days per daily-job run (0: the whole range)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--world", type=Path, help="keep the generated days here and reuse them (see above)")
    parser.add_argument("--log", default=os.devnull, help="where the runs' own output goes (default: nowhere)")
    args = parser.parse_args()
    with output_to(args.log):
        figures = run(days=args.days, per_day=args.per_day, chunk_days=args.chunk_days, seed=args.seed,
                      profile=args.profile, world_dir=args.world)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
