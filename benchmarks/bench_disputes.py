"""Dispute core throughput: report file -> stage history -> sale links -> GL entry plan.

    python -m benchmarks.bench_disputes [--cases 1000 10000 50000] [--sales 200000]

Each case is a chargeback, a representment and an outcome (won or lost) on one of `sales` card
sales, written in the default report layout (with a preamble and a trailer) and read back.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HEADER = ("Case Number,Original Case Number,Stage,Activity Date,Card Type,Reason Code,Reason Text,Case Amount,"
          "Transaction Amount,Transaction Date,Account Number,Authorization Code,Merchant Order Number,"
          "Acquirer Reference Number,Network Due Date,Merchant Due Date,Case Fee")


def synthetic(cases: int, sales: int, seed: int = 3) -> tuple[bytes, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    first = date(2026, 1, 1)
    sale_days = rng.integers(0, 300, sales)
    frame = pd.DataFrame({
        "transaction_id": np.arange(1, sales + 1), "transaction_type": "SALE", "status": "SETTLED",
        "business_date": [first + timedelta(days=int(d)) for d in sale_days],
        "amount_cents": rng.integers(500, 500_000, sales), "card_last4": [f"{n:04d}" for n in rng.integers(0, 10_000,
                                                                                                            sales)],
        "approval_code": [f"A{n:05d}" for n in range(sales)], "invoice_id": ""})
    chosen = frame.sample(cases, random_state=seed)
    lines = ["Report Name=Chargeback Detail", HEADER]
    for number, sale in enumerate(chosen.itertuples(), start=1):
        sold = sale.business_date
        amount = f"{sale.amount_cents // 100}.{sale.amount_cents % 100:02d}"
        common = (f"VI,13.1,Not received,{amount},{amount},{sold:%m/%d/%Y},402155XXXXXX{sale.card_last4},"
                  f"{sale.approval_code},,74{number:020d}")
        outcome = "Won" if number % 2 else "Lost"
        for stage, offset, due in (("Chargeback", 20, True), ("Representment", 30, False), (outcome, 50, False)):
            day = sold + timedelta(days=offset)
            dues = f"{day + timedelta(days=30):%m/%d/%Y},{day + timedelta(days=20):%m/%d/%Y}" if due else ","
            lines.append(f"C{number},,{stage},{day:%m/%d/%Y},{common},{dues},15.00")
    lines.append("END OF REPORT")
    return ("\n".join(lines) + "\n").encode(), frame


def measure(cases: int, sales: int) -> dict:
    from sage_paytrace_pipeline.domain.disputes.cases import case_summary, stage_history
    from sage_paytrace_pipeline.domain.disputes.linking import approved_sales, link_cases
    from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings
    from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat, read_report

    data, frame = synthetic(cases, sales)
    timings = {}
    start = time.perf_counter()
    rows = read_report(Path("bench.csv"), data, DisputeReportFormat()).rows
    timings["read"] = time.perf_counter() - start
    start = time.perf_counter()
    history = stage_history(rows)
    links = link_cases(history, approved_sales(frame))
    summary = case_summary(history, links)
    timings["cases_and_links"] = time.perf_counter() - start
    start = time.perf_counter()
    lines = plan_postings(history, DisputeAccounts(settled="6160-00", chargeback="1250-00", fee="6150-00",
                                                   loss="6170-00"))
    timings["plan"] = time.perf_counter() - start
    total = sum(timings.values())
    return {"cases": cases, "rows": len(rows), "sales": sales, **{k: round(v, 2) for k, v in timings.items()},
            "total": round(total, 2), "rows_per_s": int(len(rows) / total),
            "linked": int((summary["link"] == "linked").sum()), "entries": int(lines["reference"].nunique())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--sales", type=int, default=200_000)
    args = parser.parse_args()
    for cases in args.cases:
        print(measure(cases, args.sales), flush=True)


if __name__ == "__main__":
    main()
