"""Matching core: vectorized vs a DuckDB SQL reference vs a row-by-row baseline (measured, not asserted).

    .venv/bin/python -m benchmarks.bench_matching [--sizes 10000 100000 1000000] [--invoices 1000000]
        [--row-by-row-up-to 100000] [--repeats 3]

`run(...)` / `main(argv)` return the figures as a dict (for a unified benchmark command) and print a
markdown table. Each (implementation, size) runs in its own subprocess so that peak RSS is its own; in
it the synthetic input is built and the modules imported before the clock starts (the peak counts
from there: the input held plus what the implementation adds; see `_input_only_rss`), and
the implementation runs `repeats` times: the median is reported. The load average is printed at the
start and the end, and the ratios come from this run only (the machine is shared: compare within a run).

Implementations:
- vectorized: `domain.matching.match_day`, the production core (all four customer steps, running
  balances, exceptions with their messages), then `render_messages` on its whole result (the
  explanations of every link and application: what the pipeline stores); both are timed, and
  printed apart as core and render;
- duckdb_sql: one SQL query on an in-memory DuckDB over the same frames that normalizes the typed
  references, resolves the customer (card GUID, invoice owner, e-mail, exact name + ZIP) and joins
  to the open invoices (named, else the customer's only invoice of that amount), fetched as a frame:
  the floor a relational engine gives for the joins, without messages, fuzzy names or balances;
- row_by_row: dict look-ups and a Python loop per payment (the straightforward implementation).

Synthetic data (numpy, seeded): ~200k customers in 5,000 ZIPs (30% with a vault card), 1M open
invoices, payments: 40% vault id + invoice reference in one of the typed forms, 30% invoice
reference only (invoice_id or description), 15% e-mail without reference (exact-amount rule),
10% billing name + ZIP only (fuzzy), 5% unknown. Invoices are drawn with replacement, so some
are paid twice in a run (running balances).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd

CUSTOMERS = 200_000
ZIPS = 5_000
_WORDS = np.array(["Cascade", "Ridgeline", "Blue", "Heron", "Summit", "Pinecrest", "Harbor", "Lakeside", "Northwind",
                   "Evergreen", "Granite", "Riverbend", "Sunrise", "Dental", "Supply", "Bakery", "Printing", "Glass"])


def synthetic(payments: int, invoices: int, seed: int = 1, customer_count: int = CUSTOMERS) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.arange(customer_count)
    customer_no = pd.Series(ids).astype(str).str.zfill(7).radd("C")
    words = _WORDS[rng.integers(0, len(_WORDS), (customer_count, 2))]
    name = pd.Series(words[:, 0]) + " " + pd.Series(words[:, 1]) + " " + pd.Series(ids).astype(str)
    zip_code = pd.Series(rng.integers(10000, 10000 + ZIPS, customer_count)).astype(str)
    has_card = rng.random(customer_count) < 0.3
    guid = ("G" + pd.Series(ids).astype(str).str.zfill(9)).where(has_card, "")
    customers = pd.DataFrame({"division": "01", "customer_no": customer_no, "name": name, "zip_code": zip_code,
                              "email": "c" + pd.Series(ids).astype(str) + "@x.example", "status": "A",
                              "credit_card_guid": guid})
    cards = customers.loc[has_card, ["division", "customer_no", "credit_card_guid"]].reset_index(drop=True)

    owner = rng.integers(0, customer_count, invoices)
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
    from sage_paytrace_pipeline.domain.matching import MatchingPolicy, match_day, render_messages

    started = time.perf_counter()
    coded = match_day(data["payments"], data["customers"], data["cards"], data["open_invoices"], links=data["links"],
                      policy=MatchingPolicy())
    decided = time.perf_counter()
    result = render_messages(coded)  # every link and application is stored: all their text
    rendered = time.perf_counter()
    return {"applied": int(result.applications["transaction_id"].nunique()), "exceptions": len(result.exceptions),
            "phases": {"core": decided - started, "render": rendered - decided}}


def run_row_by_row(data: dict[str, pd.DataFrame]) -> dict:
    """The straightforward implementation: dict look-ups and a Python loop per payment."""
    decisions = row_by_row_decisions(data)
    applied = sum(bool(applications) for _, applications, _ in decisions.values())
    exceptions = sum(customer is None or left > 0 or not applications
                     for customer, applications, left in decisions.values())
    return {"applied": applied, "exceptions": exceptions}


def row_by_row_decisions(data: dict[str, pd.DataFrame]) -> dict[int, tuple[str | None, list[tuple[str, int]], int]]:
    """Per payment, in processing order: (customer_no or None, [(invoice_no, cents applied)], cents left over).

    The oracle a test compares the vectorized core with on a sample: the same cascade (card GUID,
    invoice owner, e-mail, best name in the ZIP) and running balances, one payment at a time.
    """
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
    read_balances: dict[str, dict[str, int]] = {}
    for row in data["open_invoices"].itertuples(index=False):
        owners.setdefault(row.invoice_no, []).append(row.customer_no)
        open_by_customer.setdefault(row.customer_no, {})[row.invoice_no] = row.balance_cents
        read_balances.setdefault(row.customer_no, {})[row.invoice_no] = row.balance_cents
    junk, keyword, digits = re.compile(_NOT_INVOICES), re.compile(_KEYWORD), re.compile(r"\d+")
    decisions = {}
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
            decisions[p["transaction_id"]] = (None, [], p["amount_cents"])
            continue
        balances = open_by_customer.get(customer, {})
        same_amount = [n for n, b in read_balances.get(customer, {}).items() if b == p["amount_cents"]]
        targets = [n for n in dict.fromkeys(numbers) if n in balances] or same_amount[:len(same_amount) == 1]
        left, applications = p["amount_cents"], []
        for n in targets:
            take = min(left, balances[n])
            balances[n] -= take
            left -= take
            if take:
                applications.append((n, take))
        decisions[p["transaction_id"]] = (customer, applications, left)
    return decisions


_DUCKDB_REFERENCE = r"""
with refs as (
    select transaction_id, lpad(ltrim(digits, '0'), 7, '0') as invoice_no
    from (select transaction_id,
                 coalesce(nullif(regexp_extract(invoice_id,
                                                '^\s*(?i:inv(?:oice)?\s*[-#:.]?\s*|#\s*)?([0-9]{1,10})\s*$', 1), ''),
                          nullif(regexp_extract(description, '(?i)invoice\s*[-#:]?\s*([0-9]{1,10})', 1), ''))
                 as digits
          from payments)
    where length(ltrim(digits, '0')) between 1 and 7
),
owner as (
    select invoice_no, min(customer_no) as customer_no from open_invoices
    group by invoice_no having count(distinct customer_no) = 1
),
by_email as (
    select lower(trim(email)) as email, min(customer_no) as customer_no from customers
    group by 1 having count(*) = 1
),
by_name as (
    select upper(name) as name, zip_code, min(customer_no) as customer_no from customers
    group by 1, 2 having count(*) = 1
),
payer as (
    select p.transaction_id, p.amount_cents, r.invoice_no,
           coalesce(v.customer_no, o.customer_no, e.customer_no, n.customer_no) as customer_no
    from payments p
    left join refs r on r.transaction_id = p.transaction_id
    left join cards v on v.credit_card_guid = nullif(p.customer_id, '')
    left join owner o on o.invoice_no = r.invoice_no
    left join by_email e on e.email = nullif(lower(trim(p.email)), '')
    left join by_name n on n.name = upper(p.billing_name) and n.zip_code = left(p.billing_zip, 5)
),
by_amount as (
    select customer_no, balance_cents, min(invoice_no) as invoice_no from open_invoices
    group by 1, 2 having count(*) = 1
)
select payer.transaction_id, payer.customer_no, i.invoice_no, least(payer.amount_cents, i.balance_cents) as amount_cents
from payer join open_invoices i on i.invoice_no = payer.invoice_no and i.customer_no = payer.customer_no
union all
select payer.transaction_id, payer.customer_no, a.invoice_no, payer.amount_cents
from payer join by_amount a on a.customer_no = payer.customer_no and a.balance_cents = payer.amount_cents
where payer.invoice_no is null
"""


def run_duckdb_sql(data: dict[str, pd.DataFrame]) -> dict:
    """The SQL reference: references normalized, customer resolved and invoices joined in one query."""
    import duckdb

    with duckdb.connect(":memory:") as connection:
        for name in ("payments", "customers", "cards", "open_invoices"):
            connection.register(name, data[name])
        applications = connection.execute(_DUCKDB_REFERENCE).df()
    return {"applied": int(applications["transaction_id"].nunique()), "exceptions": None}


IMPLEMENTATIONS = {"vectorized": run_vectorized, "duckdb_sql": run_duckdb_sql, "row_by_row": run_row_by_row}


def measure_one(implementation: str, payments: int, invoices: int, repeats: int = 3) -> dict:
    data = synthetic(payments, invoices)
    import duckdb  # noqa: F401  -- module imports are set-up, not part of the timed run
    import rapidfuzz  # noqa: F401

    import sage_paytrace_pipeline.domain.matching  # noqa: F401
    rss_data = _input_only_rss()
    seconds, cpu_seconds, phases = [], [], []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = IMPLEMENTATIONS[implementation](data)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)  # all threads: steadier than wall on a busy machine
        phases.append(outcome.pop("phases", {}))
    peak = _peak_rss()
    return {"implementation": implementation, "payments": payments, "invoices": invoices,
            "seconds": statistics.median(seconds), "runs": seconds, "cpu_seconds": statistics.median(cpu_seconds),
            "phases": {name: statistics.median(run[name] for run in phases) for name in phases[0]},
            "peak_mib": peak, "data_mib": rss_data, **outcome}


def _input_only_rss() -> float:
    """MiB held once the input is built, with the peak counted from here on: building the synthetic
    frames makes temporaries the pipeline's step never has (its inputs arrive loaded by the IO
    manager), so they are freed, handed back to the system and left out of the peak (Linux resets
    the process's high-water mark, VmHWM, when 5 is written to /proc/self/clear_refs)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:  # not Linux/glibc: the peak then includes building the input
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _status_mib("VmRSS")


def _peak_rss() -> float:
    try:
        return _status_mib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f"{field} not in /proc/self/status")


