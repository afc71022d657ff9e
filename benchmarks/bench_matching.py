"""Matching core throughput and peak memory, vectorized vs a row-by-row baseline (measured, not asserted).

    .venv/bin/python -m benchmarks.bench_matching [--sizes 10000 100000 1000000] [--invoices 1000000]

Each (implementation, size) runs in its own subprocess so that peak RSS (ru_maxrss) is its own.
Synthetic data (numpy, seeded): ~200k customers in 5,000 ZIPs (30% with a vault card), 1M open
invoices, payments: 40% vault id + invoice reference in one of the typed forms, 30% invoice
reference only (invoice_id or description), 15% e-mail without reference (exact-amount rule),
10% billing name + ZIP only (fuzzy), 5% unknown. Invoices are drawn with replacement, so some
are paid twice in a run (running balances). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

CUSTOMERS = 200_000
ZIPS = 5_000
_WORDS = np.array(["Cascade", "Ridgeline", "Blue", "Heron", "Summit", "Pinecrest", "Harbor", "Lakeside", "Northwind",
                   "Evergreen", "Granite", "Riverbend", "Sunrise", "Dental", "Supply", "Bakery", "Printing", "Glass"])


def synthetic(payments: int, invoices: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.arange(CUSTOMERS)
    customer_no = pd.Series(ids).astype(str).str.zfill(7).radd("C")
    words = _WORDS[rng.integers(0, len(_WORDS), (CUSTOMERS, 2))]
    name = pd.Series(words[:, 0]) + " " + pd.Series(words[:, 1]) + " " + pd.Series(ids).astype(str)
    zip_code = pd.Series(rng.integers(10000, 10000 + ZIPS, CUSTOMERS)).astype(str)
    has_card = rng.random(CUSTOMERS) < 0.3
    guid = ("G" + pd.Series(ids).astype(str).str.zfill(9)).where(has_card, "")
    customers = pd.DataFrame({"division": "01", "customer_no": customer_no, "name": name, "zip_code": zip_code,
                              "email": "c" + pd.Series(ids).astype(str) + "@x.example", "status": "A",
                              "credit_card_guid": guid})
    cards = customers.loc[has_card, ["division", "customer_no", "credit_card_guid"]].reset_index(drop=True)

    owner = rng.integers(0, CUSTOMERS, invoices)
    balance = rng.integers(500, 500_000, invoices)
    open_invoices = pd.DataFrame({"division": "01", "customer_no": customer_no.to_numpy()[owner],
                                  "invoice_no": pd.Series(np.arange(1, invoices + 1)).astype(str).str.zfill(7),
                                  "invoice_type": "IN", "balance_cents": balance.astype("int64")})

    pick = rng.integers(0, invoices, payments)  # with replacement: some invoices are paid twice
    payer = owner[pick]
    number = pd.Series(pick + 1)
    kind = rng.choice(5, payments, p=[0.40, 0.30, 0.15, 0.10, 0.05])
    form = rng.integers(0, 5, payments)
    padded = number.astype(str).str.zfill(7)
    typed = pd.Series(np.select([form == 0, form == 1, form == 2, form == 3],
                                ["INV-" + padded, "#" + number.astype(str), number.astype(str), padded], ""))
    in_description = form == 4
    referenced = (kind <= 1)
    vault = (kind == 0) & has_card[payer]
    frame = pd.DataFrame({
        "transaction_id": np.arange(100_000_000, 100_000_000 + payments, dtype="int64"),
        "transaction_type": "SALE", "status": "SETTLED",
        "amount_cents": np.where(rng.random(payments) < 0.15, balance[pick] // 2, balance[pick]).astype("int64"),
        "created_at": pd.Timestamp("2026-03-02", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 86400, payments), unit="s"),
        "invoice_id": typed.where(referenced & ~in_description, ""),
        "description": ("Payment for invoice " + padded).where(referenced & in_description, "Card payment 4012 ****"),
        "customer_id": guid.to_numpy()[payer],
        "email": np.where(kind == 2, customers["email"].to_numpy()[payer], ""),
        "billing_name": np.where(kind == 3, customers["name"].str.upper().to_numpy()[payer], "Someone Else"),
        "billing_zip": np.where(kind == 4, "00000", zip_code.to_numpy()[payer]),
    })
    frame.loc[~vault, "customer_id"] = ""
    frame.loc[kind == 4, "invoice_id"] = ""
    frame.loc[kind == 4, "description"] = ""
    return {"payments": frame, "customers": customers, "cards": cards, "open_invoices": open_invoices,
            "links": pd.DataFrame(columns=["customer_id", "division", "customer_no"])}


def run_vectorized(data: dict[str, pd.DataFrame]) -> dict:
    from sage_paytrace_pipeline.domain.matching import MatchingPolicy, match_day

    result = match_day(data["payments"], data["customers"], data["cards"], data["open_invoices"], links=data["links"],
                       policy=MatchingPolicy())
    return {"applied": int(result.applications["transaction_id"].nunique()), "exceptions": len(result.exceptions)}


def run_row_by_row(data: dict[str, pd.DataFrame]) -> dict:
    """The straightforward implementation: dict look-ups and a Python loop per payment."""
    from rapidfuzz import fuzz, utils

    from sage_paytrace_pipeline.domain.matching.references import (
        _KEYWORD,
        _NOT_INVOICES,
    )

    customers = data["customers"].to_dict("records")
    by_guid = {c["credit_card_guid"]: c["customer_no"] for c in data["cards"].to_dict("records")}
    by_email = {c["email"]: c["customer_no"] for c in customers}
    by_zip: dict[str, list[dict]] = {}
    for c in customers:
        by_zip.setdefault(c["zip_code"], []).append(c)
    owners: dict[str, list[str]] = {}
    open_by_customer: dict[str, dict[str, int]] = {}
    for row in data["open_invoices"].itertuples(index=False):
        owners.setdefault(row.invoice_no, []).append(row.customer_no)
        open_by_customer.setdefault(row.customer_no, {})[row.invoice_no] = row.balance_cents
    junk, keyword, digits = re.compile(_NOT_INVOICES), re.compile(_KEYWORD), re.compile(r"\d+")
    applied = exceptions = 0
    for p in data["payments"].sort_values(["created_at", "transaction_id"]).to_dict("records"):
        numbers = []
        for text in (p["invoice_id"], p["description"]):
            cleaned = keyword.sub("#", junk.sub(" ", (text or "").lower()))
            numbers += [d.lstrip("0").zfill(7) for d in digits.findall(cleaned) if 0 < len(d.lstrip("0")) <= 7]
        customer = by_guid.get(p["customer_id"])
        if customer is None:
            found = {o for n in numbers for o in owners.get(n, [])}
            customer = found.pop() if len(found) == 1 else None
        if customer is None:
            customer = by_email.get(p["email"])
        if customer is None:
            scored = [(fuzz.token_sort_ratio(p["billing_name"], c["name"], processor=utils.default_process),
                       c["customer_no"])
                      for c in by_zip.get(p["billing_zip"], [])]
            best = max(scored, default=(0, None))
            customer = best[1] if best[0] >= 90 else None
        if customer is None:
            exceptions += 1
            continue
        balances = open_by_customer.get(customer, {})
        targets = ([n for n in numbers if n in balances]
                   or [n for n, b in balances.items() if b == p["amount_cents"]][:1])
        left = p["amount_cents"]
        for n in targets:
            take = min(left, balances[n])
            balances[n] -= take
            left -= take
        applied += bool(targets)
        exceptions += left > 0 or not targets
    return {"applied": applied, "exceptions": exceptions}


def measure_one(implementation: str, payments: int, invoices: int) -> dict:
    data = synthetic(payments, invoices)
    import rapidfuzz  # noqa: F401  -- module imports are set-up, not part of the timed run

    import sage_paytrace_pipeline.domain.matching  # noqa: F401
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    outcome = (run_vectorized if implementation == "vectorized" else run_row_by_row)(data)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    return {"implementation": implementation, "payments": payments, "invoices": invoices, "seconds": seconds,
            "peak_mib": peak, "data_mib": rss_data, **outcome}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--one", nargs=2, metavar=("IMPLEMENTATION", "PAYMENTS"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.invoices)))
        return
    runs = [("vectorized", size) for size in args.sizes]
    runs += [("row_by_row", size) for size in args.sizes if size <= 100_000]
    print("| implementation | payments | open invoices | seconds | payments/s | peak RSS MiB | of which data MiB "
          "| applied | exceptions |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    baseline_10k = None
    for implementation, size in runs:
        if implementation == "row_by_row" and size > 10_000 and baseline_10k and baseline_10k * size / 10_000 > 60:
            projected = baseline_10k * size / 10_000
            print(f"| row_by_row | {size:,} | — | skipped: projected {projected:.0f} s > 60 s | | | | | |")
            continue
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_matching", "--one", implementation, str(size),
                              "--invoices", str(args.invoices)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if implementation == "row_by_row" and size == 10_000:
            baseline_10k = r["seconds"]
        print(f"| {implementation} | {size:,} | {r['invoices']:,} | {r['seconds']:.2f} | {size / r['seconds']:,.0f} "
              f"| {r['peak_mib']:,.0f} | {r['data_mib']:,.0f} | {r['applied']:,} | {r['exceptions']:,} |", flush=True)


if __name__ == "__main__":
    main()
