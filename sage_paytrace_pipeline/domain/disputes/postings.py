"""The GL entries of each case and stage: what moves out of the account settlement booked it to.

The settlement entries already book the processor's money: a chargeback netted in a deposit or
debited on its own is Dr ``gl_accounts.chargebacks`` / Cr card clearing or bank (domain/settlement/
journal.py). A case's entries move it from there (``settled``) to where the merchant keeps it, so
the money is never booked twice and the net of both is the reference's pattern (card-accounting
§3.4): chargeback Dr chargeback receivable (or expense) / Cr clearing or bank, plus the case fee
Dr fee expense; won: the reversal back; lost/accepted: the receivable to the loss account.
A won case's money is owed by the processor until its credit reaches the bank: the won leg debits
the processor receivable (`owed`, when configured), which settlement's `PT-CR…` entry for the bank
credit then clears (Dr bank / Cr processor receivable), so the receivable nets to zero.

With `disputes.reopen_invoice` a stage flagged `reopen` (its chain's card receipt reversed in Sage,
the invoice open again; application layer disputes/posting.py) keeps the case in the customer's
invoice instead: Sage's reversal is Dr AR / Cr card clearing, so the chargeback leg is Dr clearing /
Cr settled (clearing nets to zero; the net of all three is Dr AR / Cr bank or clearing). A won
stage of such a chain is re-applied by a new receipt (Dr clearing / Cr AR), so its leg is Dr settled
/ Cr clearing; lost or accepted leaves the invoice open (no write-off leg). The fee is the same.

Under a currency conversion (README "Currencies") the stages come converted (domain/disputes/
currency.py): the legs on the chargeback receivable, the loss account and card clearing take the
sale's money as Sage holds it (the sale's rate), the legs on chargebacks and the processor
receivable what the processor moved (the activity day's rate), the fee that day's rate; what the
two sides leave is one line on the exchange difference account. Each line keeps both amounts and
its rate.

One entry per (case, stage) that moves money, its reference ``PT-D<case>-<stage code>`` (Sage's
writer posts a reference once: a re-run posts nothing). Lines whose two sides are the same account
cancel and are left out; an entry left with no line is not made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.currency import FX_RATE
from sage_paytrace_pipeline.domain.disputes.currency import DAY_RATE, FEE_SAGE, SALE_RATE
from sage_paytrace_pipeline.domain.disputes.stages import CHARGEBACK, CODES
from sage_paytrace_pipeline.domain.ledger import JOURNAL_REFERENCE_LENGTH

POSTING_COLUMNS = ["reference", "case_number", "stage", "posting_date", "line", "account", "debit_cents",
                   "credit_cents", "comment"]
# Under a currency conversion each line also keeps its PayTrace amount and the rate it was converted at.
PAYTRACE_DEBIT, PAYTRACE_CREDIT = "paytrace_debit_cents", "paytrace_credit_cents"
CONVERTED_COLUMNS = [*POSTING_COLUMNS, PAYTRACE_DEBIT, PAYTRACE_CREDIT, FX_RATE]
BOOK, PROCESSOR, FEE = "_book", "_processor", "_sage"  # the suffixes of the converted amount columns


@dataclass(frozen=True)
class DisputeAccounts:
    """Formatted Sage accounts: `settled` where settlement booked the processor's debit, `chargeback`
    the receivable (or expense) a case is kept in, `fee` the case fee expense, `loss` where a lost case
    goes (None: it stays where `chargeback` put it, the expense model)."""

    settled: str
    chargeback: str
    fee: str
    loss: str | None = None
    clearing: str | None = None  # the card clearing account Sage's receipt reversal credits (reopen)
    # What the processor owes between a won case and its credit in the bank (gl_accounts.processor_receivable;
    # settlement's `PT-CR…` entry credits it when the credit arrives). None: the won leg debits `settled`.
    owed: str | None = None


def posting_reference(case_number: str, stage: str) -> str:
    """``PT-D<case>-<code>``; a case number too long for the 30-character reference is hashed."""
    reference = f"PT-D{case_number}-{CODES[stage]}"
    if len(reference) <= JOURNAL_REFERENCE_LENGTH:
        return reference
    return f"PT-D{hashlib.sha256(case_number.encode()).hexdigest()[:20]}-{CODES[stage]}"


# Sage keys its cash receipt documents by CreditCardTransactionID (15 characters).
SAGE_DOCUMENT_REFERENCE_LENGTH = 15


def _document_reference(prefix: str, case_number: str, stage: str) -> str:
    reference = f"{prefix}{case_number}-{CODES[stage]}"
    if len(reference) <= SAGE_DOCUMENT_REFERENCE_LENGTH:
        return reference
    room = SAGE_DOCUMENT_REFERENCE_LENGTH - len(prefix) - 3
    return f"{prefix}{hashlib.sha256(case_number.encode()).hexdigest()[:room]}-{CODES[stage]}"


def reopen_reference(case_number: str, stage: str) -> str:
    """``PT-O<case>-<code>``: the receipt reversal that re-opens the invoice for a stage that took money."""
    return _document_reference("PT-O", case_number, stage)


def reapply_reference(case_number: str, stage: str) -> str:
    """``PT-A<case>-<code>``: the receipt that applies a won case's money to the invoice again."""
    return _document_reference("PT-A", case_number, stage)