def _measure_in_subprocess(implementation: str, payments: int, invoices: int, repeats: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_matching", "--one", implementation, str(payments),
                          "--invoices", str(invoices), "--repeats", str(repeats)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def run(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), invoices: int = 1_000_000,
        row_by_row_up_to: int = 100_000, repeats: int = 3, echo=print) -> dict:
    """Every implementation at every size (row-by-row up to `row_by_row_up_to`), with ratios of this run."""
    figures: dict = {"benchmark": "matching", "load_start": _load(), "repeats": repeats, "invoices": invoices,
                     "results": [], "ratios": []}
    echo(f"load average at start: {figures['load_start']}")
    echo("| implementation | payments | open invoices | median s | runs s | CPU s | phases s | payments/s "
         "| peak RSS MiB | of which data MiB | applied | exceptions |")
    echo("|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|")
    by_size: dict[int, dict[str, dict]] = {}
    for size in sizes:
        for implementation in IMPLEMENTATIONS:
            if implementation == "row_by_row" and size > row_by_row_up_to:
                continue
            r = _measure_in_subprocess(implementation, size, invoices, repeats)
            figures["results"].append(r)
            by_size.setdefault(size, {})[implementation] = r
            exceptions = "—" if r["exceptions"] is None else f"{r['exceptions']:,}"
            phases = ", ".join(f"{name} {value:.2f}" for name, value in r["phases"].items()) or "—"
            echo(f"| {implementation} | {size:,} | {invoices:,} | {r['seconds']:.2f} | "
                 f"{', '.join(f'{s:.2f}' for s in r['runs'])} | {r['cpu_seconds']:.2f} | {phases} "
                 f"| {size / r['seconds']:,.0f} | {r['peak_mib']:,.0f} "
                 f"| {r['data_mib']:,.0f} | {r['applied']:,} | {exceptions} |")
    echo("")
    echo("| payments | vectorized / duckdb_sql (target <= 3) | row_by_row / vectorized (goal >= 50) |")
    echo("|---:|---:|---:|")
    for size, results in by_size.items():
        vectorized = results["vectorized"]["seconds"]
        ratio = {"payments": size, "vectorized_over_duckdb_sql": vectorized / results["duckdb_sql"]["seconds"],
                 "row_by_row_over_vectorized": (results["row_by_row"]["seconds"] / vectorized
                                                if "row_by_row" in results else None)}
        figures["ratios"].append(ratio)
        row_by_row = ratio["row_by_row_over_vectorized"]
        echo(f"| {size:,} | {ratio['vectorized_over_duckdb_sql']:.1f}x | "
             f"{'not run' if row_by_row is None else f'{row_by_row:.1f}x'} |")
    figures["load_end"] = _load()
    echo(f"load average at end: {figures['load_end']}")
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--row-by-row-up-to", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("IMPLEMENTATION", "PAYMENTS"))
    args = parser.parse_args(argv)
    if args.one:
        figures = measure_one(args.one[0], int(args.one[1]), args.invoices, args.repeats)
        print(json.dumps(figures))
        return figures
    return run(tuple(args.sizes), args.invoices, args.row_by_row_up_to, args.repeats)


if __name__ == "__main__":
    main()
