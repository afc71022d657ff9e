"""The fixed cost of one small day's run: where the seconds before the first step and between steps go.

    python -m benchmarks.bench_run_overhead [--repeat 3] [--per-day 20]

A generated merchant with `per-day` payments a day; each repetition runs the daily job for a day not
run before (so every run posts its day) in a fresh Python process, as `dagster asset materialize`
does: interpreter start, `import sage_paytrace_pipeline.definitions`, `defs()` (loading the defs
folder), then `execute_in_process`. From the run's event log: time to the first step, the steps'
own time, and the gaps between one step's end and the next one's start (input loading, output
handling outside the step's compute, Dagster's bookkeeping), and the process's CPU seconds per
phase (steadier than wall time when the machine is shared). Medians of the repetitions, with the
machine's load average at start and end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

FIRST = date(2026, 3, 2)


def _worker(day: str) -> dict:
    """In a fresh process: import, build the definitions, run one day; timings from the event log."""
    started, cpu_started = time.time(), time.process_time()
    import dagster as dg

    imported_dagster, cpu_dagster = time.time(), time.process_time()
    from sage_paytrace_pipeline.definitions import defs

    imported, cpu_imported = time.time(), time.process_time()
    definitions = defs()
    built, cpu_built = time.time(), time.process_time()
    job = definitions.resolve_job_def("paytrace_daily_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)
        cpu_ran = time.process_time()
        events = instance.all_logs(result.run_id)
    finished = time.time()
    steps: dict[str, dict[str, float]] = {}
    run_start = None
    for event in events:
        kind = event.dagster_event.event_type_value if event.dagster_event else None
        if kind == "RUN_START":
            run_start = event.timestamp
        if event.step_key and kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
            steps.setdefault(event.step_key, {})["end" if kind != "STEP_START" else "start"] = event.timestamp
    ordered = sorted(steps.values(), key=lambda step: step["start"])
    own = sum(step["end"] - step["start"] for step in ordered)
    gaps = [later["start"] - earlier["end"] for earlier, later in itertools.pairwise(ordered)]
    return {
        "success": result.success,
        "import_dagster_s": imported_dagster - started,
        "import_ours_s": imported - imported_dagster,
        "build_definitions_s": built - imported,
        "run_start_to_first_step_s": ordered[0]["start"] - (run_start or ordered[0]["start"]),
        "execute_call_to_first_step_s": ordered[0]["start"] - built,
        "steps": len(ordered),
        "steps_own_s": own,
        "between_steps_total_s": sum(gaps),
        "between_steps_median_s": statistics.median(gaps) if gaps else 0.0,
        "last_step_to_return_s": finished - ordered[-1]["end"],
        "in_process_total_s": finished - started,
        # CPU seconds of the process (user + system): steadier than wall time on a shared machine
        "cpu_import_dagster_s": cpu_dagster - cpu_started,
        "cpu_import_ours_s": cpu_imported - cpu_dagster,
        "cpu_build_definitions_s": cpu_built - cpu_imported,
        "cpu_run_s": cpu_ran - cpu_built,
        "cpu_total_s": cpu_ran - cpu_started,
    }


def run(*, repeat: int = 3, per_day: int = 20, folder: Path | None = None) -> dict:
    """Medians over `repeat` fresh-process runs of one small day each, with the load average."""
    from benchmarks.backfill_world import build_world, serving

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        root = folder or Path(scratch)
        world = build_world(root / "world", FIRST, FIRST + timedelta(days=repeat - 1), per_day=per_day,
                            customers=max(12, per_day))
        samples = []
        with serving(world) as environment:
            for offset in range(repeat):
                day = (FIRST + timedelta(days=offset)).isoformat()
                launched = time.time()
                done = subprocess.run([sys.executable, "-m", "benchmarks.bench_run_overhead", "--worker", day],
                                      env={**os.environ, **environment}, capture_output=True, text=True,
                                      check=True, cwd=Path(__file__).resolve().parents[1])
                wall = time.time() - launched
                sample = json.loads(done.stdout.strip().splitlines()[-1])
                sample["wall_s"] = wall
                sample["interpreter_start_s"] = wall - sample["in_process_total_s"]
                samples.append(sample)
    keys = [key for key, value in samples[0].items() if isinstance(value, float)]
    return {
        "repeat": repeat, "per_day": per_day, "all_succeeded": all(s["success"] for s in samples),
        "steps": samples[0]["steps"],
        "median": {key: round(statistics.median(s[key] for s in samples), 3) for key in keys},
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=20)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker)))
        return
    print(json.dumps(run(repeat=args.repeat, per_day=args.per_day), indent=2))


if __name__ == "__main__":
    main()