def carry_reopen(history: pd.DataFrame, reopened: pd.Series) -> pd.Series:
    """`reopened` (bool per stage that took money) carried to the later won/lost/accepted stages of the
    same chain: they settle what the chain's last debit did, re-opened invoice or receivable."""
    taken = history["taken_cents"] > 0
    settles = (history["returned_cents"] > 0) | (history["written_off_cents"] > 0)
    flag = pd.Series(np.where(taken, reopened.astype(bool), np.nan), index=history.index, dtype="object")
    carried = flag.groupby(history["chain"]).ffill()
    return (taken & reopened.astype(bool)) | (settles & carried.eq(True))


def stage_fees(history: pd.DataFrame, case_fee_cents: int = 0) -> pd.Series:
    """The case fee of each stage (PayTrace cents): the report's, else the configured one, on a
    chargeback that took money."""
    fee = pd.to_numeric(history["fee_cents"], errors="coerce").fillna(case_fee_cents).astype("int64")
    charged = (history["stage"] == CHARGEBACK) & (history["taken_cents"] > 0)
    return pd.Series(np.where(charged, fee, 0), index=history.index, dtype="int64")


def plan_postings(history: pd.DataFrame, accounts: DisputeAccounts, *, case_fee_cents: int = 0,
                  exchange_account: str | None = None) -> pd.DataFrame:
    """Journal lines (POSTING_COLUMNS) of every stage that moves money; debit == credit per reference.

    A `reopen` column (bool, optional) marks the stages whose invoice Sage re-opened (or re-applied):
    their case legs go through `accounts.clearing` (module docstring). Stages converted by
    disputes/currency.py (`<amount>_book` / `_processor` columns) give lines in Sage's currency
    (CONVERTED_COLUMNS: both amounts and the rates), each entry's difference on `exchange_account`."""
    converted = f"taken_cents{BOOK}" in history
    if converted and exchange_account is None:
        raise ValueError("converted stages need the exchange difference account")
    fee = stage_fees(history, case_fee_cents)
    reopen = history["reopen"].astype("boolean").fillna(False).astype(bool) if "reopen" in history else \
        pd.Series(False, index=history.index)
    # Each reversed receipt credited its own payment type's clearing account (one per brand, maybe).
    clearing: str | pd.Series | None = history["clearing_account"].fillna(accounts.clearing or "") \
        if "clearing_account" in history else accounts.clearing
    if reopen.any() and (clearing is None or (isinstance(clearing, pd.Series) and (clearing[reopen] == "").any())):
        raise ValueError("re-opened invoices need the card clearing account (DisputeAccounts.clearing)")
    owed = accounts.owed or accounts.settled
    # (amount, which stages, debit account, its side's Sage amount, credit account, its side's, comment):
    # book = the sale's money as Sage holds it, processor = what the processor moved (disputes/currency.py)
    legs = [
        ("taken_cents", ~reopen, accounts.chargeback, BOOK, accounts.settled, PROCESSOR, "Chargeback"),
        ("taken_cents", reopen, clearing, BOOK, accounts.settled, PROCESSOR, "Chargeback, invoice re-opened"),
        ("fee", None, accounts.fee, FEE, accounts.settled, FEE, "Chargeback fee"),
        ("returned_cents", ~reopen, owed, PROCESSOR, accounts.chargeback, BOOK, "Chargeback reversed (won)"),
        ("returned_cents", reopen, owed, PROCESSOR, clearing, BOOK, "Chargeback reversed (won), re-applied"),
        ("written_off_cents", ~reopen, accounts.loss, BOOK, accounts.chargeback, BOOK, "Chargeback lost"),
    ]
    frame = history.assign(fee=fee)
    if converted:
        frame = frame.assign(**{f"fee{FEE}": history[FEE_SAGE]})
    parts = []
    for amount_column, which, debit_account, debit_side, credit_account, credit_side, what in legs:
        if debit_account is None or credit_account is None:
            continue
        same = isinstance(debit_account, str) and isinstance(credit_account, str) and debit_account == credit_account
        if same and not converted:
            continue
        moving = frame[(frame[amount_column] > 0) & (True if which is None else which)]
        if moving.empty:
            continue
        comment = what + " " + moving["case_number"].astype(str)
        paytrace = moving[amount_column].astype("int64").to_numpy()
        sides: tuple[tuple[str | pd.Series, bool, str], ...] = (
            (debit_account, True, debit_side), (credit_account, False, credit_side))
        if same:  # one account on both sides: only what the two rates leave on it
            assert isinstance(debit_account, str)
            sides = ((debit_account, True, debit_side),)
        for account, debit, side in sides:
            amounts = moving[amount_column + side].astype("int64").to_numpy() if converted else paytrace
            if same:
                amounts = amounts - moving[amount_column + credit_side].astype("int64").to_numpy()
            part = pd.DataFrame({
                "reference": [posting_reference(c, s) for c, s in zip(moving["case_number"], moving["stage"])],
                "case_number": moving["case_number"].to_numpy(), "stage": moving["stage"].to_numpy(),
                "posting_date": moving["activity_date"].to_numpy(),
                "account": account.loc[moving.index].to_numpy() if isinstance(account, pd.Series) else account,
                "debit_cents": amounts if debit else 0, "credit_cents": 0 if debit else amounts,
                "comment": comment.to_numpy()})
            if converted:
                part[PAYTRACE_DEBIT] = np.where(part["debit_cents"] != 0, paytrace, 0)
                part[PAYTRACE_CREDIT] = np.where(part["credit_cents"] != 0, paytrace, 0)
                part[FX_RATE] = (moving[SALE_RATE] if side == BOOK else moving[DAY_RATE]).to_numpy(dtype=object)
            parts.append(part)
    columns = CONVERTED_COLUMNS if converted else POSTING_COLUMNS
    if not parts:
        return pd.DataFrame(columns=columns)
    lines = pd.concat(parts, ignore_index=True)
    if converted:
        assert exchange_account is not None
        lines = _with_exchange_difference(_signed(lines), exchange_account)
    lines = lines.sort_values(["reference", "credit_cents"], kind="stable")
    lines["line"] = lines.groupby("reference").cumcount() + 1
    return lines[columns].reset_index(drop=True)


