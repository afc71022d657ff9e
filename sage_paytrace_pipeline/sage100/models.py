"""Typed, read-only views of Sage 100 rows, and the value conversions every driver needs.

The views the domain works with (`Customer`, `CustomerCard`, `OpenInvoice`) are the domain's
(`domain.ledger`), re-exported here; the others are what only the Sage adapter and its callers read.

ProvideX ODBC returns doubles and right-padded strings, SQL Server returns Decimal and
1753-01-01 for blank dates, SQLite returns what was stored: the `as_*` helpers turn all of them
into exact `Decimal`, `date` or stripped `str` so the models never see driver differences.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sage_paytrace_pipeline.domain.ledger import Customer, CustomerCard, OpenInvoice, ReadModel
from sage_paytrace_pipeline.domain.money import round_to_cent

# Public names: the domain's ledger views (re-exported for the adapter's callers) and what is defined here.
__all__ = [
    "BankCode",
    "Customer",
    "CustomerCard",
    "CustomerStamp",
    "GlAccount",
    "OpenInvoice",
    "PaymentType",
    "PostedReceipt",
    "ReceiptLine",
    "SalesOrder",
    "SalesOrderLine",
    "as_date",
    "as_flag",
    "as_money",
    "as_quantity",
    "as_text",
]

_QUANTITY = Decimal("0.000001")
_BLANK_DATES = {date(1753, 1, 1), date(1900, 1, 1)}  # Premium and some ODBC clients' "no date"


def as_text(value: object) -> str:
    """Sage strings: never None, trailing pad removed."""
    return "" if value is None else str(value).rstrip()


def as_money(value: object) -> Decimal:
    """Exact cents; via str() so a double like 12.299999 from ODBC becomes 12.30, not 12.29."""
    if value is None or value == "":
        return Decimal("0.00")
    return round_to_cent(Decimal(str(value)))


def as_quantity(value: object) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    quantity = Decimal(str(value)).quantize(_QUANTITY, rounding=ROUND_HALF_UP).normalize()
    # normalize() writes 100 as 1E+2; keep plain integers plain (a NaN's exponent is a letter: left as is)
    exponent = quantity.as_tuple().exponent
    return quantity.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else quantity


def as_date(value: object) -> date | None:
    """DATE from ODBC / sqlite converters, ISO text, or ProvideX YYYYMMDD; blank dates are None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    elif not isinstance(value, date):
        text = str(value).strip()
        if not text:
            return None
        value = date.fromisoformat(text[:10]) if "-" in text else datetime.strptime(text[:8], "%Y%m%d").date()
    return None if value in _BLANK_DATES else value


def as_flag(value: object) -> bool:
    return as_text(value).upper() == "Y"


class CustomerStamp(ReadModel):
    """AR_Customer's audit columns: when (Sage's own clock, no zone) and by whom a customer last changed."""

    division: str
    customer_no: str
    date_created: date | None = None
    time_created: str = ""  # decimal hours, e.g. "15.5" = 15:30
    date_updated: date | None = None
    time_updated: str = ""
    user_updated: str = ""


class PaymentType(ReadModel):
    payment_type: str
    description: str
    payment_method: str  # C check, O other, R credit card, D COD, A ACH [?]
    asset_account_key: str = ""
    accrual_account_key: str = ""

    @property
    def is_card(self) -> bool:
        return self.payment_method == "R"


class GlAccount(ReadModel):
    account_key: str
    account: str  # formatted, e.g. "1010-00"
    description: str
    status: str  # A active, I inactive, D deleted
    account_type: str = ""

    @property
    def active(self) -> bool:
        return self.status == "A"


class BankCode(ReadModel):
    bank_code: str
    description: str = ""
    cash_account_key: str = ""


class ReceiptLine(ReadModel):
    invoice_no: str
    invoice_type: str
    amount: Decimal


class PostedReceipt(ReadModel):
    """A receipt Sage already holds for one gateway transaction id (entered or posted)."""

    transaction_id: str
    posted: bool  # True: AR_CashReceiptsHistory; False: still in the entry tables
    deposit_no: str
    division: str
    customer_no: str
    entry_no: str  # CreditCardEntryNo
    check_no: str
    amount: Decimal
    lines: tuple[ReceiptLine, ...] = ()
    bank_code: str = ""
    deposit_date: date | None = None
    payment_type: str = ""
    authorization_no: str = ""
    last4: str = ""


class SalesOrderLine(ReadModel):
    line_key: str
    line_seq_no: str
    item_code: str
    item_type: str
    description: str
    warehouse_code: str
    quantity_ordered: Decimal
    quantity_shipped: Decimal
    unit_price: Decimal
    extension_amt: Decimal


class SalesOrder(ReadModel):
    sales_order_no: str
    order_date: date | None
    order_type: str
    order_status: str
    division: str
    customer_no: str
    bill_to_name: str = ""
    customer_po_no: str = ""
    terms_code: str = ""
    payment_type: str = ""
    taxable_amt: Decimal = Decimal("0.00")
    non_taxable_amt: Decimal = Decimal("0.00")
    sales_tax_amt: Decimal = Decimal("0.00")
    freight_amt: Decimal = Decimal("0.00")
    discount_amt: Decimal = Decimal("0.00")
    deposit_amt: Decimal = Decimal("0.00")
    lines: tuple[SalesOrderLine, ...] = ()

    @property
    def total(self) -> Decimal:
        return self.taxable_amt + self.non_taxable_amt + self.sales_tax_amt + self.freight_amt - self.discount_amt


class CreditMemoRequest(ReadModel):
    """A credit memo a clerk marked for a card refund (a card payment type in its PaymentType)."""

    division: str
    customer_no: str
    memo_no: str
    header_seq_no: str
    memo_date: date | None
    amount: Decimal  # positive: the credit to return to the card
    apply_to_invoice_no: str = ""
    payment_type: str = ""
    reference: str = ""  # UDF_PAYTRACE_REF
    entered_by: str = ""  # UserCreatedKey: the requester
    comment: str = ""


class InvoiceCardPayment(ReadModel):
    """A posted card payment on an invoice (AR_TransactionPaymentHistory P row with a gateway id)."""

    division: str
    customer_no: str
    invoice_no: str
    transaction_id: str
    amount: Decimal  # positive: what the payment applied to this invoice
    payment_type: str = ""
    payment_date: date | None = None
    last4: str = ""


# ------------------------------------------------------------------ card refunds (PayTrace refunds recorded)


class RefundPortion(ReadModel):
    """Part of a recorded refund: the open item it consumed credit from (a memo's tag "CM<no>" when known)."""

    invoice_no: str
    invoice_type: str
    amount: Decimal  # positive: the credit consumed
    memo_tag: str = ""


class RecordedRefund(ReadModel):
    """A card refund Sage holds for one PayTrace refund id (AR_TransactionPaymentHistory P rows, negative)."""

    transaction_id: str
    division: str
    customer_no: str
    entry_no: str  # CreditCardEntryNo
    refund_date: date | None
    payment_type: str
    amount: Decimal  # positive
    portions: tuple[RefundPortion, ...] = ()
