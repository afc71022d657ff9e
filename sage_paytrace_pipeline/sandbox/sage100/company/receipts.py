"""Card cash receipts in the demo company: entry (deposit, header, lines) and the journal update.

Entry follows AR Cash Receipts Entry: a deposit of type ``R`` (found again by bank code, date and
description), one header per payment with the next ``CreditCardEntryNo`` (card receipts carry an
entry number instead of a check number, so ``CheckNo`` stays blank), and one line per invoice
applied. Amounts entered but not yet posted are held in ``AR_OpenInvoice.PaymentsToday`` so two
unposted receipts cannot pay the same balance twice.

The update follows the Daily Transaction Register: AR_CashReceiptsHistory (one row per line, with
the balance after), open-item balances (a PP line opens or extends a prepayment with a negative
balance), AR_TransactionPaymentHistory (type ``P``), the customer's balance and last payment, and
GL_DetailPosting (``CR``: Dr the payment type's asset / card clearing account, Cr the division's
AR control account); the entry rows are then removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sage_paytrace_pipeline.sage100.documents import CardReceipt, DocumentResult, ReceiptLine
from sage_paytrace_pipeline.sage100.errors import DocumentStateError
from sage_paytrace_pipeline.sage100.writer import (
    POST_CARD_RECEIPT,
    check_amount_within_balance,
    check_receipt_distribution,
    total,
)
from sage_paytrace_pipeline.sandbox.sage100.company.ledger import GLLine, post_gl
from sage_paytrace_pipeline.sandbox.sage100.company.master import (
    Ctx,
    available,
    check_customer,
    check_open_invoice,
    open_item,
    require_bank_code,
    require_card_payment_type,
    require_division,
)
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row

CASH_RECEIPTS_JOURNAL = "CR"
CARD_DEPOSIT = "R"
ZERO = Decimal("0.00")
_HEADER_KEY = ("DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo")
# What posting reads of an open item and of the customer (point look-ups read only these columns).
_OPEN_ITEM_COLUMNS = ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType", "Balance", "PaymentsToday")
_CUSTOMER_COLUMNS = ("ARDivisionNo", "CustomerNo", "CustomerName", "OpenItemCustomer", "CurrentBalance",
                     "DateLastPayment", "DateLastActivity")


def find_receipt(session: DemoSession, transaction_id: str) -> DocumentResult | None:
    """The receipt already holding this PayTrace transaction id, entered or posted."""
    for table in ("AR_CashReceiptsHeader", "AR_CashReceiptsHistory"):
        row = session.select_one(table, {"CreditCardTransactionID": transaction_id},
                                 columns=("DepositNo", "CreditCardEntryNo"))
        if row is not None:
            documents = {"DepositNo": row["DepositNo"], "CreditCardEntryNo": row["CreditCardEntryNo"]}
            return DocumentResult(
                operation=POST_CARD_RECEIPT, reference=transaction_id, documents=documents, created=False
            )
    return None


def enter_card_receipt(session: DemoSession, receipt: CardReceipt, *, post: bool) -> DocumentResult:
    existing = find_receipt(session, receipt.transaction_id)
    if existing is not None:
        return existing
    _validate(session, receipt)
    deposit_no = _deposit_no(session, receipt)
    entry_no = next_number(session, "CreditCardEntryNo")
    header = _insert_header(session, receipt, deposit_no, entry_no)
    _insert_lines(session, receipt, header)
    if post:  # the deposit's totals are refreshed once, after the receipt has left the entry tables
        register_no = next_number(session, "JournalRegisterNo")
        stored = session.select_one("AR_CashReceiptsHeader", {k: header[k] for k in _HEADER_KEY})
        assert stored is not None
        post_receipt(session, stored, register_no)
    _refresh_deposit(session, deposit_no)
    documents = {"DepositNo": deposit_no, "CreditCardEntryNo": entry_no}  # as find_receipt reads them back
    return DocumentResult(operation=POST_CARD_RECEIPT, reference=receipt.transaction_id, documents=documents,
                          created=True)


# ------------------------------------------------------------------------------- validation


def _validate(session: DemoSession, receipt: CardReceipt) -> None:
    """Sage's checks, cheapest first; the first failure is raised and nothing has been written."""
    validate_receipt(session, receipt, ReceiptLookups(
        refund_recorded=lambda transaction_id: session.select_one(
            "AR_TransactionPaymentHistory", {"CreditCardTransactionID": transaction_id},
            columns=("CreditCardTransactionID",)) is not None,
        customer=lambda division, customer_no: session.select_one(
            "AR_Customer", {"ARDivisionNo": division, "CustomerNo": customer_no}, columns=("CustomerStatus",)),
        open_item=lambda division, customer_no, invoice_no, invoice_type: open_item(
            session, division, customer_no, invoice_no, invoice_type, columns=("Balance", "PaymentsToday")),
    ))


