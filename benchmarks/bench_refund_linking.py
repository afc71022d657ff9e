"""PayTrace refunds in a year-long range run: CPU time of `post_paytrace_refunds` a day, late in the year.

    .venv/bin/python -m benchmarks.bench_refund_linking [--days 365] [--payers 250] [--sales-per-day 960]
        [--refunds-per-day 30] [--blank-invoice 0.1] [--measured 10] [--check]

Synthetic warehouse (numpy, seeded): every day `sales-per-day` approved sales, 96% by one of
`payers` vault customers (a card of their own), all but `blank-invoice` (10%) with an invoice id of
their own; `refunds-per-day` refunds of earlier sales, copying the sale's invoice id, customer and
card as PayTrace does, 60% in full, the rest 30%. A refund without an invoice id is linked by its
customer alone: nearly every sale of that customer fits it, so it stays ambiguous and is carried
over unconfirmed every day after (the year's growth). The range run is the last `measured` days,
with the whole year stored (the run's later days hidden from each day, as the asset does); the
refunds of the days before the range are in the log (linked ones confirmed, the others not there).
Sage is a fake (`FakeSage`): every sale's receipt is there, so a linked refund is written and
confirmed the same day. Prints the CPU seconds a day
(time.process_time; the first day apart, where a range run first meets the carried refunds) and the
input sizes; with `--check` also the links' digest, to compare two checkouts.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from contextlib import nullcontext
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.refunds.paytrace_to_sage import (
    RefundFlowSettings,
    WarehouseHistory,
    post_paytrace_refunds,
)
from sage_paytrace_pipeline.refunds.posting_log import RefundIntent, RefundLog

FIRST = date(2026, 1, 1)


def synthetic_year(days: int, payers: int, sales_per_day: int, refunds_per_day: int, blank_invoice: float,
                   seed: int = 7) -> pd.DataFrame:
    """The warehouse's sales and refunds of `days` days (columns of `warehouse_transactions`)."""
    rng = np.random.default_rng(seed)
    sales = days * sales_per_day
    day = np.repeat(np.arange(days), sales_per_day)
    payer = rng.integers(0, payers, sales)
    vault = rng.random(sales) < 0.96
    customer = np.where(vault, np.char.add("C", payer.astype(str)), "")
    card = np.where(vault, np.char.zfill((payer * 37 % 10_000).astype(str), 4),
                    np.char.zfill(rng.integers(0, 10_000, sales).astype(str), 4))
    numbers = np.char.add("INV-", np.arange(100_000, 100_000 + sales).astype(str))
    invoice = np.where(rng.random(sales) >= blank_invoice, numbers, "")
    created = (pd.Timestamp(FIRST, tz="UTC") + pd.to_timedelta(day, unit="D")
               + pd.to_timedelta(rng.integers(8 * 3600, 20 * 3600, sales), unit="s"))
    frame = pd.DataFrame({
        "transaction_id": np.arange(1_000_000, 1_000_000 + sales), "transaction_type": "SALE", "status": "SETTLED",
        "amount_cents": rng.integers(1_000, 500_000, sales), "invoice_id": invoice, "customer_id": customer,
        "card_last4": card, "created_at": created, "approval_code": "A1", "business_date": day})
    refund_days = np.repeat(np.arange(2, days), refunds_per_day)
    # of a sale sold at least a day before
    of_sale = np.array([rng.integers(0, d * sales_per_day - sales_per_day) for d in refund_days])
    sold = frame.iloc[of_sale]
    full = rng.random(len(of_sale)) < 0.6
    refunds = pd.DataFrame({
        "transaction_id": np.arange(5_000_000, 5_000_000 + len(of_sale)), "transaction_type": "REFUND",
        "status": "SETTLED",
        "amount_cents": np.where(full, sold["amount_cents"], sold["amount_cents"] * 3 // 10),
        "invoice_id": sold["invoice_id"].to_numpy(), "customer_id": sold["customer_id"].to_numpy(),
        "card_last4": sold["card_last4"].to_numpy(),
        "created_at": (pd.Timestamp(FIRST, tz="UTC") + pd.to_timedelta(refund_days, unit="D")
                       + pd.to_timedelta(rng.integers(9 * 3600, 17 * 3600, len(of_sale)), unit="s")),
        "approval_code": "R1", "business_date": refund_days})
    both = pd.concat([frame, refunds], ignore_index=True)
    both["business_date"] = [FIRST + timedelta(days=int(d)) for d in both["business_date"]]
    return both


class FakeSage:
    """Reader and writer at once: every sale has a receipt paying one invoice of its amount, documents are
    accepted and held (a refund written is read back), in one transaction a day as the demo company's."""

    def __init__(self, sales: pd.DataFrame) -> None:
        self.sale_cents = dict(zip(sales["transaction_id"].tolist(), sales["amount_cents"].tolist(), strict=True))
        self.refunds: set[int] = set()

    def card_refunds_for_transaction_ids(self, ids):
        return [SimpleNamespace(transaction_id=str(i)) for i in ids if int(i) in self.refunds]

    def receipts_for_transaction_ids(self, ids):
        return [SimpleNamespace(transaction_id=str(i), division="00", customer_no="C", payment_type="VISA",
                                lines=[SimpleNamespace(invoice_no=f"{int(i) % 10**7:07d}", invoice_type="IN",
                                                       amount=Decimal(self.sale_cents[int(i)]) / 100)])
                for i in ids if int(i) in self.sale_cents]

    def one_transaction(self):
        return nullcontext()

    def create_credit_memo(self, memo):
        return SimpleNamespace(documents={"InvoiceNo": memo.apply_to_invoice_no})

    def record_card_refund(self, refund):
        self.refunds.add(int(refund.transaction_id))
        return SimpleNamespace(documents={"EntryNo": refund.transaction_id})


def _log_before(log: RefundLog, refunds: pd.DataFrame, first_day: date) -> None:
    """The refunds of the days before the range: keyed by their invoice id confirmed, linked to their sale."""
    keyed = refunds[(refunds["invoice_id"] != "") & (refunds["business_date"] < first_day)]
    with log.one_commit():
        for row in keyed.itertuples(index=False):
            log.record_intent(RefundIntent(transaction_id=int(row.transaction_id), kind="refund",
                                           sale_transaction_id=int(row.transaction_id), division="", customer_no="",
                                           amount_cents=int(row.amount_cents), business_date=row.business_date,
                                           allocations={}))
    log.record_confirmed_many("refund", keyed["transaction_id"].astype("int64").tolist())


def run(days: int, payers: int, sales_per_day: int, refunds_per_day: int, blank_invoice: float, measured: int,
        check: bool) -> dict:
    stored = synthetic_year(days, payers, sales_per_day, refunds_per_day, blank_invoice)
    range_days = [FIRST + timedelta(days=d) for d in range(days - measured, days)]
    connection = duckdb.connect()
    log = RefundLog(connection, "bench")
    is_refund = stored["transaction_type"] == "REFUND"
    _log_before(log, stored[is_refund], range_days[0])
    sage = FakeSage(stored[~is_refund])
    settings = RefundFlowSettings(start_date=FIRST)
    digest = hashlib.sha256()
    started = time.process_time()
    history = WarehouseHistory(stored)
    prepared = time.process_time() - started
    seconds, carried = [], []
    for day in range_days:
        transactions = stored[stored["business_date"] == day]
        begin = time.process_time()
        outcome = post_paytrace_refunds(transactions, history.without_days([d for d in range_days if d > day]),
                                        day=day, settings=settings, reader=sage, writer=sage, log=log)
        seconds.append(time.process_time() - begin)
        carried.append(len(outcome.links) - len(outcome.selected))
        digest.update(pd.util.hash_pandas_object(outcome.links.astype(str), index=False).to_numpy().tobytes())
    figures = {"sales": int((~is_refund).sum()), "refunds": int(is_refund.sum()), "payers": payers,
               "sales_per_payer": int((~is_refund).sum() * 0.96 / payers), "range_days": measured,
               "carried_per_day": f"{min(carried)}-{max(carried)}", "prepare_s": round(prepared, 3),
               "cpu_s_per_day": round(sum(seconds) / len(seconds), 3), "first_day_s": round(seconds[0], 3),
               "later_days_s": round(sum(seconds[1:]) / max(len(seconds) - 1, 1), 3)}
    if check:
        figures["links_digest"] = digest.hexdigest()[:16]
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--payers", type=int, default=250)
    parser.add_argument("--sales-per-day", type=int, default=960)
    parser.add_argument("--refunds-per-day", type=int, default=30)
    parser.add_argument("--blank-invoice", type=float, default=0.1)
    parser.add_argument("--measured", type=int, default=10)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.days, args.payers, args.sales_per_day, args.refunds_per_day, args.blank_invoice, args.measured,
                  args.check)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return figures


if __name__ == "__main__":
    main()
