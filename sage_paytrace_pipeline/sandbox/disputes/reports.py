"""Dispute report files for a sandbox's sales, agreeing with the bank statements' netted chargebacks.

Each shortfall the bank writer netted from a deposit ("CHGBK ADJ", BankTruth.planted("short")) is
a partial chargeback of a sale of that deposit's batch, for exactly the amount netted. Around them
the month holds one of each other shape the flow must handle: a retrieval request, a chargeback
won (representment, reversal), one lost, a chargeback won and then pre-arbitrated under a new case
number pointing back to it, a case against a card no sale has, and a malformed file (a date in the
wrong format). Written in the default layout (domain/disputes/report.py) with a preamble and a
trailer, as the processor's exports have, plus `dispute_truth.json` saying what each case is.

Only the netted chargebacks move money in the bank statements; the other cases' debits and
reversals are not written there (the bank writer plans deposits and fee debits only).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from sage_paytrace_pipeline.sandbox.bank.funding import BankEntry

HEADER = ["Case Number", "Original Case Number", "Stage", "Activity Date", "Card Type", "Reason Code", "Reason Text",
          "Case Amount", "Transaction Amount", "Transaction Date", "Account Number", "Authorization Code",
          "Merchant Order Number", "Acquirer Reference Number", "Network Due Date", "Merchant Due Date", "Case Fee"]
TRUTH_FILE = "dispute_truth.json"
_REASONS = {"VISA": ("VI", "13.1", "Merchandise/services not received"),
            "MASTERCARD": ("MC", "4853", "Cardholder dispute"),
            "AMEX": ("AX", "C08", "Goods/services not received"),
            "DISCOVER": ("DI", "RG", "Non-receipt of goods or services")}
_BINS = {"VI": "402155", "MC": "540011", "AX": "371449", "DI": "601100"}
_FEE = "15.00"


class DisputeCase(BaseModel):
    case_number: str
    shape: str  # netted, retrieval, won, lost, pre_arbitration, unknown_sale
    sale_transaction_id: int | None
    amount_cents: int
    stages: list[str]
    netted_batch: int | None = None


class DisputeTruth(BaseModel):
    cases: list[DisputeCase]
    files: list[str]
    malformed_file: str
    malformed_line: int


def write_dispute_reports(sales: pd.DataFrame, netted: Sequence[BankEntry], out: Path, *,
                          seed: int = 17) -> DisputeTruth:
    """Report files under `out` for `sales` (transaction_id, batch_number, business_date, amount_cents,
    card_brand, card_last4, approval_code, invoice_id) and the bank's netted shortfalls."""
    rng = random.Random(seed)
    pool = sales.sort_values("transaction_id").to_dict("records")
    used: set[int] = set()
    first_rows: list[list[str]] = []
    later_rows: list[list[str]] = []
    cases: list[DisputeCase] = []

    def take(batch: int | None = None, at_least: int = 1) -> dict:
        fits = [s for s in pool if int(s["transaction_id"]) not in used and int(s["amount_cents"]) >= at_least
                and (batch is None or s["batch_number"] == batch)]
        sale = rng.choice(fits)
        used.add(int(sale["transaction_id"]))
        return sale

    for k, entry in enumerate(e for e in netted if e.amount_cents is not None):
        shortfall = entry.expected_net_cents - (entry.amount_cents or 0)
        sale = take(entry.batch_numbers[0], shortfall)
        day = entry.posted_date - timedelta(days=1)
        first_rows.append(_row(f"N{k + 1:03d}", "Chargeback", day, sale, shortfall, fee=""))
        cases.append(DisputeCase(case_number=f"N{k + 1:03d}", shape="netted", amount_cents=shortfall,
                                 sale_transaction_id=int(sale["transaction_id"]), stages=["chargeback"],
                                 netted_batch=entry.batch_numbers[0]))
    start = min(pd.to_datetime(sales["business_date"]).dt.date) + timedelta(days=3)
    retrieval, won, lost, pre_arb = take(), take(), take(), take()
    first_rows += [_row("R001", "Retrieval Request", start, retrieval, int(retrieval["amount_cents"])),
                   _row("W001", "Chargeback", start, won, int(won["amount_cents"]), fee=_FEE),
                   _row("L001", "Chargeback", start, lost, int(lost["amount_cents"]), fee=_FEE),
                   _row("P001", "Chargeback", start, pre_arb, int(pre_arb["amount_cents"]), fee=_FEE),
                   _row("U001", "Chargeback", start, {**won, "card_last4": "0000", "invoice_id": ""},
                        int(won["amount_cents"]), fee=_FEE)]
    later = start + timedelta(days=10)
    later_rows += [_row("W001", "Representment", later, won, int(won["amount_cents"]), due=False),
                   _row("W001", "Won", later + timedelta(days=7), won, int(won["amount_cents"]), due=False),
                   _row("L001", "Lost", later + timedelta(days=7), lost, int(lost["amount_cents"]), due=False),
                   _row("P001", "Representment", later, pre_arb, int(pre_arb["amount_cents"]), due=False),
                   _row("P001", "Won", later + timedelta(days=5), pre_arb, int(pre_arb["amount_cents"]), due=False),
                   _row("P002", "Pre-Arbitration", later + timedelta(days=9), pre_arb, int(pre_arb["amount_cents"]),
                        original="P001")]
    shapes: list[tuple[str, str, dict | None, list[str]]] = [
        ("R001", "retrieval", retrieval, ["retrieval"]), ("W001", "won", won, ["chargeback", "representment", "won"]),
        ("L001", "lost", lost, ["chargeback", "lost"]),
        ("P001", "pre_arbitration", pre_arb, ["chargeback", "representment", "won"]),
        ("P002", "pre_arbitration", pre_arb, ["pre_arbitration"]), ("U001", "unknown_sale", None, ["chargeback"])]
    for number, shape, disputed, stages in shapes:
        cases.append(DisputeCase(case_number=number, shape=shape, amount_cents=int((disputed or won)["amount_cents"]),
                                 sale_transaction_id=int(disputed["transaction_id"]) if disputed else None,
                                 stages=stages))
    out.mkdir(parents=True, exist_ok=True)
    first_name, later_name, bad_name = f"disputes_{start}.csv", f"disputes_{later}.csv", f"disputes_{later}_bad.csv"
    (out / first_name).write_text(_file(first_rows, start), encoding="utf-8")
    (out / later_name).write_text(_file(later_rows, later), encoding="utf-8")
    bad = [list(r) for r in later_rows[:2]]
    bad[1][3] = later.isoformat()  # 2026-11-13 where the layout says 11/13/2026
    (out / bad_name).write_text(_file(bad, later), encoding="utf-8")
    truth = DisputeTruth(cases=cases, files=[first_name, later_name], malformed_file=bad_name, malformed_line=5)
    (out / TRUTH_FILE).write_text(truth.model_dump_json(indent=2), encoding="utf-8")
    return truth


