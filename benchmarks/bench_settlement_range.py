"""Settlement over a long range, as the range run's steps work it: CPU seconds a day and what grows.

    python -m benchmarks.bench_settlement_range [--days 260] [--per-day 1000] [--save FILE] [--compare FILE]

A merchant with `per-day` card sales each business day in daily batches (four brands, Amex funded on
its own, 2.5 % daily discount), every sale a confirmed Sage receipt, every deposit one business day
later, with what makes a real statement: deposits a few days late, short deposits booked to the
processor receivable and paid later by a credit of the owed amount, monthly fee debits, chargebacks,
credits nobody explains. Measured (CPU, `time.process_time`):

- `settlement_reconciliation`: each day's window (`range_window_inputs`) reconciled by `settle_day`;
- the `clearing_nets_to_zero` check of `sage_gl_postings`: each day's deposited batches against one
  read of the clearing accounts' GL lines (a year of receipts);
- the card brands of `settlement_batches`: every day's batch transactions looked up in the range's one
  brand export (`brands_for_each`; the export itself, read and parsed once, is not counted).

`--save FILE` pickles every day's outputs; `--compare FILE` says whether they equal a saved run's
(the same deposits matched, fees, entries, exceptions, clearing nets).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from datetime import timedelta

import numpy as np
import pandas as pd

BRANDS = np.array(["VISA", "MASTERCARD", "DISCOVER", "AMEX"])
CLEARING = "1060-00"
RECEIVABLE = "1290-00"


def synthetic_year(days: int, per_day: int, seed: int = 3, *, late_share: float = 0.05,
                   short_share: float = 0.02) -> dict:
    """The range's batches, batch transactions, bank lines and Sage's short deposits booked (as the assets hold
    them); `late_share` of the deposits 1-3 business days late, `short_share` 5 % short, the rest paid later."""
    rng = np.random.default_rng(seed)
    closed = pd.bdate_range("2025-01-02", periods=days)
    batch = np.repeat(np.arange(1, days + 1), per_day)
    brand = BRANDS[rng.integers(0, 4, days * per_day)]
    amount = rng.integers(500, 50_000, days * per_day).astype("int64")
    transactions = pd.DataFrame({"transaction_id": np.arange(1, days * per_day + 1, dtype="int64"),
                                 "batch_number": batch.astype("int64"), "transaction_type": "SALE",
                                 "card_brand": brand, "amount_cents": amount, "status": "SETTLED",
                                 "business_date": closed[batch - 1]})
    totals = transactions.groupby(["batch_number", "card_brand"])["amount_cents"].agg(["count", "sum"]).reset_index()
    batches = pd.DataFrame({"business_date": closed[totals["batch_number"] - 1], "batch_number": totals["batch_number"],
                            "brand": totals["card_brand"], "sales_count": totals["count"],
                            "sales_cents": totals["sum"], "refund_count": 0, "refund_cents": 0})
    group = np.where(batches["brand"] == "AMEX", "AMEX", "CARDS")
    funded = batches.assign(group=group).groupby(["batch_number", "group"])["sales_cents"].sum().reset_index()
    deposit = (funded["sales_cents"] - funded["sales_cents"] * 250 // 10_000).to_numpy()
    late = rng.integers(1, 4, len(funded)) * (rng.random(len(funded)) < late_share)
    posted = pd.bdate_range(closed[0], periods=days + 10)[funded["batch_number"].to_numpy() + late]
    short = rng.random(len(funded)) < short_share  # booked as owed in Sage
    owed = np.where(short, deposit * 5 // 100, 0)
    lines = [pd.DataFrame({"posted_date": posted, "amount_cents": deposit - owed,
                           "description": np.where(funded["group"] == "AMEX", "AMEX SETTLEMENT", "PAYTRACE DEPOSIT")})]
    paid_later = np.flatnonzero(short)
    lines.append(pd.DataFrame({"posted_date": posted[paid_later] + pd.Timedelta(days=9),
                               "amount_cents": owed[paid_later], "description": "PAYTRACE ADJUSTMENT"}))
    twice = paid_later[::3]  # paid twice, the second credit months later: neither pays it
    lines.append(pd.DataFrame({"posted_date": posted[twice] + pd.Timedelta(days=75),
                               "amount_cents": owed[twice], "description": "PAYTRACE ADJUSTMENT"}))
    month_ends = pd.date_range(closed[0], closed[-1], freq="BME")
    lines.append(pd.DataFrame({"posted_date": month_ends, "amount_cents": -rng.integers(2_000, 9_000, len(month_ends)),
                               "description": "PAYTRACE MONTHLY FEES"}))
    chargebacks = closed[rng.integers(0, days, max(days // 10, 1))]
    lines.append(pd.DataFrame({"posted_date": chargebacks, "description": "PAYTRACE CHGBK",
                               "amount_cents": -rng.integers(1_000, 20_000, len(chargebacks))}))
    wires = closed[rng.integers(0, days, max(days // 20, 1))]
    lines.append(pd.DataFrame({"posted_date": wires, "amount_cents": rng.integers(10_000, 90_000, len(wires)),
                               "description": "WIRE IN"}))
    bank = pd.concat(lines, ignore_index=True).sort_values("posted_date", kind="stable", ignore_index=True)
    bank = bank.assign(source_file="bench.bai", source_line=np.arange(1, len(bank) + 1), account_id="000123456789",
                       type_code="165", bank_reference=[f"R{i}" for i in range(len(bank))], sha256="0" * 64,
                       currency="USD")
    bank["posted_date"] = bank["posted_date"].dt.date
    short_owed = pd.DataFrame({"batch_number": funded["batch_number"].to_numpy()[paid_later].astype("int64"),
                               "funding_group": funded["group"].to_numpy()[paid_later].astype(object),
                               "owed_cents": owed[paid_later].astype("int64"),
                               "booked_date": [day.date() for day in posted[paid_later]]})
    return {"days": [day.date() for day in closed], "batches": batches, "transactions": transactions, "bank": bank,
            "short_owed": short_owed}


def _config():
    from sage_paytrace_pipeline.config import PipelineConfig
    from sage_paytrace_pipeline.domain.settlement import SettlementPolicy

    return PipelineConfig(settlement=SettlementPolicy(discount_method="daily", amex_funds_separately=True))


def _books(short_owed: pd.DataFrame):
    from sage_paytrace_pipeline.domain.settlement import GlAccountMap, missing_deposits_booked, parked_sales
    from sage_paytrace_pipeline.settlement.day import SageBooks

    accounts = GlAccountMap(bank="1010-00", merchant_fees="6150-00", refunds="4950-00", chargebacks="6160-00",
                            processor_receivable=RECEIVABLE, clearing_by_brand=dict.fromkeys(BRANDS, CLEARING),
                            active_accounts=frozenset({"1010-00", "6150-00", "4950-00", "6160-00", CLEARING,
                                                       RECEIVABLE}))
    return SageBooks([], accounts, parked=parked_sales([], []), missing=missing_deposits_booked([], []),
                     short_owed=short_owed)


def reconcile_range(data: dict) -> tuple[list, float]:
    """Each day settled as `settlement_reconciliation` settles a range's days; CPU seconds."""
    from sage_paytrace_pipeline.settlement.day import range_window_inputs, settle_day

    config, books = _config(), _books(data["short_owed"])
    days, transactions = data["days"], data["transactions"]
    as_of = days[-1] + timedelta(days=10)
    receipts = pd.DataFrame({"transaction_id": transactions["transaction_id"],
                             "amount_cents": transactions["amount_cents"], "payment_type": "VISA",
                             "state": "confirmed", "posting_date": transactions["business_date"].dt.date})
    by_batch = receipts.groupby(transactions["batch_number"].to_numpy()).indices
    started = time.process_time()
    settled = []
    windows = range_window_inputs(days, config.settlement, data["batches"], transactions, data["bank"],
                                  short_owed=books.short_owed)
    for day, inputs in zip(days, windows, strict=True):
        own = np.concatenate([by_batch[b] for b in inputs.transactions["batch_number"].unique()] or [[]]).astype(int)
        settled.append(settle_day(day, config, inputs, receipts.iloc[np.sort(own)].reset_index(drop=True),
                                  reader=None, as_of=as_of, books=books))  # type: ignore[arg-type]
    return settled, time.process_time() - started


