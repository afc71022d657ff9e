"""Anomaly rules and exception suggestions: speed and quality on synthetic data with ground truth.

    .venv/bin/python -m benchmarks.bench_anomalies [--payments 1000000] [--customers 100000] [--exceptions 10000]

Rules: a clean day of `--payments` transactions judged against a clean history of the same size
(customers with their own usual amount +-15 %, one card each, business hours 08-18 merchant time,
1 % refunded days later to the same card), then the same day with planted anomalies: repeated
charges, card-testing bursts, outliers (x8 the usual), double payments, refunds above the sale,
to another card and without a sale, and charges at 03:00. Per rule: planted found (recall) and
clean transactions flagged (false-flag rate). Suggestions: `--exceptions` exceptions against
`--customers` Sage customers (misspelt name + ZIP, a shared e-mail where one customer is owed the
amount, a known vault id, a one-edit invoice number, unapplied payments), top-1 / top-3 accuracy
where the right candidate exists. Prints markdown tables; nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies import AnomalyInputs, AnomalyPolicy, detect_anomalies
from sage_paytrace_pipeline.domain.suggestions import suggest
from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

DAY = pd.Timestamp("2026-03-02", tz="America/Los_Angeles")
_WORDS = np.array(["Cascade", "Ridgeline", "Blue", "Heron", "Summit", "Pinecrest", "Harbor", "Lakeside", "Northwind",
                   "Evergreen", "Granite", "Riverbend", "Sunrise", "Dental", "Supply", "Bakery", "Printing", "Glass",
                   "Marine", "Tile", "Plumbing", "Electric", "Roofing", "Cafe", "Books", "Garden", "Motors"])


def _frame(columns: dict) -> pd.DataFrame:
    frame = pd.DataFrame(columns).reindex(columns=list(TRANSACTION_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["settled_at"] = pd.to_datetime(frame["settled_at"], utc=True)
    return frame.astype({k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def _sales(rng, count: int, first_id: int, customers: int, usual: np.ndarray, day: pd.Timestamp,
           days: int) -> pd.DataFrame:
    who = rng.integers(0, customers, count)
    amount = np.maximum(600, (usual[who] * (1 + 0.15 * rng.standard_normal(count))).round()).astype("int64")
    offset = (rng.integers(0, days, count) * 86_400 + rng.integers(8 * 3600, 18 * 3600, count)).astype("int64")
    created = (day - pd.Timedelta(days=days - 1)) + pd.to_timedelta(offset, unit="s")
    ids = np.arange(first_id, first_id + count)
    return _frame({
        "business_date": created.date, "transaction_id": ids, "transaction_type": "SALE", "status": "SETTLED",
        "amount_cents": amount, "created_at": created, "customer_id": "V" + pd.Series(who).astype(str),
        "card_brand": "VISA", "card_bin": "401200", "card_last4": pd.Series(who % 10_000).astype(str).str.zfill(4),
        "card_expiration_month": 1 + who % 12, "card_expiration_year": 2029,
        "invoice_id": "I" + pd.Series(ids).astype(str)})


def _refunds(rng, sales: pd.DataFrame, share: float, first_id: int) -> pd.DataFrame:
    chosen = sales.sample(frac=share, random_state=int(rng.integers(1 << 30)))
    refunds = chosen.copy()
    refunds["transaction_id"] = np.arange(first_id, first_id + len(chosen))
    refunds["transaction_type"] = "REFUND"
    refunds["amount_cents"] = (chosen["amount_cents"] // 2).to_numpy()
    refunds["created_at"] = chosen["created_at"] + pd.Timedelta(days=3)
    return refunds


def world(payments: int, customers: int, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    usual = rng.integers(2_000, 200_000, customers)
    history = _sales(rng, payments, 1, customers, usual, DAY - pd.Timedelta(days=1), 60)
    history = pd.concat([history, _refunds(rng, history, 0.01, 50_000_000)], ignore_index=True)
    day = _sales(rng, payments, 10_000_000, customers, usual, DAY, 1)
    applications = pd.DataFrame({"transaction_id": pd.concat([history["transaction_id"], day["transaction_id"]]),
                                 "invoice_no": pd.concat([history["invoice_id"], day["invoice_id"]]).str.upper(),
                                 "amount_cents": pd.concat([history["amount_cents"], day["amount_cents"]])})
    applications = applications[~applications["transaction_id"].between(50_000_000, 59_999_999)]
    return {"rng": rng, "usual": usual, "history": history, "day": day, "applications": applications}


def plant(base: dict, each: int = 100) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set[int]]]:
    """The clean day plus planted anomalies; the applications they imply; the planted ids per rule."""
    rng, day, history = base["rng"], base["day"], base["history"]
    next_id = iter(range(20_000_000, 30_000_000))
    planted, rows = {}, []

    def ids(count):
        return np.array([next(next_id) for _ in range(count)])

    picks = day.sample(6 * each, random_state=1).reset_index(drop=True)
    duplicate = picks.iloc[:each].copy()
    duplicate["transaction_id"], duplicate["created_at"] = ids(each), duplicate["created_at"] + pd.Timedelta(
        minutes=30)
    planted["duplicate_charge"] = set(duplicate["transaction_id"])
    outlier = picks.iloc[each:2 * each].copy()
    outlier["transaction_id"] = ids(each)
    outlier["amount_cents"] = base["usual"][outlier["customer_id"].str[1:].astype(int)] * 8
    outlier["invoice_id"] = "X" + outlier["transaction_id"].astype(str)
    planted["amount_outlier"] = set(outlier["transaction_id"])
    double = picks.iloc[2 * each:3 * each].copy()
    paid = history[history["transaction_type"] == "SALE"].sample(each, random_state=2)
    double["transaction_id"], double["invoice_id"] = ids(each), paid["invoice_id"].to_numpy()
    double["customer_id"] = paid["customer_id"].to_numpy()
    planted["double_payment"] = set(double["transaction_id"])
    night = picks.iloc[3 * each:4 * each].copy()
    night["transaction_id"] = ids(each)
    night["created_at"] = DAY + pd.Timedelta(hours=3) + pd.to_timedelta(rng.integers(0, 3000, each), unit="s")
    night["invoice_id"] = "N" + night["transaction_id"].astype(str)
    planted["unusual_hour"] = set(night["transaction_id"])
    rows += [duplicate, outlier, double, night]

    bursts = []
    for burst in range(each // 5):  # card testing: 5 small attempts, 3 declined, on a card never seen
        attempt = picks.iloc[[4 * each + burst] * 5].copy()
        attempt["transaction_id"], attempt["amount_cents"] = ids(5), rng.integers(100, 300, 5)
        attempt["customer_id"], attempt["card_last4"] = f"T{burst}", f"{burst:04d}"
        attempt["card_bin"], attempt["status"] = "555555", ["DECLINED", "DECLINED", "SETTLED", "DECLINED", "SETTLED"]
        attempt["created_at"] = attempt["created_at"] + pd.to_timedelta(np.arange(5) * 4, unit="m")
        attempt["invoice_id"] = "T" + attempt["transaction_id"].astype(str)
        bursts.append(attempt)
    testing = pd.concat(bursts, ignore_index=True)
    planted["card_testing"] = set(testing["transaction_id"])
    rows.append(testing)

    sold = day.sample(3 * each, random_state=3).reset_index(drop=True)
    refunds = sold.copy()
    refunds["transaction_type"], refunds["transaction_id"] = "REFUND", ids(3 * each)
    refunds["created_at"] = refunds["created_at"] + pd.Timedelta(hours=30)
    refunds.loc[:each - 1, "amount_cents"] = sold.loc[:each - 1, "amount_cents"] + 1_000  # above the sale
    refunds.loc[each:2 * each - 1, "amount_cents"] //= 2
    refunds.loc[each:2 * each - 1, "card_last4"] = "9999"  # to another card
    refunds.loc[2 * each:, ["customer_id", "invoice_id"]] = None  # without a sale: a card never seen
    refunds.loc[2 * each:, ["card_bin", "card_last4"]] = ["999999", "8888"]
    refunds.loc[2 * each:, "amount_cents"] //= 3
    planted["refund_above_sale"] = set(refunds["transaction_id"][:each])
    planted["refund_to_other_card"] = set(refunds["transaction_id"][each:2 * each])
    planted["refund_without_sale"] = set(refunds["transaction_id"][2 * each:])
    rows.append(refunds)
    # the refunds happen the next day: their sales (the clean day) are history then
    planted_day = pd.concat([day, *rows[:-1]], ignore_index=True)
    applications = base["applications"]
    extra = pd.concat(rows[:-1], ignore_index=True)
    extra = extra[~extra["transaction_id"].isin(planted["double_payment"])]
    applications = pd.concat([applications, pd.DataFrame({"transaction_id": extra["transaction_id"],
                                                          "invoice_no": extra["invoice_id"].astype(str).str.upper(),
                                                          "amount_cents": extra["amount_cents"]})])
    return planted_day, refunds, planted, applications


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def bench_rules(payments: int, customers: int) -> None:
    customers = min(customers, max(1_000, payments // 20))  # about 20 earlier payments a customer: a history
    base = world(payments, customers)
    policy = AnomalyPolicy()
    clean, clean_s = _timed(lambda: detect_anomalies(AnomalyInputs(base["day"], base["history"],
                                                                   base["applications"]), policy))
    day, refunds, planted, applications = plant(base)
    found, planted_s = _timed(lambda: detect_anomalies(AnomalyInputs(day, base["history"], applications), policy))
    refund_day = pd.concat([refunds], ignore_index=True)
    refund_history = pd.concat([base["history"], base["day"]], ignore_index=True)
    refund_flags, refund_s = _timed(lambda: detect_anomalies(AnomalyInputs(refund_day, refund_history,
                                                                           applications), policy))
    found = pd.concat([found, refund_flags], ignore_index=True)
    print(f"\nRules: {len(base['day']):,} transactions judged against {len(base['history']):,} earlier ones, "
          f"{customers:,} customers; clean day {clean_s:.2f} s, planted day {planted_s:.2f} s, "
          f"refund day ({len(refunds)} refunds against {len(refund_history):,}) {refund_s:.2f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n")
    print("| rule | planted | found (recall) | flags on the clean day | false-flag rate |")
    print("|---|---:|---:|---:|---:|")
    for rule, wanted in planted.items():
        hit = set(found.loc[found["rule"] == rule, "transaction_id"].dropna().astype(int)) & wanted
        false = int((clean["rule"] == rule).sum())
        print(f"| {rule} | {len(wanted)} | {len(hit)} ({len(hit) / len(wanted):.0%}) | {false} | "
              f"{false / len(base['day']):.3%} |")


def directory(rng, customers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.arange(customers)
    words = _WORDS[rng.integers(0, len(_WORDS), (customers, 2))]
    name = pd.Series(words[:, 0]) + " " + pd.Series(words[:, 1]) + " " + pd.Series(
        rng.integers(0, 10**6, customers)).astype(str).map(lambda n: n[::-1]).str[:3].radd("Co")
    frame = pd.DataFrame({"division": "01", "customer_no": "C" + pd.Series(ids).astype(str).str.zfill(7),
                          "name": name, "zip_code": pd.Series(rng.integers(10000, 15000, customers)).astype(str),
                          "email": "ap" + pd.Series(ids).astype(str) + "@firm" + pd.Series(ids).astype(str) + ".com",
                          "status": "A", "credit_card_guid": ""})
    owner = rng.integers(0, customers, customers * 3)  # three open invoices a customer on average
    invoices = pd.DataFrame({"division": "01", "customer_no": frame["customer_no"].to_numpy()[owner],
                             # sparse numbers (3 % of the 7-digit space): a typo rarely lands on another invoice
                             "invoice_no": pd.Series(rng.choice(10_000_000, len(owner), replace=False) + 1).astype(
                                 str).str.zfill(7),
                             "invoice_type": "IN", "balance_cents": rng.integers(1_000, 900_000, len(owner)),
                             "invoice_date": pd.Timestamp("2026-02-01")})
    return frame, invoices


def _typo(names: pd.Series, rng) -> pd.Series:
    position = (rng.random(len(names)) * names.str.len()).astype(int)
    return pd.Series([n[:p] + n[p + 1:] for n, p in zip(names, position)], index=names.index)


def bench_suggestions(customers: int, exceptions: int) -> None:
    rng = np.random.default_rng(5)
    sage, invoices = directory(rng, customers)
    # a shared e-mail: for every ambiguous case, the partner division of the same firm shares the e-mail
    count = exceptions
    kind = rng.choice(["name", "email", "vault", "reference", "unapplied"], count, p=[0.4, 0.2, 0.1, 0.1, 0.2])
    who = rng.choice(invoices.index.to_numpy(), count, replace=False)
    truth = invoices.loc[who].reset_index(drop=True)
    owner = sage.set_index("customer_no").loc[truth["customer_no"]].reset_index()
    ids = np.arange(1, count + 1)
    name = np.where(kind == "name", _typo(owner["name"], rng), "")
    email = np.where(kind == "email", owner["email"], "")
    partner_rows = rng.integers(0, customers, count)
    sage.loc[partner_rows[kind == "email"], "email"] = owner["email"].to_numpy()[kind == "email"]  # shared e-mail
    vault = np.where(kind == "vault", "V" + pd.Series(ids).astype(str), "")
    reference = truth["invoice_no"].str[:-1] + ((truth["invoice_no"].str[-1].astype(int) + 1) % 10).astype(str)
    invoice_id = np.where(kind == "reference", reference, "")
    amount = truth["balance_cents"].to_numpy()  # the payer pays the invoice, mistyping its number
    payments = _frame({"business_date": DAY.date(), "transaction_id": ids, "transaction_type": "SALE",
                       "status": "SETTLED", "amount_cents": amount, "created_at": DAY + pd.Timedelta(hours=10),
                       "billing_name": name, "billing_zip": np.where(kind == "name", owner["zip_code"], ""),
                       "email": email, "customer_id": vault, "invoice_id": invoice_id})
    exception_kind = np.select([kind == "email", kind == "unapplied"], ["ambiguous_customer", "unapplied_payment"],
                               "unknown_customer")
    exceptions_frame = pd.DataFrame({"kind": exception_kind, "transaction_id": ids})
    links = pd.DataFrame({"transaction_id": ids[kind == "unapplied"], "division": "01",
                          "customer_no": truth["customer_no"].to_numpy()[kind == "unapplied"]})
    vault_links = pd.DataFrame({"customer_id": vault[kind == "vault"], "division": "01",
                                "customer_no": truth["customer_no"].to_numpy()[kind == "vault"]})
    found, seconds = _timed(lambda: suggest(exceptions_frame, payments, sage, invoices, customer_links=links,
                                            vault_links=vault_links))
    expected = np.where(kind == "unapplied", truth["invoice_no"], "")
    right = pd.DataFrame({"transaction_id": ids, "kind": kind, "customer_no": truth["customer_no"],
                          "invoice_nos": expected})
    merged = found.merge(right, on=["transaction_id", "customer_no", "invoice_nos"])
    print(f"\nSuggestions: {count:,} exceptions against {customers:,} customers and {len(invoices):,} open "
          f"invoices in {seconds:.2f} s ({len(found):,} candidates)\n")
    print("| case | exceptions | right candidate first | right candidate in top 3 |")
    print("|---|---:|---:|---:|")
    for case in ["name", "email", "vault", "reference", "unapplied", "all"]:
        mine = right if case == "all" else right[right["kind"] == case]
        hits = merged[merged["transaction_id"].isin(mine["transaction_id"])]
        first = hits.loc[hits["rank"] == 1, "transaction_id"].nunique()
        top3 = hits["transaction_id"].nunique()
        print(f"| {case} | {len(mine):,} | {first / len(mine):.1%} | {top3 / len(mine):.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--exceptions", type=int, default=10_000)
    parser.add_argument("--only", choices=("rules", "suggestions"), default=None)
    args = parser.parse_args()
    if args.only != "suggestions":
        bench_rules(args.payments, args.customers)
    if args.only != "rules":
        bench_suggestions(args.customers, args.exceptions)


if __name__ == "__main__":
    main()
