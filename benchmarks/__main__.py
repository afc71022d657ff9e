"""Every benchmark of docs/benchmarks.md from one command.

    python -m benchmarks [--quick] [--only NAME ...] [--out FILE] [--backfill-days N] [--backfill-world DIR]

Each benchmark runs in its own process (`python -m benchmarks.<module> ...`, so one's memory does
not inflate another's peak RSS), one after the other; the runner prints the machine (cores,
Python, packages), the load average before and after each, and every benchmark's own output,
which holds its medians and the ratios measured within that run. `--out` also writes all of it to
a file, from which docs/benchmarks.md is written. `--quick` uses sizes small enough for a few
minutes in all (a smoke test of the command, not figures to quote).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Benchmark:
    name: str
    what: str
    args: tuple[str, ...]  # the sizes
    quick: tuple[str, ...]  # a few seconds' worth


BENCHMARKS = (
    Benchmark("posting", "receipts of one day posted into the demo company (ms a receipt, 100 -> 10,000)",
              ("-m", "benchmarks.bench_posting", "--sizes", "100", "1000", "10000", "--runs", "3"),
              ("-m", "benchmarks.bench_posting", "--sizes", "100", "1000", "--runs", "1")),
    Benchmark("matching", "matching core vs the DuckDB SQL reference and the row-by-row baseline",
              ("-m", "benchmarks.bench_matching", "--sizes", "10000", "100000", "1000000", "--repeats", "3"),
              ("-m", "benchmarks.bench_matching", "--sizes", "10000", "--invoices", "100000", "--repeats", "1")),
    Benchmark("run_overhead", "fixed cost of one small day's run (definitions load, run, process)",
              ("-m", "benchmarks.bench_run_overhead", "--repeat", "3"),
              ("-m", "benchmarks.bench_run_overhead", "--repeat", "1")),
    Benchmark("backfill", "a range of days at 1,000 payments a day backfilled in one run, exactly once",
              ("-m", "benchmarks.bench_backfill", "--days", "365", "--per-day", "1000"),
              ("-m", "benchmarks.bench_backfill", "--days", "3", "--per-day", "60")),
    Benchmark("settlement", "settlement core: batches, deposits and journal plans",
              ("-m", "benchmarks.bench_settlement"),
              ("-m", "benchmarks.bench_settlement", "--days", "50", "--per-day", "100")),
    Benchmark("paytrace", "PayTrace sandbox replay, one-call export of a heavy day, record parsing",
              ("-m", "benchmarks.bench_paytrace", "--days", "30", "--heavy-day", "5000"),
              ("-m", "benchmarks.bench_paytrace", "--days", "5", "--heavy-day", "500")),
    Benchmark("customers", "customer sync plan, 100k vault profiles x 100k Sage customers",
              ("-m", "benchmarks.bench_customers"),
              ("-m", "benchmarks.bench_customers", "--profiles", "2000", "--customers", "2000")),
    Benchmark("anomalies", "anomaly rules over a day against its history; suggestions for exceptions",
              ("-m", "benchmarks.bench_anomalies"),
              ("-m", "benchmarks.bench_anomalies", "--payments", "5000", "--customers", "5000", "--exceptions",
               "200")),
    Benchmark("anomaly_range", "payment_anomalies' day loop over a year's range (CPU s a day, 90-day history)",
              ("-m", "benchmarks.bench_anomaly_range", "--days", "365", "--per-day", "1000"),
              ("-m", "benchmarks.bench_anomaly_range", "--days", "5", "--per-day", "100", "--history", "10",
               "--compare", "5")),
    Benchmark("disputes", "dispute reports read, cases linked, entries planned",
              ("-m", "benchmarks.bench_disputes"),
              ("-m", "benchmarks.bench_disputes", "--cases", "200", "--sales", "5000")),
    Benchmark("store", "web-store receiver deliveries/s with p99, orders a minute into Sage",
              ("-m", "benchmarks.bench_store"),
              ("-m", "benchmarks.bench_store", "--deliveries", "100", "--clients", "2", "--orders", "10")),
    Benchmark("console", "console queue page times with 100k exceptions over a year",
              ("-m", "benchmarks.bench_console"),
              ("-m", "benchmarks.bench_console", "--exceptions", "2000", "--days", "30")),
    Benchmark("refund_linking", "PayTrace refunds late in a year-long range run (250 payers, carried refunds)",
              ("-m", "benchmarks.bench_refund_linking"),
              ("-m", "benchmarks.bench_refund_linking", "--days", "60", "--sales-per-day", "200", "--measured", "3")),
    Benchmark("open_items", "open invoices over a range: re-indexed each day vs one array book (CPU s a day)",
              ("-m", "benchmarks.bench_open_items"),
              ("-m", "benchmarks.bench_open_items", "--invoices", "20000", "--per-day", "200", "--days", "3")),
    Benchmark("settlement_range", "settlement assets' day loops over a range: clearing check, brands, reconciliation",
              ("-m", "benchmarks.bench_settlement_range"),
              ("-m", "benchmarks.bench_settlement_range", "--days", "10", "--per-day", "100")),
)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    versions = ", ".join(f"{name} {_version(name)}" for name in ("dagster", "pandas", "numpy", "duckdb", "rapidfuzz"))
    return (f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; {versions}; "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def run(names: list[str], *, quick: bool, echo, backfill_days: int | None = None,
        backfill_world: Path | None = None) -> int:
    """Run the named benchmarks in order; the number that failed."""
    echo(f"# python -m benchmarks{' --quick' if quick else ''}: {machine()}")
    failed = 0
    for bench in (b for b in BENCHMARKS if b.name in names):
        args = bench.quick if quick else bench.args
        if bench.name == "backfill" and backfill_days:
            args = _with_option(args, "--days", str(backfill_days))
        if bench.name == "backfill" and backfill_world:
            args = (*args, "--world", str(backfill_world.resolve()))
        echo(f"\n## {bench.name}: {bench.what}\n$ python {' '.join(args)}\nload average before: {_load()}")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parents[1])
        echo(done.stdout.rstrip())
        if done.returncode:
            failed += 1
            echo(f"FAILED (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:] or ['']}")
        echo(f"load average after: {_load()}; {time.perf_counter() - started:.1f} s")
    return failed


def _with_option(args: tuple[str, ...], option: str, value: str) -> tuple[str, ...]:
    at = args.index(option)
    return (*args[:at + 1], value, *args[at + 2:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the command, not figures to quote")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="run only these")
    parser.add_argument("--out", type=Path, help="also write the whole output to this file")
    parser.add_argument("--backfill-days", type=int, default=None,
                        help="days of the backfill benchmark (default: a year; fewer give the per-day rate sooner)")
    parser.add_argument("--backfill-world", type=Path, default=None,
                        help="keep the backfill's generated days in this folder and reuse them on the next run")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def echo(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    failed = run(args.only or [b.name for b in BENCHMARKS], quick=args.quick, echo=echo,
                 backfill_days=args.backfill_days, backfill_world=args.backfill_world)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
