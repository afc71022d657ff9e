"""Reversals in the demo company: a receipt whose sale PayTrace voided, a refund PayTrace voided.

Receipt reversal (Sage KB 223924250030110, the way a clerk reverses a card receipt whose money
never arrives): a **cash**-type deposit (``C``) with check number ``CCREVERSE`` and a negative
amount, one AR_CashReceiptsHistory line per line of the original receipt with a negative
``CashAmountApplied`` (the invoice reinstated, or the prepayment withdrawn), ``P`` rows with a
negative TransactionAmt, the customer's balance raised, GL Dr AR control / Cr the payment type's
asset (card clearing) account: clearing gets back the debit the receipt put there. Only a posted
receipt is reversed; one still in entry is simply deleted in Cash Receipts Entry.

Refund reversal: the refund's ``P`` rows given back (positive TransactionAmt, same ``CheckNo``
memo tag, so the memo's credit returns), the items' balances lowered again, the customer's
balance lowered, GL Dr clearing / Cr AR.

Both are posted at once and keyed by their reference (``PT-V<sale id>`` / ``PT-VR<refund id>``),
stored in CreditCardTransactionID of the reversal's rows: never a bare PayTrace id, so a
look-up of the sale's or the refund's own id never sees a reversal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.sage100.documents import DocumentResult, ReceiptReversal, RefundReversal
from sage_paytrace_pipeline.sage100.errors import DocumentStateError, InvoiceNotOpenError
from sage_paytrace_pipeline.sage100.writer import REVERSE_CARD_RECEIPT, REVERSE_CARD_REFUND, total
from sage_paytrace_pipeline.sandbox.sage100.company.ledger import GLLine, post_gl
from sage_paytrace_pipeline.sandbox.sage100.company.master import (
    Ctx,
    open_item,
    require_card_payment_type,
    require_division,
)
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row

CASH_DEPOSIT = "C"
CARD_DEPOSIT = "R"
REVERSAL_CHECK_NO = "CCREVERSE"
CASH_RECEIPTS_JOURNAL = "CR"
SALES_JOURNAL = "SJ"
_ITEM_KEY = ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")


def _change_customer_balance(session: DemoSession, division: str, customer_no: str, amount: Decimal, on: date) -> None:
    key = {"ARDivisionNo": division, "CustomerNo": customer_no}
    customer = session.select_one("AR_Customer", key)
    assert customer is not None
    last = customer["DateLastActivity"]
    session.update("AR_Customer", key,
                   {"CurrentBalance": customer["CurrentBalance"] + amount, "DateLastActivity": max(on, last or on)})


def _payment_row(session: DemoSession, item_key: dict, on: date, values: dict) -> None:
    key = {**item_key, "TransactionDate": on}
    sequence = session.max_number("AR_TransactionPaymentHistory", "SequenceNo", key) + 1
    session.insert("AR_TransactionPaymentHistory", {**key, "SequenceNo": str(sequence).zfill(6), **values})


def _shift_item(session: DemoSession, item_key: dict, amount: Decimal) -> Row:
    item = session.select_one("AR_OpenInvoice", item_key)
    assert item is not None
    session.update("AR_OpenInvoice", item_key, {"Balance": item["Balance"] + amount})
    return {**item, "Balance": item["Balance"] + amount}


# ---------------------------------------------------------------------------- receipt reversal


def find_receipt_reversal(session: DemoSession, reference: str) -> DocumentResult | None:
    row = session.select_one("AR_CashReceiptsHistory", {"CreditCardTransactionID": reference})
    if row is None:
        return None
    return DocumentResult(operation=REVERSE_CARD_RECEIPT, reference=reference,
                          documents={"DepositNo": row["DepositNo"], "CheckNo": row["CheckNo"]}, created=False)


def reverse_card_receipt(session: DemoSession, reversal: ReceiptReversal) -> DocumentResult:
    existing = find_receipt_reversal(session, reversal.reference)
    if existing is not None:
        return existing
    ctx = Ctx(REVERSE_CARD_RECEIPT, reversal.reference)
    lines = _posted_receipt_lines(session, ctx, reversal.transaction_id)
    first = lines[0]
    division = require_division(session, ctx, first["ARDivisionNo"])
    payment_type = require_card_payment_type(session, ctx, first["PaymentType"])
    amount = total(line["CashAmountApplied"] for line in lines)
    deposit_no = next_number(session, "DepositNo")
    for sequence, line in enumerate(lines, start=1):
        _reverse_receipt_line(session, reversal, line, deposit_no, sequence)
    _change_customer_balance(session, first["ARDivisionNo"], first["CustomerNo"], amount, reversal.reversal_date)
    comment = (f"Reversal {reversal.reference} of {reversal.transaction_id} "
               f"{first['ARDivisionNo']}-{first['CustomerNo']} {reversal.comment}").strip()
    post_gl(session, journal=CASH_RECEIPTS_JOURNAL, register_no=next_number(session, "JournalRegisterNo"),
            posting_date=reversal.reversal_date, module="A/R", document_no=deposit_no,
            lines=[GLLine(division["AccountsReceivableAcctKey"], debit=amount, comment=comment),
                   GLLine(payment_type["AssetAcctKey"], credit=amount, comment=comment)])
    result = find_receipt_reversal(session, reversal.reference)
    assert result is not None
    return result.model_copy(update={"created": True})


def _posted_receipt_lines(session: DemoSession, ctx: Ctx, transaction_id: str) -> list[Row]:
    """The posted card receipt Sage holds for the sale, line by line; refused when none or still in entry."""
    if session.select_one("AR_CashReceiptsHeader", {"CreditCardTransactionID": transaction_id}):
        raise ctx.error(DocumentStateError, "transaction_id",
                        f"the receipt of transaction {transaction_id} is still in Cash Receipts Entry",
                        "delete the unposted receipt in Cash Receipts Entry instead of reversing it")
    rows = session.select("AR_CashReceiptsHistory", {"CreditCardTransactionID": transaction_id},
                          order_by=("DepositNo", "SequenceNo"))
    rows = [row for row in rows if row["DepositType"] == CARD_DEPOSIT]
    if not rows:
        raise ctx.error(InvoiceNotOpenError, "transaction_id",
                        f"Sage holds no posted card receipt for transaction {transaction_id}",
                        "check the transaction id; a sale never posted needs no reversal")
    return rows


def _reverse_receipt_line(session: DemoSession, reversal: ReceiptReversal, line: Row, deposit_no: str,
                          sequence: int) -> None:
    amount = line["CashAmountApplied"]
    item_key = {key: line[key] for key in _ITEM_KEY}
    after = _shift_item(session, item_key, amount) if open_item(session, *(line[k] for k in _ITEM_KEY)) else None
    session.insert("AR_CashReceiptsHistory", {
        "BankCode": line["BankCode"], "DepositDate": reversal.reversal_date, "DepositNo": deposit_no,
        "DepositType": CASH_DEPOSIT, "ARDivisionNo": line["ARDivisionNo"], "CustomerNo": line["CustomerNo"],
        "CheckNo": REVERSAL_CHECK_NO, "SequenceNo": str(sequence).zfill(6), "PostingDate": reversal.reversal_date,
        "CustomerName": line["CustomerName"], "OpenItemCustomer": line["OpenItemCustomer"],
        "InvoiceNo": line["InvoiceNo"], "InvoiceType": line["InvoiceType"],
        "DepositDesc": f"Reversal {reversal.reference}", "CashAmountApplied": -amount,
        "InvoiceBalance": after["Balance"] if after else amount, "Comment": reversal.comment,
        "PaymentType": line["PaymentType"], "CreditCardTransactionID": reversal.reference,
        "CreditCardComment": f"voided {reversal.transaction_id}",
    })
    _payment_row(session, item_key, reversal.reversal_date, {
        "InvoiceHistoryHeaderSeqNo": after["InvoiceHistoryHeaderSeqNo"] if after else "",
        "PaymentReference": f"{deposit_no}-REV", "CheckNo": REVERSAL_CHECK_NO, "TransactionType": "P",
        "PaymentDate": reversal.reversal_date, "PaymentType": line["PaymentType"],
        "CreditCardTransactionID": reversal.reference, "TransactionAmt": -amount,
    })


# ----------------------------------------------------------------------------- refund reversal


def find_refund_reversal(session: DemoSession, reference: str) -> DocumentResult | None:
    rows = session.select("AR_TransactionPaymentHistory", {"CreditCardTransactionID": reference})
    if not rows:
        return None
    return DocumentResult(operation=REVERSE_CARD_REFUND, reference=reference,
                          documents={"CreditCardEntryNo": rows[0]["CreditCardEntryNo"]}, created=False)


def reverse_card_refund(session: DemoSession, reversal: RefundReversal) -> DocumentResult:
    existing = find_refund_reversal(session, reversal.reference)
    if existing is not None:
        return existing
    ctx = Ctx(REVERSE_CARD_REFUND, reversal.reference)
    rows = [row for row in session.select("AR_TransactionPaymentHistory",
                                          {"CreditCardTransactionID": reversal.transaction_id},
                                          order_by=("InvoiceNo", "InvoiceType", "SequenceNo"))
            if row["TransactionAmt"] < 0]
    if not rows:
        raise ctx.error(InvoiceNotOpenError, "transaction_id",
                        f"Sage holds no card refund for transaction {reversal.transaction_id}",
                        "check the refund's transaction id; a refund never recorded needs no reversal")
    first = rows[0]
    division = require_division(session, ctx, first["ARDivisionNo"])
    payment_type = require_card_payment_type(session, ctx, first["PaymentType"])
    amount = total(-row["TransactionAmt"] for row in rows)
    entry_no = next_number(session, "CreditCardEntryNo")
    for row in rows:
        item_key = {key: row[key] for key in _ITEM_KEY}
        if open_item(session, *(row[k] for k in _ITEM_KEY)) is not None:
            _shift_item(session, item_key, row["TransactionAmt"])  # the credit comes back (balance down)
        _payment_row(session, item_key, reversal.reversal_date, {
            "InvoiceHistoryHeaderSeqNo": row["InvoiceHistoryHeaderSeqNo"], "PaymentReference": f"RVRSL-{entry_no}",
            "CheckNo": row["CheckNo"], "TransactionType": "P", "PaymentDate": reversal.reversal_date,
            "PaymentType": row["PaymentType"], "CreditCardTransactionID": reversal.reference,
            "TransactionAmt": -row["TransactionAmt"], "CreditCardEntryNo": entry_no,
        })
    _change_customer_balance(session, first["ARDivisionNo"], first["CustomerNo"], -amount, reversal.reversal_date)
    comment = (f"Refund reversal {reversal.reference} {first['ARDivisionNo']}-{first['CustomerNo']} "
               f"{reversal.comment}").strip()
    post_gl(session, journal=SALES_JOURNAL, register_no=next_number(session, "JournalRegisterNo"),
            posting_date=reversal.reversal_date, module="A/R", document_no=entry_no,
            lines=[GLLine(payment_type["AssetAcctKey"], debit=amount, comment=comment),
                   GLLine(division["AccountsReceivableAcctKey"], credit=amount, comment=comment)])
    result = find_refund_reversal(session, reversal.reference)
    assert result is not None
    return result.model_copy(update={"created": True})