class _Reader:
    """Sage's GL detail of the clearing account: a receipt's debit per transaction, the entries' credits."""

    def __init__(self, gl: list[dict]) -> None:
        self.gl = gl

    def gl_accounts(self):
        from sage_paytrace_pipeline.sage100.models import GlAccount

        return [GlAccount(account_key=f"K{account}", account=account, description=account, status="A")
                for account in ("1010-00", "6150-00", "4950-00", "6160-00", CLEARING, RECEIVABLE)]

    def rows_where(self, table: str, column: str, value: str, columns: list[str]) -> list[dict]:
        return [row for row in self.gl if row[column] == value]


def clearing_world(data: dict, settled: list) -> tuple[_Reader, dict]:
    """Sage's clearing GL after the range posted (each receipt's debit, each entry's clearing lines) and, per
    day, what `sage_gl_postings` checks it with: the day's posted entries, journal lines, batch transactions."""
    from sage_paytrace_pipeline.defs.ranges import days_of

    days, transactions = data["days"], data["transactions"]
    key = f"K{CLEARING}"
    gl = [{"AccountKey": key, "SourceJournal": "CR", "DocumentNo": f"C{t}", "DebitAmount": f"{a / 100:.2f}",
           "CreditAmount": "0.00", "PostingComment": f"Card receipt {t}"}
          for t, a in zip(transactions["transaction_id"].tolist(), transactions["amount_cents"].tolist())]
    by_day = days_of(transactions, days)
    checked = {}
    for number, (day, day_settled) in enumerate(zip(days, settled, strict=True)):
        entries, lines = day_settled.entries, day_settled.lines
        entry_no = {reference: f"E{number:04d}{i:03d}" for i, reference in enumerate(entries["reference"])}
        for row in lines[lines["account"] == CLEARING].itertuples():
            gl.append({"AccountKey": key, "SourceJournal": "GJ", "DocumentNo": entry_no[row.reference],
                       "DebitAmount": f"{max(row.debit_cents, 0) / 100:.2f}",
                       "CreditAmount": f"{max(row.credit_cents, 0) / 100:.2f}", "PostingComment": row.reference})
        posted = entries[["reference", "kind", "batch_number", "funding_group"]].assign(
            entry_no=entries["reference"].map(entry_no))
        checked[day] = (posted, lines, by_day[day])
    return _Reader(gl), checked


