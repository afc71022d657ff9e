"""Settlement core throughput: batches x transactions x bank lines -> reconciliation -> journals.

    python -m benchmarks.bench_settlement [--days 250 500 2000] [--per-day 500]

A merchant with `per-day` card sales a day in daily batches (four brands, Amex funded on its own,
2.5 % daily discount), every sale a confirmed Sage receipt and every deposit on the bank statement
one business day later. Each size runs in its own subprocess so peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

BRANDS = np.array(["VISA", "MASTERCARD", "DISCOVER", "AMEX"])


def synthetic(days: int, per_day: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    closed = pd.bdate_range("2020-01-01", periods=days).date
    batch = np.repeat(np.arange(1, days + 1), per_day)
    brand = BRANDS[rng.integers(0, 4, days * per_day)]
    amount = rng.integers(500, 50_000, days * per_day).astype("int64")
    transactions = pd.DataFrame({"transaction_id": np.arange(1, days * per_day + 1, dtype="int64"),
                                 "batch_number": batch.astype("int64"), "transaction_type": "SALE",
                                 "card_brand": brand, "amount_cents": amount, "status": "SETTLED"})
    totals = transactions.groupby(["batch_number", "card_brand"])["amount_cents"].agg(["count", "sum"]).reset_index()
    batches = pd.DataFrame({"batch_number": totals["batch_number"], "closed_date": closed[totals["batch_number"] - 1],
                            "brand": totals["card_brand"], "sales_count": totals["count"], "sales_cents": totals["sum"],
                            "refund_count": 0, "refund_cents": 0})
    group = np.where(batches["brand"] == "AMEX", "AMEX", "CARDS")
    funded = batches.assign(group=group).groupby(["batch_number", "group"])["sales_cents"].sum().reset_index()
    fees = funded["sales_cents"] * 250 // 10_000
    posted = pd.bdate_range(closed[0], periods=days + 2).date[funded["batch_number"].to_numpy()]
    deposits = pd.DataFrame({"source_file": "bench.bai", "source_line": np.arange(len(funded)) + 1,
                             "account_id": "000123456789", "posted_date": posted,
                             "amount_cents": (funded["sales_cents"] - fees).astype("int64"), "type_code": "165",
                             "bank_reference": np.arange(len(funded)).astype(str),
                             "description": np.where(funded["group"] == "AMEX", "AMEX SETTLEMENT", "PAYTRACE DEPOSIT")})
    receipts = pd.DataFrame({"transaction_id": transactions["transaction_id"], "amount_cents": amount,
                             "payment_type": "VISA", "state": "confirmed"})
    return {"batches": batches, "transactions": transactions, "receipts": receipts, "deposits": deposits}


def measure_one(days: int, per_day: int) -> dict:
    data = synthetic(days, per_day)
    from sage_paytrace_pipeline.domain.settlement import GlAccountMap, SettlementPolicy, journal_entries, reconcile

    policy = SettlementPolicy(discount_method="daily")
    accounts = GlAccountMap(bank="1010-00", merchant_fees="6150-00", refunds="4950-00", chargebacks="6160-00",
                            clearing_by_brand=dict.fromkeys(BRANDS, "1060-00"),
                            active_accounts=frozenset({"1010-00", "6150-00", "4950-00", "6160-00", "1060-00"}))
    data_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    recon = reconcile(data["batches"], data["transactions"], data["receipts"], data["deposits"], policy=policy,
                      as_of=data["deposits"]["posted_date"].max())
    plan = journal_entries(recon, accounts=accounts)
    seconds = time.perf_counter() - started
    return {"days": days, "transactions": len(data["transactions"]), "bank_lines": len(data["deposits"]),
            "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "data_mib": data_mib, "matched": int((recon.expected["deposit_status"] == "matched").sum()),
            "expected": len(recon.expected), "entries": len(plan.entries)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, nargs="+", default=[250, 500, 2_000])
    parser.add_argument("--per-day", type=int, default=500)
    parser.add_argument("--one", type=int)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.per_day)))
        return
    print("| batches (days) | transactions | bank lines | seconds | transactions/s | peak RSS MiB | of which data MiB "
          "| deposits matched | journal entries |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for days in args.days:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_settlement", "--one", str(days),
                              "--per-day", str(args.per_day)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {days:,} | {r['transactions']:,} | {r['bank_lines']:,} | {r['seconds']:.2f} "
              f"| {r['transactions'] / r['seconds']:,.0f} | {r['peak_mib']:,.0f} | {r['data_mib']:,.0f} "
              f"| {r['matched']:,} of {r['expected']:,} | {r['entries']:,} |", flush=True)


if __name__ == "__main__":
    main()