@dataclass(frozen=True)
class ReceiptLookups:
    """Where validation reads what Sage holds: point queries (one receipt), or rows a chunk read at once."""

    refund_recorded: Callable[[str], bool]  # a card refund carries this transaction id
    customer: Callable[[str, str], Row | None]  # (division, customer) -> the row, with CustomerStatus
    open_item: Callable[[str, str, str, str], Row | None]  # (division, customer, invoice, type) -> balances


def validate_receipt(session: DemoSession, receipt: CardReceipt, lookups: ReceiptLookups) -> None:
    """Sage's checks of a card receipt, cheapest first; the first failure is raised."""
    ctx = Ctx(POST_CARD_RECEIPT, receipt.transaction_id)
    if lookups.refund_recorded(receipt.transaction_id):
        raise ctx.error(
            DocumentStateError, "transaction_id",
            f"transaction {receipt.transaction_id} is already recorded in Sage as a card refund",
            "post receipts with the id of the PayTrace sale, not of a refund",
        )
    check_receipt_distribution(receipt)
    require_division(session, ctx, receipt.division)
    check_customer(ctx, receipt.division, receipt.customer_no, lookups.customer(receipt.division, receipt.customer_no))
    require_card_payment_type(session, ctx, receipt.payment_type)
    require_bank_code(session, ctx, receipt.bank_code)
    for number, line in enumerate(receipt.lines):
        if line.prepayment:
            continue
        field = f"lines[{number}].invoice_no"
        item = check_open_invoice(
            session, ctx, receipt.division, receipt.customer_no, line.invoice_no, invoice_type=line.invoice_type,
            field=field, row=lookups.open_item(receipt.division, receipt.customer_no, line.invoice_no,
                                               line.invoice_type),
        )
        check_amount_within_balance(
            operation=ctx.operation, reference=ctx.reference, field=f"lines[{number}].amount",
            invoice_no=line.invoice_no, amount=line.amount, balance=available(item),
        )


# ------------------------------------------------------------------------------------ entry


def _deposit_no(session: DemoSession, receipt: CardReceipt) -> str:
    """Reuse the card deposit with this bank code, date and description, else open a new one."""
    key = {
        "BankCode": receipt.bank_code,
        "DepositDate": receipt.deposit_date,
        "DepositDesc": receipt.deposit_description,
        "DepositType": CARD_DEPOSIT,
    }
    pending = session.select_one("AR_CashReceiptsDeposit", key, columns=("DepositNo",))
    if pending is not None:
        return pending["DepositNo"]
    posted = session.select_one("AR_CashReceiptsHistory", key, columns=("DepositNo",))
    deposit_no = posted["DepositNo"] if posted is not None else next_number(session, "DepositNo")
    session.insert("AR_CashReceiptsDeposit", {**key, "DepositNo": deposit_no})
    return deposit_no


def _insert_header(session: DemoSession, receipt: CardReceipt, deposit_no: str, entry_no: str) -> Row:
    header = header_row(receipt, deposit_no, entry_no, _saved_card_id(session, receipt))
    session.insert("AR_CashReceiptsHeader", header)
    return header


def header_row(receipt: CardReceipt, deposit_no: str, entry_no: str, card_id: str) -> Row:
    """The receipt's AR_CashReceiptsHeader row; `card_id`: the saved card's CreditCardID, or blank."""
    return {
        "DepositNo": deposit_no,
        "ARDivisionNo": receipt.division,
        "CustomerNo": receipt.customer_no,
        "CreditCardEntryNo": entry_no,
        "CheckNo": "",
        "DepositType": CARD_DEPOSIT,
        "PostingAmt": receipt.amount,
        "PaymentType": receipt.payment_type,
        "CreditCardID": card_id,
        "CreditCardGUID": receipt.credit_card_guid,
        "CardType": receipt.card_type,
        "Last4UnencryptedCreditCardNos": receipt.last4,
        "ExpirationDateYear": str(receipt.expiration_year or ""),
        "ExpirationDateMonth": str(receipt.expiration_month).zfill(2) if receipt.expiration_month else "",
        "CardholderName": receipt.cardholder_name,
        "CreditCardTransactionID": receipt.transaction_id,
        "CreditCardAuthorizationNo": receipt.authorization_no,
        "AuthorizationDate": receipt.deposit_date,
        "CreditCardComment": receipt.comment,
    }