def clearing_range(data: dict, settled: list) -> tuple[dict, float]:
    """The `clearing_nets_to_zero` check of each day, as `sage_gl_postings` runs it for a range; CPU seconds."""
    from sage_paytrace_pipeline.defs.settlement import checks
    from sage_paytrace_pipeline.settlement.ledger import ClearingLedger

    reader, checked = clearing_world(data, settled)
    all_lines = pd.concat([lines for _, lines, _ in checked.values()], ignore_index=True)
    started = time.process_time()
    ledger = ClearingLedger(reader, all_lines)  # type: ignore[arg-type]
    results = {day: checks.clearing_nets_to_zero(reader, lines, posted, transactions, ledger)  # type: ignore[arg-type]
               for day, (posted, lines, transactions) in checked.items()}
    seconds = time.process_time() - started
    return {day: (result.passed, dict(result.metadata or {}).get("net_cents_by_batch")) for day, result in
            results.items()}, seconds


def brands_range(data: dict) -> tuple[list[pd.DataFrame], float]:
    """`brands_for_each` over the days' batch transactions (brands unknown, as the batch listing masks cards)
    with a stand-in export of every transaction of the range; CPU seconds."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from sage_paytrace_pipeline.settlement.batches import brands_for_each

    transactions = data["transactions"]
    records = [SimpleNamespace(transaction_id=t, card=SimpleNamespace(brand=brand))
               for t, brand in zip(transactions["transaction_id"].tolist(), transactions["card_brand"].tolist())]

    class Client:
        zone = ZoneInfo("America/Los_Angeles")

        def read_transactions(self, *_dates, include_bin: bool, parsed=None, only_ids=None) -> SimpleNamespace:
            return SimpleNamespace(transactions=records)

    created = transactions["business_date"].dt.tz_localize("America/Los_Angeles") + pd.Timedelta(hours=12)
    unknown = transactions.assign(card_brand="UNKNOWN", created_at=created.dt.tz_convert("UTC"))
    frames = [frame.reset_index(drop=True) for _, frame in unknown.groupby("batch_number", sort=True)]
    started = time.process_time()
    branded = brands_for_each(Client(), frames, parsed=object())  # type: ignore[arg-type]
    return branded, time.process_time() - started


def outputs(settled: list, nets: dict) -> dict:
    frames = ("expected", "matches", "reconciliation", "entries", "lines", "exceptions", "refunds")
    return {"settled": [{name: getattr(day, name).reset_index(drop=True) for name in frames} for day in settled],
            "nets": {str(day): (passed, getattr(value, "data", value)) for day, (passed, value) in nets.items()}}


def same(left: dict, right: dict) -> bool:
    if left["nets"] != right["nets"] or left.get("brands") != right.get("brands", left.get("brands")):
        return False
    if len(left["settled"]) != len(right["settled"]):
        return False
    for mine, theirs in zip(left["settled"], right["settled"], strict=True):
        for name, frame in mine.items():
            try:
                pd.testing.assert_frame_equal(frame, theirs[name])
            except AssertionError as difference:
                print(f"{name}: {difference}")
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=260)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--save")
    parser.add_argument("--compare")
    args = parser.parse_args()
    data = synthetic_year(args.days, args.per_day)
    settled, reconcile_s = reconcile_range(data)
    nets, clearing_s = clearing_range(data, settled)
    branded, brands_s = brands_range(data)
    done = {**outputs(settled, nets), "brands": [frame["card_brand"].tolist() for frame in branded]}
    report: dict[str, object] = {
        "days": args.days, "transactions": len(data["transactions"]), "bank_lines": len(data["bank"]),
        "reconciliation_cpu_s": round(reconcile_s, 2), "per_day": round(reconcile_s / args.days, 4),
        "clearing_check_cpu_s": round(clearing_s, 2), "clearing_per_day": round(clearing_s / args.days, 4),
        "matched": int(sum((day.expected["deposit_status"] == "matched").sum() for day in settled)),
        "entries": int(sum(len(day.entries) for day in settled)),
        "exceptions": int(sum(len(day.exceptions) for day in settled)),
        "clearing_failing_days": sum(1 for passed, _ in nets.values() if not passed),
        "brands_cpu_s": round(brands_s, 2), "brands_per_day": round(brands_s / args.days, 4)}
    if args.save:
        with open(args.save, "wb") as target:
            pickle.dump(done, target)
    if args.compare:
        with open(args.compare, "rb") as source:
            report["same_as_saved"] = same(done, pickle.load(source))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
