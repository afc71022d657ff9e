"""`settlement_batches`' PayTrace reads over a range, as the range run makes them: CPU seconds on the pipeline side.

    python -m benchmarks.bench_settlement_batches [--world /work/bench/d90] [--days 30] [--repeat 1]
                                                  [--save FILE] [--compare FILE] [--profile FILE]

The world's PayTrace sandbox (a copy of its state) serves in a process of its own, as the gateway is a
remote service; `read_closed_batches_by_day` reads the world's first `--days` days (its business days,
as a backfill's run does): the batch export, one transaction list per batch, the brand export, the frames
and the tie-out. Measured: this process's CPU time (`time.process_time`: HTTP, JSON, parsing, frames),
not the sandbox's. `--save FILE` pickles every day's `ClosedBatches`; `--compare FILE` says whether they
equal a saved run's (every frame exactly, the rejected records).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from benchmarks.backfill_world import ZONE, World, serving
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy
from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.settlement.batches import ClosedBatches, read_closed_batches_by_day

POLICY = SettlementPolicy(discount_method="daily")
FRAMES = ("summary", "brands", "transactions", "tie_out")


def served_world(kept: Path, folder: Path) -> World:
    """The kept world's sandbox state copied into `folder` (serving writes to it)."""
    recipe = json.loads((kept / "recipe.json").read_text())
    state = folder / "paytrace_sandbox.sqlite3"
    shutil.copyfile(kept / "world" / "paytrace_sandbox.sqlite3", state)
    return World(folder, date.fromisoformat(recipe["first"]), date.fromisoformat(recipe["last"]), state,
                 folder / "sage100.sqlite3", folder / "warehouse.duckdb", folder / "config.yaml", recipe["payments"])


def business_days(first: date, count: int) -> list[date]:
    days = [first + timedelta(days=offset) for offset in range(count)]
    return [day for day in days if day.weekday() < 5]


def read_range(base_url: str, days: list[date], profile: cProfile.Profile | None) -> tuple[dict, float]:
    from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

    with PayTraceClient(base_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                        integrator_id="SPPBENCH0001", time_zone=ZONE) as client:
        client.ping()  # not measured: the connection
        started = time.process_time()
        if profile is not None:
            profile.enable()
        by_day = read_closed_batches_by_day(client, days, POLICY)
        if profile is not None:
            profile.disable()
        return by_day, time.process_time() - started


def same(saved: dict[date, ClosedBatches], now: dict[date, ClosedBatches]) -> bool:
    if list(saved) != list(now):
        return False
    for day, closed in now.items():
        before = saved[day]
        if (before.batch_count, before.rejected) != (closed.batch_count, closed.rejected):
            return False
        for field in FRAMES:
            try:
                pd.testing.assert_frame_equal(getattr(before, field), getattr(closed, field), check_exact=True)
            except AssertionError as difference:
                print(f"{day} {field}: {difference}")
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=Path, default=Path("/work/bench/d90"))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as folder:
        world = served_world(args.world, Path(folder))
        days = business_days(world.first, args.days)
        with serving(world, own_process=True) as environment:
            runs = [read_range(environment["PAYTRACE_API_URL"], days, profile) for _ in range(args.repeat)]
    by_day = runs[-1][0]
    seconds = min(cpu for _, cpu in runs)
    report = {"days": len(days), "batches": sum(closed.batch_count for closed in by_day.values()),
              "transactions": sum(len(closed.transactions) for closed in by_day.values()),
              "rejected": sum(len(closed.rejected) for closed in by_day.values()),
              "cpu_s": round(seconds, 3), "cpu_s_per_day": round(seconds / len(days), 4),
              "runs_cpu_s": [round(cpu, 3) for _, cpu in runs]}
    if args.save:
        args.save.write_bytes(pickle.dumps(by_day))
    if args.compare:
        report["same_as_saved"] = same(pickle.loads(args.compare.read_bytes()), by_day)
    if profile is not None and args.profile:
        profile.dump_stats(str(args.profile))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