def _saved_card_id(session: DemoSession, receipt: CardReceipt) -> str:
    if not receipt.credit_card_guid:
        return ""
    card = session.select_one(
        "AR_CustomerCreditCard",
        {
            "ARDivisionNo": receipt.division,
            "CustomerNo": receipt.customer_no,
            "CreditCardGUID": receipt.credit_card_guid,
        },
        columns=("CreditCardID",),
    )
    return card["CreditCardID"] if card else ""


def _insert_lines(session: DemoSession, receipt: CardReceipt, header: Row) -> None:
    for number, line in enumerate(receipt.lines, start=1):
        item = open_item(session, receipt.division, receipt.customer_no, line.invoice_no, line.open_item_type,
                         columns=_OPEN_ITEM_COLUMNS)
        session.insert("AR_CashReceiptsDetail", detail_row(receipt, header, number, line, item))
        if item is not None and not line.prepayment:
            _change_open_item(session, item, payments_today=item["PaymentsToday"] + line.amount)


def detail_row(receipt: CardReceipt, header: Row, number: int, line: ReceiptLine, item: Row | None) -> Row:
    """The AR_CashReceiptsDetail row of the receipt's `number`-th line (1-based); `item`: its open item."""
    return {
        **{key: header[key] for key in _HEADER_KEY},
        "LineKey": str(number).zfill(6),
        "LineSeqNo": str(number).zfill(6),
        "LineType": "I",
        "InvoiceNo": line.invoice_no,
        "InvoiceType": line.open_item_type,
        "AmountPosted": line.amount,
        "InvoiceBalance": item["Balance"] if item else ZERO,
        "Comment": receipt.comment,
    }


