"""Posting one day of receipts into a company and a posting log that already hold a year.

    python -m benchmarks.bench_posting_year build FOLDER [--days 300] [--per-day 1000]
    python -m benchmarks.bench_posting_year day FOLDER [--size 1000] [--profile FILE] [--work DIR]

`build` makes a demo company (bench_posting's) and posts `days` earlier business days of
`per-day` prepayment receipts into it and into a DuckDB posting log, through the asset's path
(`plan_receipts` -> `intents_for` -> `post_receipts`); FOLDER keeps template.db and
warehouse.duckdb. `day` copies both and posts one more day of `size` receipts paying open
invoices through the asset's own `_post_day` and its per-day checks (the read-back), printing the
CPU seconds of each: what a day of `post_cash_receipts` costs late in a year.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from benchmarks.bench_posting import DAY, build_company, day_of_payments, open_invoices


def _prepayment_day(customers: pd.DataFrame, first_id: int, size: int, counter: int,
                    day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`size` prepayment receipts of `day` spread over `customers`."""
    from sage_paytrace_pipeline.domain.matching.invoices import APPLICATION_COLUMNS
    from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

    picks = customers.iloc[[i % len(customers) for i in range(size)]].reset_index(drop=True)
    ids = pd.Series(range(first_id, first_id + size), dtype="int64")
    amount = [100 + (i * 37) % 50_000 for i in range(size)]
    applications = pd.DataFrame({
        "transaction_id": ids, "division": picks["division"], "customer_no": picks["customer_no"],
        "invoice_no": [f"P{counter + i:06d}" for i in range(size)], "invoice_type": "IN",
        "amount_cents": pd.Series(amount, dtype="int64"), "method": "prepayment", "score": 100.0,
        "explanation": "year"}, columns=list(APPLICATION_COLUMNS))
    payments = pd.DataFrame({column: pd.Series([None] * size, dtype="object") for column in TRANSACTION_COLUMNS})
    payments = payments.assign(
        business_date=day, transaction_id=ids, transaction_type="SALE", status="SETTLED", amount_cents=amount,
        card_brand=(["VISA", "MASTERCARD", "DISCOVER", "AMEX"] * size)[:size], card_last4="1111",
        card_expiration_month=4, card_expiration_year=2028, approval_code="TAS521", billing_name="Bench Payer")
    return applications, payments


def _active_customers(company: Path) -> pd.DataFrame:
    import sqlite3
    connection = sqlite3.connect(company)
    try:
        return pd.read_sql_query("SELECT ARDivisionNo AS division, CustomerNo AS customer_no FROM AR_Customer "
                                 "WHERE CustomerStatus = 'A' ORDER BY 1, 2", connection)
    finally:
        connection.close()


def build(folder: Path, days: int, per_day: int) -> None:
    from sage_paytrace_pipeline.config import SageSettings
    from sage_paytrace_pipeline.receivables.posting import intents_for, post_receipts
    from sage_paytrace_pipeline.receivables.posting_log import PostingLog
    from sage_paytrace_pipeline.receivables.receipts import plan_receipts
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

    folder.mkdir(parents=True, exist_ok=True)
    company = build_company(folder, 2_000)
    customers = _active_customers(company)
    warehouse = duckdb.connect(str(folder / "warehouse.duckdb"))
    try:
        log = PostingLog(warehouse, "year")
        writer, reader = DemoCompanyWriter(company), Sage100Reader.for_sqlite(company)
        for number in range(days):
            day = DAY - timedelta(days=days - number)
            applications, payments = _prepayment_day(customers, 700_000_000 + number * per_day, per_day,
                                                     number * per_day, day)
            plan = plan_receipts(applications, payments, SageSettings(), day)
            intents = intents_for(plan.receipts, applications, applications.iloc[:0], day)
            outcome = post_receipts(plan.receipts, intents, writer=writer, reader=reader, log=log, business_date=day)
            if len(outcome.written) != per_day or not outcome.exceptions.empty:
                raise SystemExit(f"day {day}: {len(outcome.written)} written, {len(outcome.exceptions)} exceptions")
            if number % 20 == 0:
                print(f"{day}: {(number + 1) * per_day:,} receipts", flush=True)
    finally:
        warehouse.close()


def one_day(folder: Path, size: int, profile_path: str | None, work: Path | None = None) -> dict[str, float]:
    """CPU seconds of one more day through the asset's `_post_day` and its per-day checks; the
    copies go to `work` (default FOLDER/run: another folder leaves a shared FOLDER untouched)."""
    from sage_paytrace_pipeline.config import PipelineConfig
    from sage_paytrace_pipeline.defs.receivables.assets import _post_day, _read_back_checks
    from sage_paytrace_pipeline.receivables.posting_log import PostingLog
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

    work = work or folder / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    company, warehouse_path = work / "company.db", work / "warehouse.duckdb"
    shutil.copyfile(folder / "template.db", company)
    shutil.copyfile(folder / "warehouse.duckdb", warehouse_path)
    for copy in (company, warehouse_path):  # the copy's dirty pages flushed now, not by the first commit's sync
        with copy.open("rb+") as handle:
            os.fsync(handle.fileno())
    applications, payments = day_of_payments(open_invoices(company, size))
    applications = applications.assign(posted_earlier=False)
    links = applications.drop_duplicates("transaction_id")[
        ["transaction_id", "division", "customer_no", "method", "score", "explanation"]].assign(posted_earlier=False)
    warehouse = duckdb.connect(str(warehouse_path))
    profiler = cProfile.Profile() if profile_path else None
    figures: dict[str, float] = {}
    try:
        log = PostingLog(warehouse, "day")
        writer, reader = DemoCompanyWriter(company), Sage100Reader.for_sqlite(company)
        if profiler:
            profiler.enable()
        started = time.process_time()
        posted = _post_day(DAY, PipelineConfig(), writer, reader, log, applications, links, payments,
                           pd.DataFrame(), None)
        figures["post_day"] = time.process_time() - started
        started = time.process_time()
        results = _read_back_checks(reader, posted.receipts)
        figures["checks"] = time.process_time() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_path)
    finally:
        warehouse.close()
    if len(posted.outcome.written) != size or not posted.exceptions.empty or not all(r.passed for r in results):
        raise SystemExit(f"{len(posted.outcome.written)} written, {len(posted.exceptions)} exceptions")
    figures["total"] = sum(figures.values())
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "day"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--profile")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args(argv)
    if args.action == "build":
        build(args.folder, args.days, args.per_day)
        return
    figures = one_day(args.folder, args.size, args.profile, args.work)
    print("  ".join(f"{name} {seconds:.3f}" for name, seconds in figures.items()), "CPU s")


if __name__ == "__main__":
    main()