def _row(case: str, stage: str, day: date, sale: dict, cents: int, *, original: str = "", fee: str = "",
         due: bool = True) -> list[str]:
    card_type, code, text = _REASONS.get(str(sale.get("card_brand") or "VISA").upper(), _REASONS["VISA"])
    sold = pd.Timestamp(sale["business_date"]).date()
    return [case, original, stage, _us(day), card_type, code, text, f"({cents // 100}.{cents % 100:02d})"
            if stage in ("Chargeback", "Pre-Arbitration") else f"{cents // 100}.{cents % 100:02d}",
            f"{int(sale['amount_cents']) // 100}.{int(sale['amount_cents']) % 100:02d}", _us(sold),
            f"{_BINS[card_type]}XXXXXX{sale['card_last4']}", str(sale.get("approval_code") or ""),
            str(sale.get("invoice_id") or ""), f"74{sum(map(ord, case)) * 7919:020d}",
            _us(day + timedelta(days=30)) if due else "", _us(day + timedelta(days=20)) if due else "", fee]


def _us(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def _file(rows: list[list[str]], day: date) -> str:
    buffer = io.StringIO()
    buffer.write(f"Report Name=Chargeback Detail,Merchant=000123456789\nReport Date={_us(day)}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    buffer.write(f"Total Records={len(rows)},\nEND OF REPORT\n")
    return buffer.getvalue()
