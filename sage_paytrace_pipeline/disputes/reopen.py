"""`disputes.reopen_invoice`: which stages re-open the customer's invoice in Sage, and the Sage documents that do it.

A stage that takes money re-opens the invoice when its case is linked to a PayTrace sale whose card
receipt Sage holds posted for exactly the amount taken: that receipt is reversed (Sage KB
223924250030110, `reverse_card_receipt`, reference ``PT-O<case>-<stage>``), so the invoice has a
balance again. A won stage of such a chain applies the money again with a new card receipt
(``PT-A<case>-<stage>``, same bank code, payment type and invoice lines as the original). Both are
keyed by their reference in Sage, so a re-run or a lost answer writes nothing twice.

Decided once per stage: a stage whose GL entry is posted keeps what it did (the log says whether its
reversal posted); only stages still to post are judged. A partial chargeback (less than the receipt)
is not re-opened (a reversal takes the whole receipt): it stays in the chargeback account, with a
warning saying to re-open it by hand. A sale whose receipt Sage does not hold (yet) holds the stage
(and its entry) until it does, so the entry and the reversal always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.disputes.currency import SaleExchange
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS, LINKED
from sage_paytrace_pipeline.domain.disputes.postings import carry_reopen, reapply_reference, reopen_reference
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents
from sage_paytrace_pipeline.sage100.documents import CardReceipt, DocumentResult, ReceiptLine, ReceiptReversal
from sage_paytrace_pipeline.sage100.models import PostedReceipt
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer


@dataclass(frozen=True)
class SageDocument:
    """A receipt reversal or re-application to write before the GL entry `entry_reference`."""

    reference: str
    entry_reference: str
    case_number: str
    stage: str
    posting_date: date
    amount_cents: int  # in Sage's currency
    write: Callable[[Sage100Writer], DocumentResult]
    paytrace_cents: int | None = None  # under a conversion: the amount in PayTrace's currency
    fx_rate: str = ""  # and the sale's rate it was converted at


@dataclass
class ReopenPlan:
    stages: pd.DataFrame  # the stages to post, with `reopen` and `clearing_account`
    documents: dict[str, SageDocument] = field(default_factory=dict)  # by GL entry reference
    exceptions: list[pd.DataFrame] = field(default_factory=list)


def plan_reopen(stages: pd.DataFrame, cases: pd.DataFrame, reader: Sage100Reader, *, posted: set[str],
                entry_reference: Callable[[str, str], str],
                sales: Mapping[int, SaleExchange] | None = None) -> ReopenPlan:
    """Flag the stages whose invoice is re-opened (or re-applied) and the Sage documents that do it;
    stages waiting for their sale's receipt in Sage are left out (one warning each).

    Under a currency conversion (`sales`: each sale's receipt with its rate and both amounts; the
    stages converted by domain/disputes/currency.py) a stage re-opens when it took the sale's whole
    PayTrace amount; the reversal takes the receipt as Sage holds it, the re-application its Sage amount."""
    frame = stages.merge(_sales(cases), on="case_number", how="left")
    frame["entry_reference"] = [entry_reference(c, s) for c, s in zip(frame["case_number"], frame["stage"])]
    taken = frame["taken_cents"] > 0
    receipts = _receipts(reader, frame.loc[taken & frame["sale"].notna(), "sale"])
    clearing = _clearing_accounts(reader)
    reopened, waiting, problems = [], [], []
    for row in frame.itertuples():
        if not row.taken_cents > 0:
            reopened.append(False)
            continue
        if row.entry_reference in posted:  # decided when it posted
            reopened.append(reopen_reference(row.case_number, row.stage) in posted)
            continue
        receipt = receipts.get(int(row.sale)) if pd.notna(row.sale) else None
        if pd.isna(row.sale):
            reopened.append(False)  # no sale: its link exception says so; the case stays a receivable
        elif receipt is None or not receipt.posted:
            reopened.append(False)
            waiting.append(row.Index)
            problems.append(_warning("dispute_invoice_waiting_for_receipt", row,
                                     f"case {row.case_number} ({row.stage}): Sage holds no posted receipt for sale "
                                     f"{int(row.sale)}, so its invoice cannot be re-opened yet; the entry waits",
                                     "post the sale's receipt (its receivable exception says how); the next run "
                                     "re-opens the invoice and posts the entry"))
        elif _receipt_cents(receipt, row, sales) != int(row.taken_cents):
            reopened.append(False)
            problems.append(_warning("dispute_invoice_not_reopened", row,
                                     f"case {row.case_number} ({row.stage}) took {cents_to_decimal(row.taken_cents)} "
                                     f"of the {cents_to_decimal(_receipt_cents(receipt, row, sales))} receipt of sale "
                                     f"{int(row.sale)}: a partial chargeback "
                                     "is kept in the chargeback account, the invoice is not re-opened",
                                     "re-open the invoice by hand for the disputed amount if the customer owes it"))
        else:
            reopened.append(True)
    frame["reopen"] = carry_reopen(frame, pd.Series(reopened, index=frame.index))
    frame["clearing_account"] = [clearing.get(receipts[int(s)].payment_type, "") if pd.notna(s) and int(s) in receipts
                                 else "" for s in frame["sale"]]
    # A chain waiting for its receipt waits whole: a later won stage must follow what its debit does.
    waiting_chains = set(frame.loc[waiting, "chain"])
    frame = frame[~(frame["chain"].isin(waiting_chains) & ~frame["entry_reference"].isin(posted))]
    plan = ReopenPlan(frame.drop(columns=["sale", "entry_reference"]), exceptions=problems)
    for row in frame[frame["reopen"]].itertuples():
        if row.entry_reference in posted or pd.isna(row.sale) or int(row.sale) not in receipts:
            continue
        document = _document(row, receipts[int(row.sale)], converted=sales is not None)
        if document is not None:
            plan.documents[row.entry_reference] = document
    return plan


def _receipt_cents(receipt: PostedReceipt, row, sales: Mapping[int, SaleExchange] | None) -> int:
    """The receipt's amount in the case's currency: PayTrace's under a conversion (as the receipt recorded it)."""
    if sales is None:
        return decimal_to_cents(receipt.amount)
    sale = sales.get(int(row.sale))
    return -1 if sale is None else sale.paytrace_cents


