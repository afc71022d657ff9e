"""payment_anomalies and exception_suggestions over a long range: CPU seconds per day of the range.

    .venv/bin/python -m benchmarks.bench_anomaly_range [--days 365] [--per-day 1000] [--history 90]

A warehouse (in memory) holds `--history` days before the range and the range's own days of
`--per-day` payments each (the step before stored them: a range run's days are history for its
later days), their applications, settled batches and customer links. The anomaly step's day loop
(`anomalies.range.flag_days`) and the suggestion step's reads of earlier vault links
(`history.vault_links_of_days`) run over the range; printed: CPU seconds in all and per day.
`--compare` also times the per-day path (each day's history sliced and judged again) on the
first `--compare` days, and checks both paths flag those days alike.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.anomalies.history import applications_between, transactions_between, vault_links_of_days
from sage_paytrace_pipeline.anomalies.range import flag_days
from sage_paytrace_pipeline.defs.ranges import days_of
from sage_paytrace_pipeline.domain.anomalies import AnomalyPolicy
from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

FIRST = date(2025, 1, 6)


def stored_world(days: int, per_day: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """`days` days of payments shaped like the generated benchmark world's: a third by 250 vault customers
    (about three a day each), the rest by `per_day * 9` customers known by e-mail (a payment a week or two);
    steady amounts, a card each, business hours Los Angeles; 2.5 % refunds, 2 % declines, some repeats and
    card tests; applications, batches and links."""
    rng = np.random.default_rng(seed)
    customers = max(500, per_day * 9)
    usual = rng.integers(2_000, 200_000, customers)
    count = days * per_day
    day = np.repeat(np.arange(days), per_day)
    who = np.where(rng.random(count) < 0.35, rng.integers(0, 250, count), rng.integers(250, customers, count))
    # a new customer now and then: their first payment comes mid-range
    who = np.where(day < who * days // customers // 2, (who + customers // 2) % customers, who)
    local = pd.Timestamp(FIRST, tz="America/Los_Angeles") + pd.to_timedelta(
        day * 86_400 + rng.integers(7 * 3600, 19 * 3600, count), unit="s")
    amount = np.maximum(100, (usual[who] * (1 + 0.15 * rng.standard_normal(count))).round()).astype("int64")
    amount[rng.random(count) < 0.002] *= 9  # outliers
    small = rng.random(count) < 0.003  # card-testing-like small attempts
    amount[small] = rng.integers(100, 300, int(small.sum()))
    kind = np.where(rng.random(count) < 0.025, "REFUND", "SALE")
    status = np.where(rng.random(count) < 0.02, "DECLINED", "SETTLED")
    ids = np.arange(1, count + 1)
    invoice = ("I" + pd.Series(ids).astype(str)).to_numpy(dtype=object)
    repeat = rng.random(count) < 0.002  # an invoice named again (double payment)
    invoice[repeat] = "I" + pd.Series(np.maximum(1, ids[repeat] - rng.integers(1, 40 * per_day, int(repeat.sum()))
                                                 )).astype(str).to_numpy()
    card = np.where(rng.random(count) < 0.01, (who + 1) % customers, who)  # now and then another card
    transactions = pd.DataFrame({
        "business_date": local.tz_convert("America/Los_Angeles").date, "transaction_id": ids,
        "transaction_type": kind, "status": status, "amount_cents": amount, "created_at": local.tz_convert("UTC"),
        "customer_id": np.where(who >= 250, None, "V" + pd.Series(who).astype(str)),
        "email": "ap" + pd.Series(who).astype(str) + "@example.com",
        "card_brand": "VISA", "card_bin": "401200", "card_last4": pd.Series(card % 10_000).astype(str).str.zfill(4),
        "card_expiration_month": 1 + card % 12, "card_expiration_year": 2029,
        "invoice_id": invoice, "description": "order " + pd.Series(who % 97).astype(str)})
    transactions = transactions.reindex(columns=list(TRANSACTION_COLUMNS)).astype(
        {k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})
    transactions["settled_at"] = pd.to_datetime(transactions["settled_at"], utc=True)
    business_date = transactions["business_date"].to_numpy()
    paid = (kind == "SALE") & (status == "SETTLED") & ~repeat
    applications = pd.DataFrame({"transaction_id": ids[paid], "invoice_no": invoice[paid],
                                 "amount_cents": amount[paid], "business_date": business_date[paid]})
    batch_day = np.repeat(np.arange(days), 3)
    sales = rng.integers(1_000_000, 9_000_000, len(batch_day))
    batches = pd.DataFrame({"batch_number": np.arange(len(batch_day)) + 1,
                            "business_date": [FIRST + timedelta(days=int(d)) for d in batch_day],
                            "gross_cents": sales, "fee_cents": (sales * rng.uniform(0.02, 0.035, len(sales))).round()})
    linked = paid & (rng.random(count) < 0.5)
    links = pd.DataFrame({"transaction_id": ids[linked], "division": "01",
                          "customer_no": "C" + pd.Series(who[linked]).astype(str),
                          "business_date": business_date[linked]})
    return {"paytrace_transactions": transactions, "payment_applications": applications,
            "settlement_reconciliation": batches, "customer_links": links}


def warehouse(world: dict[str, pd.DataFrame]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA pipeline")
    for table, rows in world.items():
        connection.register("rows", rows)
        connection.execute(f"CREATE TABLE pipeline.{table} AS SELECT * FROM rows")
        connection.unregister("rows")
    return connection


def day_inputs(connection: duckdb.DuckDBPyConnection, days: list[date],
               ) -> tuple[dict[date, pd.DataFrame], dict[date, pd.DataFrame]]:
    """The days' stored transactions and applications, split by day (as the step's inputs are)."""
    transactions = transactions_between(connection, min(days), max(days))
    applications = applications_between(connection, min(days), max(days))
    return days_of(transactions, days), days_of(applications, days)


def _cpu(function):
    start = time.process_time()
    result = function()
    return result, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--history", type=int, default=90)
    parser.add_argument("--compare", type=int, default=0, help="days timed and checked on the per-day path too")
    parser.add_argument("--save", default=None, help="write every day's flags to this pickle (to compare runs)")
    args = parser.parse_args()

    world, built = _cpu(lambda: stored_world(args.history + args.days, args.per_day))
    connection = warehouse(world)
    days = [FIRST + timedelta(days=args.history + offset) for offset in range(args.days)]
    policy = AnomalyPolicy(history_days=args.history)
    transactions_of, applications_of = day_inputs(connection, days)
    print(f"{args.days} days x {args.per_day:,} payments, {args.history}-day history "
          f"({len(world['paytrace_transactions']):,} stored transactions; built in {built:.1f} s CPU)")
    flags, seconds = _cpu(lambda: flag_days(connection, days, transactions_of, applications_of, policy))
    print(f"payment_anomalies, range path: {seconds:.1f} s CPU, {seconds / len(days):.3f} s/day, "
          f"{sum(map(len, flags.values())):,} flags")
    if args.save:
        pd.concat([day_flags.assign(business_date=day) for day, day_flags in flags.items()],
                  ignore_index=True).to_pickle(args.save)
    links, seconds = _cpu(lambda: vault_links_of_days(connection, days, args.history))
    print(f"exception_suggestions' earlier vault links: {seconds:.1f} s CPU, {seconds / len(days):.4f} s/day, "
          f"{sum(map(len, links.values())):,} rows")
    if args.compare:
        first = days[:args.compare]
        alone, seconds = _cpu(lambda: flag_days(connection, first, transactions_of, applications_of, policy,
                                                range_wide=False))
        print(f"payment_anomalies, per-day path, first {len(first)} days: {seconds:.1f} s CPU, "
              f"{seconds / len(first):.3f} s/day")
        for day in first:
            pd.testing.assert_frame_equal(flags[day], alone[day])
        print("both paths flag those days alike")


if __name__ == "__main__":
    main()
