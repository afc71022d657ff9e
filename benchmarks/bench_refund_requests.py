"""Sage refund requests in a year-long range run: CPU time of `sage_refund_requests`' day loop, a day.

    .venv/bin/python -m benchmarks.bench_refund_requests --world /work/bench/year/world [--days 365]
        [--per-day 1000] [--refunds-per-day 30] [--measured 20]

The year world's Sage company (copied: the writer adds its indexes) and its config; a synthetic
warehouse (seeded) holding `days` days of PayTrace sales and refunds, as a range run's
`paytrace_transactions` does when `sage_refund_requests` runs after it. The loop is the asset's:
each day works the queue (`_work_queue`: discover in Sage, link, approve, send, record), then the
range's checks. PayTrace is a fake that answers the server's date only (nothing is sent: the
year world marks no memo). Prints the CPU seconds a day (time.process_time) and the input sizes.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import tempfile
import time
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.defs.refunds import requests as asset
from sage_paytrace_pipeline.refunds.remaining import warehouse_refunds
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

FIRST = date(2025, 12, 7)


def synthetic_transactions(days: int, per_day: int, refunds_per_day: int, seed: int = 7) -> pd.DataFrame:
    """`paytrace_transactions` of `days` days: sales, and refunds of earlier sales carrying their invoice id."""
    rng = np.random.default_rng(seed)
    sales = days * per_day
    sale_ids = np.arange(1_000_000, 1_000_000 + sales)
    invoices = np.char.add("INV-", np.arange(sales).astype(str))
    cards = np.char.zfill(rng.integers(0, 10_000, sales).astype(str), 4)
    amounts = rng.integers(1_000, 200_000, sales)
    sale_days = np.repeat(np.arange(days), per_day)
    refunds = days * refunds_per_day
    refunded = rng.integers(0, sales, refunds)
    refund_days = np.maximum(sale_days[refunded], np.repeat(np.arange(days), refunds_per_day))
    frame = pd.DataFrame({
        "business_date": np.concatenate([sale_days, refund_days]),
        "transaction_id": np.concatenate([sale_ids, np.arange(9_000_000, 9_000_000 + refunds)]),
        "transaction_type": ["SALE"] * sales + ["REFUND"] * refunds,
        "status": "SETTLED",
        "amount_cents": np.concatenate([amounts, amounts[refunded] // 2]),
        "invoice_id": np.concatenate([invoices, invoices[refunded]]),
        "card_last4": np.concatenate([cards, cards[refunded]]),
    })
    frame["business_date"] = [FIRST + timedelta(days=int(d)) for d in frame["business_date"]]
    return frame


class FakePayTrace:
    def __init__(self, today: date) -> None:
        self.today = today

    def get_client(self) -> FakePayTrace:
        return self

    def server_today(self) -> date:
        return self.today


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--refunds-per-day", type=int, default=30)
    parser.add_argument("--measured", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_refund_requests_"))
    try:
        company = work / "sage100.sqlite3"
        shutil.copy(args.world / "sage100.sqlite3", company)
        config_path = str(args.world / "config.yaml")
        config = load_config(config_path)
        writer = DemoCompanyWriter(company)
        sage100 = SimpleNamespace(reader=lambda: Sage100Reader.for_sqlite(company), open_writer=lambda: writer)
        connection = duckdb.connect(str(work / "warehouse.duckdb"))
        connection.execute("CREATE SCHEMA pipeline")
        transactions = synthetic_transactions(args.days, args.per_day, args.refunds_per_day)
        connection.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM transactions")
        store = RequestStore(connection)
        days = [FIRST + timedelta(days=args.days - args.measured + i) for i in range(args.measured)]
        open_writer = cache(sage100.open_writer)
        started = time.process_time()
        refunds = warehouse_refunds(connection)
        read_once = {"refunds": refunds} if "refunds" in inspect.signature(asset._work_queue).parameters else {}
        worked = [(day, asset._work_queue(config, store, sage100, FakePayTrace(day), connection,  # type: ignore[arg-type]
                                          open_writer=open_writer, config_path=config_path, run_id="bench",
                                          **read_once))
                  for day in days]
        loop = time.process_time() - started
        started = time.process_time()
        sales = [asset._warehouse_sales(connection, queue.requests) for _, queue in worked]
        live = asset.LiveRefunds.of(refunds) if hasattr(asset, "LiveRefunds") else refunds
        for (_, queue), day_sales in zip(worked, sales, strict=True):
            asset.no_refund_sent_twice(queue.requests, live)
            asset.refunds_within_sale(queue.requests, live, day_sales)
        checks = time.process_time() - started
        print(f"transactions {len(transactions):,} (refunds {len(refunds):,}), requests {len(store.frame())}, "
              f"days {len(days)}")
        print(f"day loop {loop / len(days):.4f} CPU s/day; checks {checks / len(days):.4f} CPU s/day")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
