"""Credit memos and card refunds in the demo company.

Credit memo (A/R Invoice Data Entry, type CM, posted by the Sales Journal ``SJ``): an
AR_InvoiceHistoryHeader row (amounts negative, as a credit), a ``C`` row in
AR_TransactionPaymentHistory, the customer's balance lowered, GL Dr sales returns (or the
account given) / Cr AR control. Applied to an invoice it lowers that invoice's balance and is
consumed (no open item of its own); otherwise it stays open as a ``CM`` item with a negative
balance.

Sage lets a memo be applied to an invoice that is already paid: the invoice then carries the credit
as a negative balance until a refund (or another document) consumes it. So the applied amount may
exceed the invoice's open balance; the invoice only has to be an open item of this customer.

Card refund (the KB-manual-cc way of recording a credit processed outside Sage): consumes the
credit each named memo still carries, wherever it sits (its own open CM item, or the invoice it
was applied to), then the named prepayment, or else the customer's open credits (CM and PP items,
oldest first). A memo's remaining credit is its amount less what refunds took from it: their
``P`` rows carry ``CheckNo = "CM<memo no>"`` (a reversed refund gives it back with a positive row);
writes ``P`` rows with a negative TransactionAmt carrying the refund's CreditCardTransactionID
and a new CreditCardEntryNo; raises the customer's balance; GL Dr AR control / Cr the payment
type's asset (card clearing) account, so the cash leaves through clearing like the sale came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.sage100.documents import CardRefund, CreditMemo, DocumentResult
from sage_paytrace_pipeline.sage100.errors import (
    AmountExceedsBalanceError,
    DocumentStateError,
    InvoiceNotOpenError,
    InvoiceOfAnotherCustomerError,
    Sage100ValidationError,
)
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import (
    CREATE_CREDIT_MEMO,
    RECORD_CARD_REFUND,
    total,
)
from sage_paytrace_pipeline.sandbox.sage100.company.ledger import GLLine, post_gl
from sage_paytrace_pipeline.sandbox.sage100.company.master import (
    Ctx,
    open_item,
    require_account_key,
    require_card_payment_type,
    require_customer,
    require_division,
    require_open_invoice,
    resolve_account,
)
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row

SALES_JOURNAL = "SJ"
ZERO = Decimal("0.00")


def _customer_key(division: str, customer_no: str) -> dict[str, str]:
    return {"ARDivisionNo": division, "CustomerNo": customer_no}


def _add_to_customer_balance(session: DemoSession, division: str, customer_no: str, amount: Decimal, on: date) -> None:
    customer = session.select_one("AR_Customer", _customer_key(division, customer_no))
    assert customer is not None
    last = customer["DateLastActivity"]
    session.update("AR_Customer", _customer_key(division, customer_no),
                   {"CurrentBalance": customer["CurrentBalance"] + amount, "DateLastActivity": max(on, last or on)})


def _payment_history(session: DemoSession, item_key: dict, on: date, values: dict) -> None:
    key = {**item_key, "TransactionDate": on}
    sequence = session.max_number("AR_TransactionPaymentHistory", "SequenceNo", key) + 1
    session.insert("AR_TransactionPaymentHistory", {**key, "SequenceNo": str(sequence).zfill(6), **values})


# ------------------------------------------------------------------------------ credit memo


def find_credit_memo(session: DemoSession, reference: str) -> DocumentResult | None:
    row = session.select_one("AR_InvoiceHistoryHeader", {UDF_PAYTRACE_REF: reference})
    if row is None:
        return None
    if row["InvoiceType"] != "CM":
        raise Ctx(CREATE_CREDIT_MEMO, reference).error(
            DocumentStateError, "reference", f"reference {reference} is already used by invoice {row['InvoiceNo']}",
            "give the credit memo its own reference")
    return DocumentResult(operation=CREATE_CREDIT_MEMO, reference=reference,
                          documents={"InvoiceNo": row["InvoiceNo"]}, created=False)


def create_credit_memo(session: DemoSession, memo: CreditMemo, *, default_account: str | None) -> DocumentResult:
    existing = find_credit_memo(session, memo.reference)
    if existing is not None:
        return existing
    ctx = Ctx(CREATE_CREDIT_MEMO, memo.reference)
    division = require_division(session, ctx, memo.division)
    customer = require_customer(session, ctx, memo.division, memo.customer_no)
    applied = None
    if memo.apply_to_invoice_no:
        applied = _invoice_to_credit(session, ctx, memo)
    account_key = _memo_account(session, ctx, memo, default_account)
    memo_no = next_number(session, "InvoiceNo")
    register_no = next_number(session, "JournalRegisterNo")
    _memo_history(session, memo, memo_no, register_no, customer)
    _memo_open_item(session, memo, memo_no, applied)
    _add_to_customer_balance(session, memo.division, memo.customer_no, -memo.amount, memo.memo_date)
    comment = f"Credit memo {memo_no} {memo.division}-{memo.customer_no} {memo.comment}".strip()
    post_gl(session, journal=SALES_JOURNAL, register_no=register_no, posting_date=memo.memo_date, module="A/R",
            document_no=memo_no, lines=[
                GLLine(account_key, debit=memo.amount, comment=comment),
                GLLine(division["AccountsReceivableAcctKey"], credit=memo.amount, comment=comment),
            ])
    result = find_credit_memo(session, memo.reference)
    assert result is not None
    return result.model_copy(update={"created": True})


def _invoice_to_credit(session: DemoSession, ctx: Ctx, memo: CreditMemo) -> Row:
    """The invoice a memo is applied to: an IN open item of this customer, paid or not (Sage allows both)."""
    row = open_item(session, memo.division, memo.customer_no, memo.apply_to_invoice_no or "", "IN")
    if row is not None:
        return row
    # Same refusals as a receipt line: another customer's invoice, or no such open item.
    return require_open_invoice(session, ctx, memo.division, memo.customer_no, memo.apply_to_invoice_no or "",
                                invoice_type="IN", field="apply_to_invoice_no")


def _memo_account(session: DemoSession, ctx: Ctx, memo: CreditMemo, default_account: str | None) -> str:
    """memo.account, else the writer's returns account, else the applied invoice's sales account."""
    if memo.account:
        return resolve_account(session, ctx, memo.account, "account")["AccountKey"]
    if default_account:
        return resolve_account(session, ctx, default_account, "account (writer default)")["AccountKey"]
    if memo.apply_to_invoice_no:
        line = session.select_one("AR_InvoiceHistoryDetail", {"InvoiceNo": memo.apply_to_invoice_no})
        if line and line["SalesAcctKey"]:
            row = require_account_key(session, ctx, line["SalesAcctKey"], "account (invoice sales account)")
            return row["AccountKey"]
    raise ctx.error(Sage100ValidationError, "account", "no GL account to debit for the credit memo",
                    "give the sales returns account on the credit memo (account='4950-00')")


def _memo_history(session: DemoSession, memo: CreditMemo, memo_no: str, register_no: str, customer: Row) -> None:
    session.insert("AR_InvoiceHistoryHeader", {
        "InvoiceNo": memo_no, "HeaderSeqNo": "000000", "ModuleCode": "A/R", "InvoiceType": "CM",
        "InvoiceDate": memo.memo_date, "TransactionDate": memo.memo_date, "ARDivisionNo": memo.division,
        "CustomerNo": memo.customer_no, "TermsCode": customer["TermsCode"],
        "ApplyToInvoiceNo": memo.apply_to_invoice_no or "", "SourceJournal": SALES_JOURNAL,
        "JournalNoGLBatchNo": register_no, "BillToName": customer["CustomerName"],
        "NonTaxableSalesAmt": -memo.amount, "EmailAddress": customer["EmailAddress"],
        UDF_PAYTRACE_REF: memo.reference, "PaymentType": memo.payment_type,
        # the requester (maker-checker); empty: the audit columns' user, the writer's own
        **({"UserCreatedKey": memo.entered_by} if memo.entered_by else {}),
    })


def _memo_open_item(session: DemoSession, memo: CreditMemo, memo_no: str, applied: Row | None) -> None:
    history = {"InvoiceHistoryHeaderSeqNo": "000000", "PaymentReference": memo_no, "TransactionType": "C",
               "TransactionAmt": memo.amount}
    if applied is not None:
        key = {k: applied[k] for k in ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")}
        session.update("AR_OpenInvoice", key, {"Balance": applied["Balance"] - memo.amount})
        _payment_history(session, key, memo.memo_date, history)
        return
    key = {**_customer_key(memo.division, memo.customer_no), "InvoiceNo": memo_no, "InvoiceType": "CM"}
    session.insert("AR_OpenInvoice", {
        **key, "InvoiceDate": memo.memo_date, "InvoiceDueDate": memo.memo_date, "InvoiceHistoryHeaderSeqNo": "000000",
        "PostingDate": memo.memo_date, "Comment": memo.comment, "NonTaxableAmt": -memo.amount,
        "Balance": -memo.amount,
    })
    _payment_history(session, key, memo.memo_date, history)


# ------------------------------------------------------------------------------ card refund


def find_refund(session: DemoSession, transaction_id: str) -> DocumentResult | None:
    rows = session.select("AR_TransactionPaymentHistory", {"CreditCardTransactionID": transaction_id},
                          order_by=("InvoiceNo", "InvoiceType"))
    rows = [row for row in rows if row["TransactionAmt"] < 0]
    if not rows:
        return None
    documents = {"CreditCardEntryNo": rows[0]["CreditCardEntryNo"],
                 "AppliedTo": ",".join(f"{row['InvoiceType']}:{row['InvoiceNo']}" for row in rows)}
    return DocumentResult(operation=RECORD_CARD_REFUND, reference=transaction_id, documents=documents, created=False)


def record_card_refund(session: DemoSession, refund: CardRefund) -> DocumentResult:
    existing = find_refund(session, refund.transaction_id)
    if existing is not None:
        return existing
    ctx = Ctx(RECORD_CARD_REFUND, refund.transaction_id)
    _refuse_receipt_id(session, ctx, refund.transaction_id)
    division = require_division(session, ctx, refund.division)
    require_customer(session, ctx, refund.division, refund.customer_no)
    payment_type = require_card_payment_type(session, ctx, refund.payment_type)
    portions = _credits_to_consume(session, ctx, refund)
    entry_no = next_number(session, "CreditCardEntryNo")
    for portion in portions:
        item = portion.item
        key = {k: item[k] for k in ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")}
        current = session.select_one("AR_OpenInvoice", key)  # two portions may touch one item
        assert current is not None
        session.update("AR_OpenInvoice", key, {"Balance": current["Balance"] + portion.amount})
        _payment_history(session, key, refund.refund_date, {
            "InvoiceHistoryHeaderSeqNo": item["InvoiceHistoryHeaderSeqNo"], "PaymentReference": f"REFUND-{entry_no}",
            "CheckNo": portion.memo_tag, "TransactionType": "P", "PaymentDate": refund.refund_date,
            "PaymentType": refund.payment_type, "CreditCardAuthorizationNo": refund.authorization_no,
            "Last4UnencryptedCreditCardNos": refund.last4, "CreditCardTransactionID": refund.transaction_id,
            "TransactionAmt": -portion.amount, "CreditCardEntryNo": entry_no,
        })
    _add_to_customer_balance(session, refund.division, refund.customer_no, refund.amount, refund.refund_date)
    comment = f"Card refund {refund.transaction_id} {refund.division}-{refund.customer_no} {refund.comment}".strip()
    post_gl(session, journal=SALES_JOURNAL, register_no=next_number(session, "JournalRegisterNo"),
            posting_date=refund.refund_date, module="A/R", document_no=entry_no,
            lines=[GLLine(division["AccountsReceivableAcctKey"], debit=refund.amount, comment=comment),
                   GLLine(payment_type["AssetAcctKey"], credit=refund.amount, comment=comment)])
    result = find_refund(session, refund.transaction_id)
    assert result is not None
    return result.model_copy(update={"created": True})


def _refuse_receipt_id(session: DemoSession, ctx: Ctx, transaction_id: str) -> None:
    for table in ("AR_CashReceiptsHeader", "AR_CashReceiptsHistory", "AR_TransactionPaymentHistory"):
        if session.select_one(table, {"CreditCardTransactionID": transaction_id}):
            raise ctx.error(DocumentStateError, "transaction_id",
                            f"transaction {transaction_id} is already recorded in Sage as a card receipt",
                            "record the refund with the PayTrace id of the refund transaction")


@dataclass(frozen=True)
class Portion:
    """Part of a refund taken from one open item; `memo_tag` ("CM<memo no>") when it consumes a memo's credit."""

    item: Row
    amount: Decimal
    memo_tag: str = ""


