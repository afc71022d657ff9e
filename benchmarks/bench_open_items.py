"""A range's open items over many days: the frame carried and re-indexed each day vs the array book (CPU time).

    .venv/bin/python -m benchmarks.bench_open_items [--invoices 365000] [--per-day 1000] [--days 20] [--customers 250]

Year scale: a year's invoices open at the start of the range (`bench_matching.synthetic`, the
invoices drawn among `--customers`: 250 as in the backfill world of 1,000 payments a day),
`--per-day` payments a day naming them (in full, in part, twice), matched day after day against
the balances the days before left, as `match_payments` does. Each book gets the same days:
`ReindexedOpenItems` (the frame carried by `after_receipts`, `index_open_invoices` on it each day:
what match_payments did) and `ArrayOpenItems` (receivables/open_items.py). Printed per day, CPU
seconds (time.process_time: the machine is shared): the open-items work alone (carry + index) and
the whole day (match_business_day too); the two books' matches are checked equal day by day.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from benchmarks.bench_matching import synthetic
from sage_paytrace_pipeline.domain.matching import MatchingPolicy
from sage_paytrace_pipeline.paytrace.frames import VAULT_CUSTOMER_COLUMNS
from sage_paytrace_pipeline.receivables.day import DayMatch, match_business_day
from sage_paytrace_pipeline.receivables.open_items import ArrayOpenItems, ReindexedOpenItems


def run(invoices: int, per_day: int, days: int, customers: int) -> dict:
    data = synthetic(per_day * days, invoices, seed=3, customer_count=customers)
    policy, vault = MatchingPolicy(), pd.DataFrame(columns=list(VAULT_CUSTOMER_COLUMNS))
    figures: dict[str, dict[str, list[float]]] = {}
    outputs: dict[str, list[DayMatch]] = {}
    for name, book_type in (("reindexed", ReindexedOpenItems), ("arrays", ArrayOpenItems)):
        started = time.process_time()
        book = book_type(data["open_invoices"], policy)
        setup = time.process_time() - started
        books, whole, results = [], [], []
        for day in range(days):
            paid = data["payments"].iloc[day * per_day:(day + 1) * per_day].reset_index(drop=True)
            started = time.process_time()
            index = book.index()
            indexed = time.process_time()
            result = match_business_day(paid, vault, data["customers"], data["cards"], index, links=data["links"],
                                        policy=policy, earlier={})
            matched = time.process_time()
            book.add_receipts(result.applications)
            carried = time.process_time()
            books.append(indexed - started + carried - matched)
            whole.append(carried - started)
            results.append(result)
        figures[name] = {"setup": [setup], "open_items": books, "day": whole}
        outputs[name] = results
    for expected, found in zip(outputs["reindexed"], outputs["arrays"], strict=True):
        for frame in ("customer_links", "applications", "exceptions"):
            pd.testing.assert_frame_equal(getattr(found, frame), getattr(expected, frame))
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=365_000)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--customers", type=int, default=250)
    args = parser.parse_args(argv)
    figures = run(args.invoices, args.per_day, args.days, args.customers)
    print(f"{args.invoices:,} open invoices of {args.customers:,} customers at the start, {args.per_day:,} payments "
          f"a day, {args.days} days; "
          "CPU s (median a day; setup once a run); matches equal day by day")
    print("| book | setup | open items a day | whole day |\n|---|---:|---:|---:|")
    for name, by_part in figures.items():
        print(f"| {name} | {by_part['setup'][0]:.3f} | {statistics.median(by_part['open_items']):.3f} "
              f"| {statistics.median(by_part['day']):.3f} |")
    return figures


if __name__ == "__main__":
    main()
