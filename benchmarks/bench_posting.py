"""Posting one day's receipts into the demo company, through the daily asset's own path.

    python -m benchmarks.bench_posting [--sizes 100 1000 10000] [--runs 3] [--profile 2000]

A demo company is generated once with enough open invoices (one per receipt, of active
customers); each run copies it and posts `size` card receipts of one business day the way
`post_cash_receipts` does: matched applications -> `plan_receipts` -> `intents_for` ->
`post_receipts` with the demo company writer, the SQLite reader and the DuckDB posting log.
Every fifth receipt pays its invoice in full, the others part of it; every tenth is a prepayment
line. The figures are the medians of `runs` runs; the machine's load is printed at start and end.

`run()` returns the figures as a dict (for a later `python -m benchmarks`).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

DAY = date(2026, 3, 2)
SIZES = (100, 1_000, 10_000)
# The figure before this benchmark existed (issue 14, measured through the whole asset).
BEFORE = {"receipts": 2_361, "seconds": 97.0, "ms_per_receipt": 41.0}


def build_company(folder: Path, receipts: int) -> Path:
    """A generated demo company with at least `receipts` open IN invoices of active customers."""
    from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

    path = folder / "template.db"
    customers = max(300, int(receipts * 0.9) + 200)
    create_demo_company(path, seed=14, customers=customers, today=DAY)
    DemoCompanyWriter(path)  # the writer's one-time additions (UDF columns) stay out of the timings
    return path


def open_invoices(company: Path, count: int) -> pd.DataFrame:
    connection = sqlite3.connect(company)
    try:
        frame = pd.read_sql_query("""
            SELECT o.ARDivisionNo AS division, o.CustomerNo AS customer_no, o.InvoiceNo AS invoice_no, o.Balance
            FROM AR_OpenInvoice o JOIN AR_Customer c USING (ARDivisionNo, CustomerNo)
            WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' AND CAST(o.Balance AS NUMERIC) >= 2
            ORDER BY o.InvoiceNo""", connection)
    finally:
        connection.close()
    if len(frame) < count:
        raise SystemExit(f"the generated company has {len(frame)} usable open invoices, {count} are needed")
    return frame.head(count)


def day_of_payments(invoices: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Matching's applications and PayTrace's payments for one receipt per invoice."""
    from sage_paytrace_pipeline.domain.matching.invoices import APPLICATION_COLUMNS
    from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

    count = len(invoices)
    balance_cents = (invoices["Balance"].map(Decimal) * 100).astype("int64").to_numpy()
    number = pd.RangeIndex(count)
    prepayment = number % 10 == 9
    amount = [int(cents) if i % 5 == 0 else max(1, int(cents) // 3) for i, cents in enumerate(balance_cents)]
    transaction_ids = 800_000_000 + number
    applications = pd.DataFrame({
        "transaction_id": transaction_ids, "division": invoices["division"].to_numpy(),
        "customer_no": invoices["customer_no"].to_numpy(),
        "invoice_no": [f"P{i:06d}" if pre else inv for i, pre, inv in
                       zip(number, prepayment, invoices["invoice_no"], strict=True)],  # Sage's 7 characters
        "invoice_type": "IN", "amount_cents": amount,
        "method": ["prepayment" if pre else "invoice_id_exact" for pre in prepayment],
        "score": 100.0, "explanation": "benchmark"}, columns=list(APPLICATION_COLUMNS))
    payments = pd.DataFrame({column: pd.Series([None] * count, dtype="object") for column in TRANSACTION_COLUMNS})
    payments = payments.assign(
        business_date=DAY, transaction_id=transaction_ids, transaction_type="SALE", status="SETTLED",
        amount_cents=amount, card_brand=["VISA", "MASTERCARD", "DISCOVER", "AMEX"] * (count // 4)
        + ["VISA"] * (count % 4), card_last4="1111", card_expiration_month=4, card_expiration_year=2028,
        approval_code="TAS521", billing_name="Bench Payer")
    return applications.astype({"transaction_id": "int64", "amount_cents": "int64"}), payments


def post_one_day(template: Path, folder: Path, size: int, *, profile: cProfile.Profile | None = None) -> dict:
    """Copy the company, post `size` receipts of one day; seconds of planning and of posting."""
    from sage_paytrace_pipeline.config import SageSettings
    from sage_paytrace_pipeline.receivables.posting import intents_for, post_receipts
    from sage_paytrace_pipeline.receivables.posting_log import PostingLog
    from sage_paytrace_pipeline.receivables.receipts import plan_receipts
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

    company = folder / f"company-{size}.db"
    shutil.copyfile(template, company)
    applications, payments = day_of_payments(open_invoices(company, size))
    started = time.perf_counter()
    plan = plan_receipts(applications, payments, SageSettings(), DAY)
    if not plan.exceptions.empty:
        raise SystemExit(f"planning refused receipts: {plan.exceptions['problem'].head(3).tolist()}")
    intents = intents_for(plan.receipts, applications, applications.iloc[:0], DAY)  # no customer links
    planned = time.perf_counter()
    warehouse = duckdb.connect(str(folder / f"warehouse-{size}.duckdb"))
    try:
        log = PostingLog(warehouse, "bench")
        writer, reader = DemoCompanyWriter(company), Sage100Reader.for_sqlite(company)
        posting_started, cpu_started = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        outcome = post_receipts(plan.receipts, intents, writer=writer, reader=reader, log=log, business_date=DAY)
        if profile is not None:
            profile.disable()
        posted, cpu = time.perf_counter(), time.process_time() - cpu_started
        states = log.entries(business_date=DAY)["state"].value_counts().to_dict()
    finally:
        warehouse.close()
    if len(outcome.written) != size or states != {"confirmed": size} or not outcome.exceptions.empty:
        raise SystemExit(f"posting {size} receipts went wrong: {len(outcome.written)} written, log {states}")
    for leftover in folder.glob(f"*-{size}.*"):
        leftover.unlink()
    return {"plan_seconds": planned - started, "post_seconds": posted - posting_started, "post_cpu_seconds": cpu}


def run(sizes: tuple[int, ...] = SIZES, runs: int = 3) -> dict:
    """Medians of `runs` runs per size: seconds and ms a receipt of posting (the writer, the log,
    the read-back; wall clock and this process's CPU) and of planning (receipts and intents),
    with the load at start and end."""
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-posting-") as temporary:
        folder = Path(temporary)
        template = build_company(folder, max(sizes))
        figures = {}
        for size in sizes:
            timings = [post_one_day(template, folder, size) for _ in range(runs)]
            post = statistics.median(t["post_seconds"] for t in timings)
            plan = statistics.median(t["plan_seconds"] for t in timings)
            cpu = statistics.median(t["post_cpu_seconds"] for t in timings)
            figures[size] = {"receipts": size, "post_seconds": round(post, 3),
                             "post_ms_per_receipt": round(post * 1000 / size, 3),
                             "post_cpu_seconds": round(cpu, 3),
                             "plan_seconds": round(plan, 3), "plan_ms_per_receipt": round(plan * 1000 / size, 3),
                             "post_runs": [round(t["post_seconds"], 3) for t in timings]}
    return {"sizes": figures, "runs": runs, "load_start": load_start, "load_end": os.getloadavg(),
            "before": BEFORE}


def profile(size: int, top: int = 25) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-posting-") as temporary:
        folder = Path(temporary)
        template = build_company(folder, size)
        profiler = cProfile.Profile()
        post_one_day(template, folder, size, profile=profiler)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="SIZE", help="print a cProfile of posting SIZE receipts")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.profile)
        return None
    figures = run(tuple(args.sizes), args.runs)
    print(f"load average at start {figures['load_start']}, at end {figures['load_end']}")
    print(f"{'receipts':>9} {'post s':>8} {'ms/receipt':>11} {'CPU s':>7} {'plan s':>8} {'plan ms/r':>10}  post runs")
    for size in figures["sizes"].values():
        print(f"{size['receipts']:>9,} {size['post_seconds']:>8.2f} {size['post_ms_per_receipt']:>11.2f} "
              f"{size['post_cpu_seconds']:>7.2f} "
              f"{size['plan_seconds']:>8.2f} {size['plan_ms_per_receipt']:>10.2f}  {size['post_runs']}")
    print(f"before (issue 14): {BEFORE['receipts']:,} receipts in {BEFORE['seconds']} s, "
          f"{BEFORE['ms_per_receipt']} ms a receipt and rising")
    return figures


if __name__ == "__main__":
    main()