def _change_open_item(session: DemoSession, item: Row, **values: Decimal) -> None:
    where = {key: item[key] for key in ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")}
    column_keys = {"payments_today": "PaymentsToday", "balance": "Balance"}
    session.update("AR_OpenInvoice", where, {column_keys[name]: value for name, value in values.items()})


def _refresh_deposit(session: DemoSession, deposit_no: str) -> None:
    """Card deposit total = the receipts still in entry; an emptied deposit is removed."""
    headers = session.select("AR_CashReceiptsHeader", {"DepositNo": deposit_no}, columns=("PostingAmt", "DepositType"))
    if not headers:
        session.delete("AR_CashReceiptsDeposit", {"DepositNo": deposit_no})
        return
    card_total = total(h["PostingAmt"] for h in headers if h["DepositType"] == CARD_DEPOSIT)
    session.update(
        "AR_CashReceiptsDeposit",
        {"DepositNo": deposit_no},
        {"CreditCardDepositAmt": card_total, "CreditCardBalanceAmt": ZERO, "DepositBalance": ZERO},
    )


# ----------------------------------------------------------------------------- journal update


def update_cash_receipts_journal(session: DemoSession) -> list[str]:
    """Post every card receipt in entry under one journal register; returns the deposit numbers."""
    headers = session.select("AR_CashReceiptsHeader", order_by=("DepositNo", "CreditCardEntryNo"))
    if not headers:
        return []
    register_no = next_number(session, "JournalRegisterNo")
    deposits: list[str] = []
    for header in headers:
        post_receipt(session, header, register_no)
        if header["DepositNo"] not in deposits:
            deposits.append(header["DepositNo"])
    for deposit_no in deposits:
        _refresh_deposit(session, deposit_no)
    return deposits


def post_receipt(session: DemoSession, header: Row, register_no: str) -> None:
    """Move one receipt from the entry tables to history, open items, customer and GL."""
    key = {k: header[k] for k in _HEADER_KEY}
    deposit = session.select_one("AR_CashReceiptsDeposit", {"DepositNo": header["DepositNo"]})
    customer = session.select_one(
        "AR_Customer", {"ARDivisionNo": header["ARDivisionNo"], "CustomerNo": header["CustomerNo"]},
        columns=_CUSTOMER_COLUMNS,
    )
    assert deposit is not None and customer is not None
    lines = session.select("AR_CashReceiptsDetail", key, order_by=("LineKey",))
    for sequence, line in enumerate(lines, start=1):
        balance_after = _apply_line(session, header, deposit, line)
        _history_row(session, header, deposit, customer, line, sequence=sequence, balance_after=balance_after)
        _payment_history_row(session, header, deposit, line)
    _update_customer(session, customer, header, deposit)
    post_receipt_gl(session, header, deposit, customer, register_no)
    session.delete("AR_CashReceiptsDetail", key)
    session.delete("AR_CashReceiptsHeader", key)


def _apply_line(session: DemoSession, header: Row, deposit: Row, line: Row) -> Decimal:
    """Reduce the open item (or open/extend the prepayment); returns the balance after."""
    item = open_item(session, header["ARDivisionNo"], header["CustomerNo"], line["InvoiceNo"], line["InvoiceType"],
                     columns=_OPEN_ITEM_COLUMNS)
    amount = line["AmountPosted"]
    if item is not None:
        payments_today = max(ZERO, item["PaymentsToday"] - amount) if line["InvoiceType"] != "PP" else ZERO
        balance = item["Balance"] - amount
        _change_open_item(session, item, balance=balance, payments_today=payments_today)
        return balance
    if line["InvoiceType"] != "PP":  # validated at entry; an item cannot vanish while in PaymentsToday
        raise AssertionError(f"open item {line['InvoiceNo']} disappeared before the update")
    session.insert("AR_OpenInvoice", prepayment_row(header, deposit, line))
    return -amount


def prepayment_row(header: Row, deposit: Row, line: Row) -> Row:
    """The PP open item a prepayment line opens (balance: minus the amount)."""
    return {
        "ARDivisionNo": header["ARDivisionNo"],
        "CustomerNo": header["CustomerNo"],
        "InvoiceNo": line["InvoiceNo"],
        "InvoiceType": "PP",
        "InvoiceDate": deposit["DepositDate"],
        "PostingDate": deposit["DepositDate"],
        "Comment": "Prepayment",
        "CheckNo": header["CheckNo"],
        "PostingReference": f"{header['DepositNo']}-{header['CreditCardEntryNo']}",
        "Balance": -line["AmountPosted"],
    }


def _history_row(
    session: DemoSession, header: Row, deposit: Row, customer: Row, line: Row, *, sequence: int, balance_after: Decimal
) -> None:
    session.insert("AR_CashReceiptsHistory", history_row(header, deposit, customer, line, sequence=sequence,
                                                         balance_after=balance_after))


def history_row(header: Row, deposit: Row, customer: Row, line: Row, *, sequence: int, balance_after: Decimal) -> Row:
    """The AR_CashReceiptsHistory row of a posted line (`sequence`: 1-based within the receipt)."""
    return {
        "BankCode": deposit["BankCode"],
        "DepositDate": deposit["DepositDate"],
        "DepositNo": header["DepositNo"],
        "DepositType": header["DepositType"],
        "ARDivisionNo": header["ARDivisionNo"],
        "CustomerNo": header["CustomerNo"],
        "CheckNo": header["CheckNo"],
        "SequenceNo": str(sequence).zfill(6),
        "PostingDate": deposit["DepositDate"],
        "CustomerName": customer["CustomerName"],
        "OpenItemCustomer": customer["OpenItemCustomer"],
        "InvoiceNo": line["InvoiceNo"],
        "InvoiceType": line["InvoiceType"],
        "DepositDesc": deposit["DepositDesc"],
        "BatchNo": header["BatchNo"],
        "CashAmountApplied": line["AmountPosted"],
        "DiscountAmountApplied": line["DiscountAmt"],
        "InvoiceBalance": balance_after,
        "Comment": line["Comment"],
        "CreditCardEntryNo": header["CreditCardEntryNo"],
        **{k: header[k] for k in _CARD_COLUMNS},
    }


_CARD_COLUMNS = (
    "PaymentType",
    "CreditCardID",
    "CardType",
    "Last4UnencryptedCreditCardNos",
    "ExpirationDateYear",
    "ExpirationDateMonth",
    "CardholderName",
    "CreditCardTransactionID",
    "CreditCardAuthorizationNo",
    "AuthorizationDate",
    "CreditCardComment",
)


def _payment_history_row(session: DemoSession, header: Row, deposit: Row, line: Row) -> None:
    item = open_item(session, header["ARDivisionNo"], header["CustomerNo"], line["InvoiceNo"], line["InvoiceType"],
                     columns=("InvoiceHistoryHeaderSeqNo",))
    insert_payment_history(session, header, deposit, line, item)


def payment_history_key(header: Row, deposit: Row, line: Row) -> Row:
    """The invoice and day a line's AR_TransactionPaymentHistory row is numbered within."""
    return {
        "ARDivisionNo": header["ARDivisionNo"],
        "CustomerNo": header["CustomerNo"],
        "InvoiceNo": line["InvoiceNo"],
        "InvoiceType": line["InvoiceType"],
        "TransactionDate": deposit["DepositDate"],
    }


def last_payment_history_number(session: DemoSession, key: Row) -> int:
    return session.max_number("AR_TransactionPaymentHistory", "SequenceNo", key)


def insert_payment_history(session: DemoSession, header: Row, deposit: Row, line: Row, item: Row | None,
                           *, sequence: int | None = None) -> None:
    """The line's AR_TransactionPaymentHistory row (type P), numbered after the invoice's others that day
    (`sequence`: that number, when the caller keeps count); `item`: the open item after the line was applied."""
    key = payment_history_key(header, deposit, line)
    if sequence is None:
        sequence = last_payment_history_number(session, key) + 1
    session.insert(
        "AR_TransactionPaymentHistory",
        {
            **key,
            "SequenceNo": str(sequence).zfill(6),
            "InvoiceHistoryHeaderSeqNo": item["InvoiceHistoryHeaderSeqNo"] if item else "",
            "PaymentReference": f"{header['DepositNo']}-{header['CreditCardEntryNo']}",
            "CheckNo": header["CheckNo"],
            "TransactionType": "P",
            "PaymentDate": deposit["DepositDate"],
            "PaymentType": header["PaymentType"],
            "CardholderName": header["CardholderName"],
            "ExpirationDateYear": header["ExpirationDateYear"],
            "ExpirationDateMonth": header["ExpirationDateMonth"],
            "CreditCardAuthorizationNo": header["CreditCardAuthorizationNo"],
            "Last4UnencryptedCreditCardNos": header["Last4UnencryptedCreditCardNos"],
            "CreditCardTransactionID": header["CreditCardTransactionID"],
            "TransactionAmt": line["AmountPosted"],
            "CreditCardID": header["CreditCardID"],
            "CardType": header["CardType"],
            "CreditCardEntryNo": header["CreditCardEntryNo"],
        },
    )


def _update_customer(session: DemoSession, customer: Row, header: Row, deposit: Row) -> None:
    values = customer_changes(customer, header, deposit)
    session.update(
        "AR_Customer", {"ARDivisionNo": customer["ARDivisionNo"], "CustomerNo": customer["CustomerNo"]}, values
    )
    customer.update(values)  # a later receipt of the same customer in this update sees the new totals


def customer_changes(customer: Row, header: Row, deposit: Row) -> Row:
    """What a posted receipt changes on its customer: balance, last payment, last activity."""
    paid_on = deposit["DepositDate"]
    values: dict = {"CurrentBalance": customer["CurrentBalance"] - header["PostingAmt"]}
    if customer["DateLastPayment"] is None or paid_on >= customer["DateLastPayment"]:
        values.update(DateLastPayment=paid_on, LastPaymentAmt=header["PostingAmt"])
    if customer["DateLastActivity"] is None or paid_on > customer["DateLastActivity"]:
        values["DateLastActivity"] = paid_on
    return values


def post_receipt_gl(session: DemoSession, header: Row, deposit: Row, customer: Row, register_no: str) -> None:
    """The receipt's CR register: Dr the payment type's clearing account, Cr the division's AR control."""
    payment_type = session.select_one("AR_PaymentType", {"PaymentType": header["PaymentType"]})
    division = session.select_one("AR_Division", {"ARDivisionNo": header["ARDivisionNo"]})
    assert payment_type is not None and division is not None
    amount = header["PostingAmt"]
    comment = (
        f"{header['ARDivisionNo']}-{header['CustomerNo']} {customer['CustomerName']}"
        f" card entry {header['CreditCardEntryNo']} {header['PaymentType']} {header['CreditCardTransactionID']}"
    )
    post_gl(
        session,
        journal=CASH_RECEIPTS_JOURNAL,
        register_no=register_no,
        posting_date=deposit["DepositDate"],
        lines=[
            GLLine(payment_type["AssetAcctKey"], debit=amount, comment=comment),
            GLLine(division["AccountsReceivableAcctKey"], credit=amount, comment=comment),
        ],
        module="A/R",
        document_no=header["DepositNo"],
    )