def _signed(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines with a negative amount (one account on both sides, the credit side larger) turned over;
    lines of nothing left out."""
    net = lines["debit_cents"].astype("int64") - lines["credit_cents"].astype("int64")
    paytrace = lines[PAYTRACE_DEBIT].astype("int64") + lines[PAYTRACE_CREDIT].astype("int64")
    out = lines.assign(debit_cents=np.where(net > 0, net, 0), credit_cents=np.where(net < 0, -net, 0),
                       **{PAYTRACE_DEBIT: np.where(net > 0, paytrace, 0),
                          PAYTRACE_CREDIT: np.where(net < 0, paytrace, 0)})
    return out[net != 0]


def _with_exchange_difference(lines: pd.DataFrame, account: str) -> pd.DataFrame:
    """One line per entry whose converted sides differ: the realized exchange difference (a credit is a gain)."""
    net = (lines["debit_cents"] - lines["credit_cents"]).groupby(lines["reference"], sort=False).sum()
    net = net[net != 0]
    if net.empty:
        return lines
    heads = lines.drop_duplicates("reference").set_index("reference").loc[net.index]
    difference = pd.DataFrame({
        "reference": net.index.to_numpy(dtype=object), "case_number": heads["case_number"].to_numpy(),
        "stage": heads["stage"].to_numpy(), "posting_date": heads["posting_date"].to_numpy(), "account": account,
        "debit_cents": np.where(net < 0, -net, 0), "credit_cents": np.where(net > 0, net, 0),
        "comment": np.where(net.to_numpy() < 0, "Realized exchange loss ", "Realized exchange gain ")
        + heads["case_number"].astype(str).to_numpy(),
        PAYTRACE_DEBIT: 0, PAYTRACE_CREDIT: 0, FX_RATE: ""})
    return pd.concat([lines, difference], ignore_index=True)