def _document(row, receipt: PostedReceipt, *, converted: bool = False) -> SageDocument | None:
    """The reversal (the receipt as Sage holds it) or the re-application (in Sage's currency: the
    converted amount under a conversion)."""
    on = pd.Timestamp(row.activity_date).date()
    if row.taken_cents > 0:
        reversal = ReceiptReversal(reference=reopen_reference(row.case_number, row.stage),
                                   transaction_id=receipt.transaction_id, reversal_date=on,
                                   comment=f"chargeback {row.case_number}")
        return SageDocument(reversal.reference, row.entry_reference, row.case_number, row.stage, on,
                            decimal_to_cents(receipt.amount), lambda writer: writer.reverse_card_receipt(reversal),
                            *_exchange(row, "taken_cents", converted))
    if row.returned_cents > 0:
        cents = int(row.returned_cents_book) if converted else int(row.returned_cents)
        again = CardReceipt(
            transaction_id=reapply_reference(row.case_number, row.stage), division=receipt.division,
            customer_no=receipt.customer_no, deposit_date=on, bank_code=receipt.bank_code,
            deposit_description=f"Chargeback {row.case_number} won", payment_type=receipt.payment_type,
            amount=cents_to_decimal(cents), authorization_no=receipt.authorization_no,
            last4=receipt.last4, comment=f"chargeback {row.case_number} won",
            lines=tuple(ReceiptLine.model_validate(line.model_dump()) for line in receipt.lines))
        return SageDocument(again.transaction_id, row.entry_reference, row.case_number, row.stage, on,
                            cents, lambda writer: writer.post_card_receipt(again),
                            *_exchange(row, "returned_cents", converted))
    return None  # lost / accepted: the invoice stays open


def _exchange(row, column: str, converted: bool) -> tuple[int | None, str]:
    return (int(getattr(row, column)), str(row.sale_fx_rate)) if converted else (None, "")


def _sales(cases: pd.DataFrame) -> pd.DataFrame:
    linked = cases[cases["link"] == LINKED] if len(cases) else cases
    return pd.DataFrame({"case_number": linked["case_number"].to_numpy(dtype=object),
                         "sale": pd.to_numeric(linked["sale_transaction_id"], errors="coerce").to_numpy()})


def _receipts(reader: Sage100Reader, sales: pd.Series) -> dict[int, PostedReceipt]:
    ids = sorted({str(int(s)) for s in sales})
    return {int(r.transaction_id): r for r in reader.receipts_for_transaction_ids(ids) if r.transaction_id.isdigit()}


def _clearing_accounts(reader: Sage100Reader) -> dict[str, str]:
    """Payment type -> the formatted GL account its receipts debit (what a reversal credits)."""
    accounts = {account.account_key: account.account for account in reader.gl_accounts()}
    return {kind.payment_type: accounts.get(kind.asset_account_key, "") for kind in reader.payment_types()}


def _warning(kind: str, row, problem: str, action: str) -> pd.DataFrame:
    return EXCEPTIONS.rows(kind, "warning", None, size=1, source_ids=f"dispute:{row.case_number}",
                           problem=problem, action=action)