def memo_tag(memo_no: str) -> str:
    return f"CM{memo_no}"


def _credits_to_consume(session: DemoSession, ctx: Ctx, refund: CardRefund) -> list[Portion]:
    if refund.credit_memo_nos or refund.prepayment_no:
        return _named_credits(session, ctx, refund)
    credits = [row for row in session.select("AR_OpenInvoice", _customer_key(refund.division, refund.customer_no),
                                             order_by=("InvoiceDate", "InvoiceNo"))
               if row["InvoiceType"] in ("CM", "PP") and row["Balance"] < 0]
    available_credit = total(-row["Balance"] for row in credits)
    if refund.amount > available_credit:
        raise ctx.error(AmountExceedsBalanceError, "amount",
                        f"refund of {format_decimal(refund.amount)} exceeds the customer's open credits"
                        f" ({format_decimal(available_credit)} in credit memos and prepayments)",
                        "enter the credit memo for the returned goods first (create_credit_memo), then the refund")
    portions, left = [], refund.amount
    for row in credits:
        portion = min(left, -row["Balance"])
        portions.append(Portion(row, portion))
        left -= portion
        if left == 0:
            break
    return portions


def _named_credits(session: DemoSession, ctx: Ctx, refund: CardRefund) -> list[Portion]:
    """The named memos' remaining credits in order, then the named prepayment; exactly the refund's amount."""
    offers: list[Portion] = [_memo_credit(session, ctx, refund, memo_no) for memo_no in refund.credit_memo_nos]
    if refund.prepayment_no:
        offers.append(_prepayment_credit(session, ctx, refund))
    portions, left = [], refund.amount
    for offer in offers:
        take = min(left, offer.amount)
        if take > 0:
            portions.append(Portion(offer.item, take, offer.memo_tag))
            left -= take
    if left > 0:
        named = ", ".join(refund.credit_memo_nos + ((refund.prepayment_no,) if refund.prepayment_no else ()))
        raise ctx.error(AmountExceedsBalanceError, "amount",
                        f"refund of {format_decimal(refund.amount)} exceeds the credit left on {named}"
                        f" ({format_decimal(refund.amount - left)})",
                        "refund at most the credit those documents carry, or enter a credit memo for the rest")
    return portions


