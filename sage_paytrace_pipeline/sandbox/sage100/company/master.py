"""Master-data checks of the demo writer, the way Sage's entry screens refuse a document.

Each ``require_*`` returns the row (keyed by schema column keys) or raises the specific
`Sage100ValidationError` subclass with the field, the problem and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sage_paytrace_pipeline.sage100.errors import (
    InactiveAccountError,
    InactiveCustomerError,
    InactiveItemError,
    InvoiceNotOpenError,
    InvoiceOfAnotherCustomerError,
    Sage100ValidationError,
    UnknownAccountError,
    UnknownBankCodeError,
    UnknownCustomerError,
    UnknownItemError,
    UnknownPaymentTypeError,
)
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row


@dataclass(frozen=True)
class Ctx:
    """Which call a check belongs to, for the error message."""

    operation: str
    reference: str

    def error(self, cls: type[Sage100ValidationError], field: str, problem: str, fix: str) -> Sage100ValidationError:
        return cls(operation=self.operation, reference=self.reference, field=field, problem=problem, fix=fix)


def require_division(session: DemoSession, ctx: Ctx, division: str) -> Row:
    row = session.select_one("AR_Division", {"ARDivisionNo": division})
    if row is None:
        raise ctx.error(
            UnknownCustomerError, "division", f"AR division {division} does not exist",
            "use a division set up in Accounts Receivable > Division Maintenance (00 when divisions are off)",
        )
    require_account_key(session, ctx, row["AccountsReceivableAcctKey"], f"AR_Division {division} AR control account")
    return row


def require_customer(
    session: DemoSession, ctx: Ctx, division: str, customer_no: str, *, columns: Sequence[str] | None = None
) -> Row:
    """The active customer; `columns` (besides the status) when the caller needs only those."""
    wanted = None if columns is None else ("CustomerStatus", *columns)
    row = session.select_one("AR_Customer", {"ARDivisionNo": division, "CustomerNo": customer_no}, columns=wanted)
    return check_customer(ctx, division, customer_no, row)


def check_customer(ctx: Ctx, division: str, customer_no: str, row: Row | None) -> Row:
    """`require_customer` on a row already read (None: not found)."""
    if row is None:
        raise ctx.error(
            UnknownCustomerError, "customer_no", f"customer {division}-{customer_no} does not exist",
            "create the customer first (upsert_customer) or correct the customer number",
        )
    if row["CustomerStatus"] == "I":
        raise ctx.error(
            InactiveCustomerError, "customer_no", f"customer {division}-{customer_no} is inactive",
            "reactivate the customer in AR Customer Maintenance or use the active customer it was replaced by",
        )
    return row


def require_account_key(session: DemoSession, ctx: Ctx, account_key: str, what: str) -> Row:
    """A GL account referenced by a master record (AR control, clearing, sales...) must be active."""
    row = session.select_one("GL_Account", {"AccountKey": account_key}) if account_key else None
    if row is None:
        raise ctx.error(
            UnknownAccountError, what, f"GL account key {account_key or '(blank)'} does not exist",
            f"set a valid GL account on the {what.split(' ', maxsplit=1)[0]} record",
        )
    _require_active(ctx, row, what)
    return row


def resolve_account(session: DemoSession, ctx: Ctx, account: str, field: str) -> Row:
    """A GL account by its formatted Account ("1010-00") or its AccountKey; must be active."""
    row = session.select_one("GL_Account", {"Account": account}) or session.select_one(
        "GL_Account", {"AccountKey": account}
    )
    if row is None:
        raise ctx.error(
            UnknownAccountError, field, f"GL account {account} does not exist",
            "use an account from General Ledger > Account Maintenance (formatted like 1010-00)",
        )
    _require_active(ctx, row, field)
    return row


def _require_active(ctx: Ctx, row: Row, field: str) -> None:
    if row["Status"] != "A":
        state = {"I": "inactive", "D": "deleted"}.get(row["Status"], f"status {row['Status'] or 'blank'}")
        raise ctx.error(
            InactiveAccountError, field, f"GL account {row['Account']} is {state}",
            "post to an active account, or reactivate it in Account Maintenance",
        )


def require_card_payment_type(session: DemoSession, ctx: Ctx, payment_type: str) -> Row:
    """A credit card payment type (PaymentMethod R) with an active asset (card clearing) account."""
    row = session.select_one("AR_PaymentType", {"PaymentType": payment_type})
    if row is None:
        raise ctx.error(
            UnknownPaymentTypeError, "payment_type", f"payment type {payment_type} does not exist",
            "map the card brand to a Sage payment type set up in Payment Type Maintenance",
        )
    if row["PaymentMethod"] != "R":
        raise ctx.error(
            UnknownPaymentTypeError, "payment_type",
            f"payment type {payment_type} has payment method {row['PaymentMethod'] or 'blank'}, not R (credit card)",
            "use a credit card payment type (Payment Method: Credit Card)",
        )
    if not row["AssetAcctKey"]:
        raise ctx.error(
            UnknownPaymentTypeError, "payment_type", f"payment type {payment_type} has no asset (clearing) account",
            "set the card clearing account as the payment type's Asset Account",
        )
    require_account_key(session, ctx, row["AssetAcctKey"], f"AR_PaymentType {payment_type} asset account")
    return row


def payment_type_exists(session: DemoSession, payment_type: str) -> bool:
    return session.select_one("AR_PaymentType", {"PaymentType": payment_type}) is not None


def require_bank_code(session: DemoSession, ctx: Ctx, bank_code: str) -> Row:
    row = session.select_one("bank_codes", {"BankCode": bank_code})
    if row is None:
        raise ctx.error(
            UnknownBankCodeError, "bank_code", f"bank code {bank_code} does not exist",
            "use a bank code from Bank Code Maintenance (A is the default)",
        )
    return row


def require_item(session: DemoSession, ctx: Ctx, item_code: str, field: str) -> Row:
    row = session.select_one("CI_Item", {"ItemCode": item_code})
    if row is None:
        raise ctx.error(
            UnknownItemError, field, f"item {item_code} does not exist",
            "use an item from Item Maintenance or add the item first",
        )
    if row["InactiveItem"] == "Y":
        raise ctx.error(
            InactiveItemError, field, f"item {item_code} is inactive",
            "order an active item or reactivate it in Item Maintenance",
        )
    return row


def open_item(
    session: DemoSession, division: str, customer_no: str, invoice_no: str, invoice_type: str, *,
    columns: Sequence[str] | None = None,
) -> Row | None:
    return session.select_one(
        "AR_OpenInvoice",
        {"ARDivisionNo": division, "CustomerNo": customer_no, "InvoiceNo": invoice_no, "InvoiceType": invoice_type},
        columns=columns,
    )


def available(row: Row) -> Decimal:
    """What can still be applied to an open item: Balance less amounts in unposted receipts."""
    return row["Balance"] - row["PaymentsToday"]


def require_open_invoice(
    session: DemoSession, ctx: Ctx, division: str, customer_no: str, invoice_no: str, *, invoice_type: str, field: str,
    columns: Sequence[str] | None = None,
) -> Row:
    """An open item of *this* customer with something left to pay (`columns`: only those, and the balances)."""
    wanted = None if columns is None else ("Balance", "PaymentsToday", *columns)
    row = open_item(session, division, customer_no, invoice_no, invoice_type, columns=wanted)
    return check_open_invoice(session, ctx, division, customer_no, invoice_no, invoice_type=invoice_type,
                              field=field, row=row)


def check_open_invoice(
    session: DemoSession, ctx: Ctx, division: str, customer_no: str, invoice_no: str, *, invoice_type: str,
    field: str, row: Row | None,
) -> Row:
    """`require_open_invoice` on a row already read (None: not an open item of this customer)."""
    if row is None:
        others = session.select("AR_OpenInvoice", {"InvoiceNo": invoice_no, "InvoiceType": invoice_type})
        if others:
            owner = others[0]
            raise ctx.error(
                InvoiceOfAnotherCustomerError, field,
                f"invoice {invoice_type} {invoice_no} belongs to customer"
                f" {owner['ARDivisionNo']}-{owner['CustomerNo']}, not {division}-{customer_no}",
                "apply the payment to this customer's own invoices, or post it to the invoice's customer",
            )
        raise ctx.error(
            InvoiceNotOpenError, field,
            f"invoice {invoice_type} {invoice_no} is not an open item of customer {division}-{customer_no}",
            "check the invoice number, or post the amount as a prepayment line",
        )
    if available(row) <= 0:
        raise ctx.error(
            InvoiceNotOpenError, field,
            f"invoice {invoice_type} {invoice_no} has nothing left to pay (balance {row['Balance']:.2f},"
            f" in unposted receipts {row['PaymentsToday']:.2f})",
            "apply the amount to another open invoice or as a prepayment line",
        )
    return row
