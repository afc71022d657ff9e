"""The GL entries of each case and stage: what moves out of the account settlement booked it to.

The settlement entries already book the processor's money: a chargeback netted in a deposit or
debited on its own is Dr ``gl_accounts.chargebacks`` / Cr card clearing or bank (domain/settlement/
journal.py). A case's entries move it from there (``settled``) to where the merchant keeps it, so
the money is never booked twice and the net of both is the reference's pattern (card-accounting
§3.4): chargeback Dr chargeback receivable (or expense) / Cr clearing or bank, plus the case fee
Dr fee expense; won: the reversal back; lost/accepted: the receivable to the loss account.

One entry per (case, stage) that moves money, its reference ``PT-D<case>-<stage code>`` (Sage's
writer posts a reference once: a re-run posts nothing). Lines whose two sides are the same account
cancel and are left out; an entry left with no line is not made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.disputes.stages import CHARGEBACK, CODES
from sage_paytrace_pipeline.domain.ledger import JOURNAL_REFERENCE_LENGTH

POSTING_COLUMNS = ["reference", "case_number", "stage", "posting_date", "line", "account", "debit_cents",
                   "credit_cents", "comment"]


@dataclass(frozen=True)
class DisputeAccounts:
    """Formatted Sage accounts: `settled` where settlement booked the processor's debit, `chargeback`
    the receivable (or expense) a case is kept in, `fee` the case fee expense, `loss` where a lost case
    goes (None: it stays where `chargeback` put it, the expense model)."""

    settled: str
    chargeback: str
    fee: str
    loss: str | None = None


def posting_reference(case_number: str, stage: str) -> str:
    """``PT-D<case>-<code>``; a case number too long for the 30-character reference is hashed."""
    reference = f"PT-D{case_number}-{CODES[stage]}"
    if len(reference) <= JOURNAL_REFERENCE_LENGTH:
        return reference
    return f"PT-D{hashlib.sha256(case_number.encode()).hexdigest()[:20]}-{CODES[stage]}"


def plan_postings(history: pd.DataFrame, accounts: DisputeAccounts, *, case_fee_cents: int = 0) -> pd.DataFrame:
    """Journal lines (POSTING_COLUMNS) of every stage that moves money; debit == credit per reference."""
    fee = history["fee_cents"].fillna(case_fee_cents).astype("int64")
    fee = pd.Series(np.where((history["stage"] == CHARGEBACK) & (history["taken_cents"] > 0), fee, 0),
                    index=history.index)
    legs = [
        ("taken_cents", accounts.chargeback, accounts.settled, "Chargeback"),
        ("fee", accounts.fee, accounts.settled, "Chargeback fee"),
        ("returned_cents", accounts.settled, accounts.chargeback, "Chargeback reversed (won)"),
        ("written_off_cents", accounts.loss, accounts.chargeback, "Chargeback lost"),
    ]
    frame = history.assign(fee=fee)
    parts = []
    for amount_column, debit_account, credit_account, what in legs:
        if debit_account is None or debit_account == credit_account:
            continue
        moving = frame[frame[amount_column] > 0]
        if moving.empty:
            continue
        comment = what + " " + moving["case_number"].astype(str)
        for account, debit in ((debit_account, True), (credit_account, False)):
            amounts = moving[amount_column].astype("int64").to_numpy()
            parts.append(pd.DataFrame({
                "reference": [posting_reference(c, s) for c, s in zip(moving["case_number"], moving["stage"])],
                "case_number": moving["case_number"].to_numpy(), "stage": moving["stage"].to_numpy(),
                "posting_date": moving["activity_date"].to_numpy(), "account": account,
                "debit_cents": amounts if debit else 0, "credit_cents": 0 if debit else amounts,
                "comment": comment.to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=POSTING_COLUMNS)
    lines = pd.concat(parts, ignore_index=True).sort_values(["reference", "credit_cents"], kind="stable")
    lines["line"] = lines.groupby("reference").cumcount() + 1
    return lines[POSTING_COLUMNS].reset_index(drop=True)
