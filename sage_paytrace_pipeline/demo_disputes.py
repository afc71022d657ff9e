"""The demo month's chargebacks (issue 17): the processor's dispute reports beside the bank statements.

Once the bank statements are written, the dispute report files are written from the month's sales
(the warehouse's PayTrace transactions) and the shortfalls the bank netted from deposits ("CHGBK
ADJ"): each netted amount is a case against a sale of that deposit's batch, and around them a
retrieval, a won case, a lost one, a pre-arbitration, a case against a card no sale has and a
malformed file (sandbox/disputes/reports.py). The demo's run plan runs `disputes_job` once, before
the month's settlement run, so settlement's exception for the short deposit names its case; the
flow books each case's stages once in Sage (a re-run posts nothing). The summary's "Disputes:" line
reports it.

An open case is kept in the chargebacks receivable (a lost one goes to the loss account), so each
stage that moves money is a GL entry of its own. The demo keeps `reopen_invoice: false`: a
chargeback stays in the chargeback account instead of re-opening the customer's invoice, so the
month's receipts and applied invoices stay as the daily runs posted them (the other summary lines
do not move because of disputes).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

DISPUTE_REPORT_FOLDER = "dispute_reports"  # under the demo's home, beside bank_statements
# The demo company's accounts (config/example.yaml's disputes comments): with the default (the chargebacks
# expense settlement already debits) a netted chargeback without a fee needs no entry of its own.
CHARGEBACK_RECEIVABLE, LOSS_ACCOUNT = "1250-00", "6170-00"
_SALES = """
    SELECT transaction_id, transaction_type, status, batch_number, business_date, amount_cents, card_brand,
           card_last4, approval_code, invoice_id
    FROM pipeline.paytrace_transactions
    QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY business_date DESC) = 1"""


def demo_disputes_config() -> str:
    """The `disputes:` section the demo appends to its config (everything else at its defaults)."""
    return (f"\ndisputes:                            # README \"Chargebacks\"\n"
            f"  report_folder: {DISPUTE_REPORT_FOLDER}\n"
            f"  chargeback_account: \"{CHARGEBACK_RECEIVABLE}\"     # an open case is a receivable until decided\n"
            f"  loss_account: \"{LOSS_ACCOUNT}\"           # a lost case is written off here\n"
            f"  reopen_invoice: false              # the chargeback stays in the chargeback account\n")


def write_demo_dispute_reports(warehouse: Path, bank_truth: Path, home: Path, *, seed: int) -> dict:
    """The dispute report files for the month's approved sales and the shortfalls the bank netted
    (`bank_truth`, the bank writer's truth.json), into the folder the disputes flow reads; what was
    written (nothing when the month has too few sales)."""
    from sage_paytrace_pipeline.domain.disputes.linking import approved_sales
    from sage_paytrace_pipeline.sandbox.bank.statements import BankTruth
    from sage_paytrace_pipeline.sandbox.disputes import write_dispute_reports

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        transactions = connection.execute(_SALES).df()
    approved = set(approved_sales(transactions)["transaction_id"].astype("int64"))
    sales = transactions[transactions["transaction_id"].astype("int64").isin(approved)
                         & transactions["batch_number"].notna()]
    truth_text = bank_truth.read_text(encoding="utf-8")
    netted = [e for e in BankTruth.model_validate_json(truth_text).planted("short") if e.amount_cents is not None]
    if len(sales) < len(netted) + 4:  # a case each netted shortfall, then four more sales disputed
        return {"files": [], "cases": 0, "note": "too few sales for the dispute reports"}
    truth = write_dispute_reports(sales, netted, home / DISPUTE_REPORT_FOLDER, seed=seed)
    return {"files": [*truth.files, truth.malformed_file], "cases": len(truth.cases),
            "malformed": f"{truth.malformed_file}:{truth.malformed_line}",
            "netted_cases": [case.case_number for case in truth.cases if case.shape == "netted"]}


def dispute_summary(connection: duckdb.DuckDBPyConnection, today: date | None = None) -> dict:
    """What the dispute flow holds after the month: open cases by stage, decided ones by outcome, entries
    booked in Sage, malformed report lines, cases against no known sale, and the open cases' merchant due
    dates (those before `today`, the merchant's date, are overdue; the next one from today on)."""
    def exists(name: str) -> bool:
        return bool(connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                                       "'pipeline' AND table_name = ?", [name]).fetchall()[0][0])

    if not exists("dispute_case_store"):
        return {}
    today = today or date.today()
    cases = connection.execute("SELECT case_number, stage, status, merchant_due_date, link "
                               "FROM pipeline.dispute_case_store ORDER BY case_number").df()
    is_open = cases["status"] == "open"
    posted = connection.execute(
        "SELECT count(*), count(DISTINCT case_number || '/' || stage), count(DISTINCT case_number) "
        "FROM pipeline.dispute_posting_log WHERE state = 'posted'").fetchall()[0] \
        if exists("dispute_posting_log") else (0, 0, 0)
    malformed = connection.execute(
        "SELECT DISTINCT source_ids FROM pipeline.dispute_exceptions "
        "WHERE kind = 'dispute_report_malformed' ORDER BY 1").fetchall() if exists("dispute_exceptions") else []
    due = [day.date() for day in pd.to_datetime(cases.loc[is_open, "merchant_due_date"]).dropna()]
    coming = sorted(day for day in due if day >= today)
    return {"cases": len(cases), "open_by_stage": dict(sorted(Counter(cases.loc[is_open, "stage"]).items())),
            "decided_by_outcome": dict(sorted(Counter(cases.loc[~is_open, "status"]).items())),
            "linked": int((cases["link"] == "linked").sum()), "unknown_sale": int((cases["link"] == "unknown").sum()),
            "entries_posted": int(posted[0]), "stages_posted_twice": int(posted[0] - posted[1]),
            "cases_booked": int(posted[2]), "malformed": [str(row[0]) for row in malformed],
            "overdue": sum(1 for day in due if day < today),
            "next_merchant_due": coming[0].isoformat() if coming else None}


def disputes_line(disputes: dict) -> str:
    if not disputes or not disputes.get("cases"):
        return "  Disputes: off or no dispute report"

    def counts(by: dict) -> str:
        return ", ".join(f"{key} {value}" for key, value in by.items()) or "none"

    malformed = ", ".join(disputes["malformed"]) or "none"
    return (f"  Disputes: {disputes['cases']} cases (open: {counts(disputes['open_by_stage'])}; decided: "
            f"{counts(disputes['decided_by_outcome'])}), {disputes['linked']} linked to their sale, "
            f"{disputes['unknown_sale']} against no known sale; {disputes['entries_posted']} GL entries booked in "
            f"Sage for {disputes['cases_booked']} cases, posted twice {disputes['stages_posted_twice']}; "
            f"malformed report line: {malformed}; open cases past their merchant due date "
            f"{disputes['overdue']}, next merchant due date {disputes['next_merchant_due'] or 'none'}")