def _memo_credit(session: DemoSession, ctx: Ctx, refund: CardRefund, memo_no: str) -> Portion:
    """What memo `memo_no` still carries, and the open item holding it (its own CM item or the invoice)."""
    header = session.select_one("AR_InvoiceHistoryHeader", {"InvoiceNo": memo_no, "InvoiceType": "CM"})
    if header is not None and (header["ARDivisionNo"], header["CustomerNo"]) != (refund.division, refund.customer_no):
        raise ctx.error(InvoiceOfAnotherCustomerError, "credit_memo_no",
                        f"credit memo {memo_no} belongs to customer {header['ARDivisionNo']}-{header['CustomerNo']}",
                        "refund against this customer's own credit memo")
    if header is None:
        raise ctx.error(InvoiceNotOpenError, "credit_memo_no",
                        f"credit memo {memo_no} does not exist for customer {refund.division}-{refund.customer_no}",
                        "enter the credit memo first (create_credit_memo), then the refund")
    tag = memo_tag(memo_no)
    applied_to = header["ApplyToInvoiceNo"]
    item = open_item(session, refund.division, refund.customer_no, applied_to or memo_no, "IN" if applied_to else "CM")
    taken = total(row["TransactionAmt"] for row in session.select(
        "AR_TransactionPaymentHistory", {**_customer_key(refund.division, refund.customer_no), "CheckNo": tag}))
    remaining = -header["NonTaxableSalesAmt"] + taken  # refund rows are negative, reversals positive
    if item is not None and not applied_to:
        remaining = min(remaining, -item["Balance"])
    if item is None or remaining <= 0:
        raise ctx.error(InvoiceNotOpenError, "credit_memo_no",
                        f"credit memo {memo_no} carries no credit any more (already refunded or applied)",
                        "refund against a credit memo that still carries credit, or omit credit_memo_no")
    return Portion(item, remaining, tag)


def _prepayment_credit(session: DemoSession, ctx: Ctx, refund: CardRefund) -> Portion:
    item = open_item(session, refund.division, refund.customer_no, refund.prepayment_no or "", "PP")
    if item is None or item["Balance"] >= 0:
        raise ctx.error(InvoiceNotOpenError, "prepayment_no",
                        f"prepayment {refund.prepayment_no} is not an open credit of customer"
                        f" {refund.division}-{refund.customer_no}",
                        "refund against an open prepayment, or omit prepayment_no")
    return Portion(item, -item["Balance"])
