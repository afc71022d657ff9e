"""What the pipeline asks Sage 100 to do: frozen input documents and the result of each operation.

These models check *shape* only (lengths, two-decimal money, dates, no card numbers). Whether a
document fits the company (customer active, invoice open, accounts valid, lines summing to the
header) is decided by the writer against Sage's data and reported as a `Sage100ValidationError`.

Conventions (reference/sage100.md):
- Key fields (division, customer, invoice, payment type, bank code, item, transaction id) are
  stripped and refused when longer than Sage's column; divisions and customer numbers are
  upper-cased as Sage stores them.
- Descriptive free text (names, comments, descriptions) loses bidi and control characters, is
  masked for card numbers (`domain.free_text.storable_text`) and cut to Sage's length, as Sage's own
  entry screens do. A value a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``@SUM``,
  ``+cmd``) is stored with a leading apostrophe (`domain.free_text.sheet_safe`): these fields carry
  outside text (a cardholder types the billing name that becomes an auto-created customer's name)
  and Sage users export customer lists and reports to Excel, which Sage does not guard. Names like
  ``O'Brien`` and plain numbers (``-5.00``) are unchanged.
- Money is `Decimal` with two decimals (`parse_money`: floats are refused); quantities and unit
  prices allow six decimals (Sage `15.6`).
- Nothing here can carry a full card number: key fields that look like one are refused, and
  `VaultCard` refuses one in any field. Validation errors never echo the input.

The shared base (`LedgerDocument`: key lengths, free text, the card-number guard) and the journal
documents (`JournalEntry`, `JournalLine`) are the domain's (`domain.ledger`), re-exported here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sage_paytrace_pipeline.domain.ledger import (
    BRAND_BY_CARD_TYPE,
    CARD_TYPE_BY_BRAND,
    JournalEntry,
    JournalLine,
    LedgerDocument,
    free_text,
    key_field,
    max_length,
)
from sage_paytrace_pipeline.domain.money import parse_money

# Public names: the domain's journal documents, re-exported beside the Sage documents defined here.
__all__ = [
    "RECEIPT_INVOICE_TYPES",
    "CardReceipt",
    "CardRefund",
    "CreditMemo",
    "CustomerBillingUpdate",
    "CustomerRecord",
    "DocumentResult",
    "JournalEntry",
    "JournalLine",
    "ReceiptLine",
    "SalesOrder",
    "SalesOrderLine",
    "VaultCard",
    "card_type_code",
]

RECEIPT_INVOICE_TYPES = frozenset({"IN", "DM", "FC"})  # open items a payment can reduce


def _money(value: Any, field: str, *, positive: bool = True) -> Decimal:
    amount = parse_money(value, field=field)
    if positive and amount <= 0:
        raise ValueError(f"{field} must be greater than zero")
    return amount


def _quantity(value: Any, field: str) -> Decimal:
    if isinstance(value, (float, bool)) or value is None:
        raise ValueError(f"{field}: pass a str, int or Decimal (floats are refused)")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{field}: not a number") from None
    if not number.is_finite() or number != number.quantize(Decimal("0.000001")):
        raise ValueError(f"{field}: at most six decimals (Sage 15.6)")
    return number


def card_type_code(value: str) -> str:
    """Sage's 1-char CardType (CARD_TYPE_BY_BRAND) from a brand name (``VISA``) or a code.

    Unknown brands give '' (Sage leaves the field blank rather than guess).
    """
    text = (value or "").strip().upper()
    if text in BRAND_BY_CARD_TYPE or not text:
        return text
    return CARD_TYPE_BY_BRAND.get(text, "")


def _division(value: Any) -> str:
    text = str(value).strip()
    if len(text) != 2 or not text.isdigit():
        raise ValueError("division is Sage's 2-digit ARDivisionNo, e.g. '00' or '01'")
    return text


def _last4(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if text and (len(text) != 4 or not text.isdigit()):
        raise ValueError("last4 must be exactly four digits (or empty)")
    return text


def _year(value: Any) -> int | None:
    if value in (None, ""):
        return None
    year = int(value)
    year = 2000 + year if 0 <= year < 100 else year
    if not 2000 <= year <= 2099:
        raise ValueError("expiration year must be 2000-2099")
    return year


# ------------------------------------------------------------------------------- cash receipts


class ReceiptLine(LedgerDocument):
    """One distribution line: `amount` applied to an open invoice, or a prepayment (``PP``)."""

    invoice_no: str
    invoice_type: str = "IN"
    amount: Decimal
    prepayment: bool = False  # True -> a PP open item under invoice_no (negative balance)

    _check_invoice = field_validator("invoice_no", mode="before")(key_field(7, upper=True))

    @field_validator("invoice_type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        text = str(value).strip().upper()
        if text not in RECEIPT_INVOICE_TYPES:
            raise ValueError(f"invoice_type must be one of {sorted(RECEIPT_INVOICE_TYPES)}")
        return text

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return _money(value, "amount")

    @property
    def open_item_type(self) -> str:
        """The AR_OpenInvoice.InvoiceType this line touches."""
        return "PP" if self.prepayment else self.invoice_type


class CardReceipt(LedgerDocument):
    """A card payment captured by PayTrace, to be entered as a Sage cash receipt (deposit type R)."""

    _free_text_fields: ClassVar[dict[str, int]] = {
        "deposit_description": 30,
        "cardholder_name": 50,
        "comment": 30,
    }

    transaction_id: str  # PayTrace transaction id -> CreditCardTransactionID (idempotency key)
    division: str
    customer_no: str
    deposit_date: date
    bank_code: str
    deposit_description: str
    payment_type: str
    amount: Decimal  # PostingAmt
    authorization_no: str = ""
    last4: str = ""
    expiration_year: int | None = None
    expiration_month: int | None = Field(default=None, ge=1, le=12)
    card_type: str = ""
    cardholder_name: str = ""
    credit_card_guid: str = ""
    comment: str = ""
    lines: tuple[ReceiptLine, ...] = Field(min_length=1)

    _check_tx = field_validator("transaction_id", mode="before")(key_field(15))
    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_bank = field_validator("bank_code", mode="before")(key_field(1, upper=True))
    _check_payment = field_validator("payment_type", mode="before")(key_field(5, upper=True))
    _check_auth = field_validator("authorization_no", mode="before")(key_field(16, required=False))
    _check_guid = field_validator("credit_card_guid", mode="before")(key_field(32, required=False))
    _check_last4 = field_validator("last4", mode="before")(_last4)
    _check_year = field_validator("expiration_year", mode="before")(_year)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return _money(value, "amount")

    @field_validator("card_type", mode="before")
    @classmethod
    def _card_type(cls, value: Any) -> str:
        return card_type_code(str(value or ""))

    @model_validator(mode="after")
    def _distinct_lines(self) -> CardReceipt:
        keys = [(line.invoice_no, line.open_item_type) for line in self.lines]
        if len(keys) != len(set(keys)):
            raise ValueError("two lines apply to the same open item; combine them into one line")
        return self


# ------------------------------------------------------------------------- customers and cards


class CustomerRecord(LedgerDocument):
    """A customer to create (``customer_no`` None -> Sage's next number) or update.

    On update, empty strings keep Sage's current value: the pipeline never blanks a Sage field.
    """

    _free_text_fields: ClassVar[dict[str, int]] = {
        "name": 50,
        "address_line1": 40,
        "address_line2": 40,
        "address_line3": 40,
        "city": 30,
    }

    reference: str  # stored in AR_Customer.UDF_PAYTRACE_REF (e.g. the PayTrace customer id)
    division: str
    customer_no: str | None = None
    name: str
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    country_code: str = "USA"
    phone: str = ""
    email: str = ""
    terms_code: str = ""
    payment_type: str = ""  # DefaultPaymentType; empty on create -> CHECK when the company has it

    _check_reference = field_validator("reference", mode="before")(key_field(30))
    _check_division = field_validator("division", mode="before")(_division)
    _check_state = field_validator("state", mode="before")(key_field(2, upper=True, required=False))
    _check_zip = field_validator("zip_code", mode="before")(key_field(10, required=False))
    _check_country = field_validator("country_code", mode="before")(key_field(3, upper=True, required=False))
    _check_phone = field_validator("phone", mode="before")(key_field(20, required=False))
    _check_email = field_validator("email", mode="before")(key_field(250, required=False))
    _check_terms = field_validator("terms_code", mode="before")(key_field(2, upper=True, required=False))
    _check_payment = field_validator("payment_type", mode="before")(key_field(5, upper=True, required=False))

    @field_validator("customer_no", mode="before")
    @classmethod
    def _customer_no(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        return max_length(str(value).strip().upper(), 20, "customer_no")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value:
            raise ValueError("name is required")
        return value


class CustomerBillingUpdate(LedgerDocument):
    """New billing fields for an existing customer (name, address, phone, e-mail), by customer key.

    A field left None keeps Sage's value; an empty string is refused so the pipeline never blanks
    a Sage field. ``reference`` names the change in results and errors (e.g. the sync decision).
    """

    # Descriptive text is cleaned like CustomerRecord's (masked, cut), but None must stay None here.
    _text_lengths: ClassVar[dict[str, int]] = {"name": 50, "address_line1": 40, "address_line2": 40, "city": 30}

    reference: str
    division: str
    customer_no: str
    name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    email: str | None = None

    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_reference = field_validator("reference", mode="before")(key_field(60))

    @field_validator("name", "address_line1", "address_line2", "city", mode="before")
    @classmethod
    def _descriptive(cls, value: Any, info: Any) -> str | None:
        return None if value is None else free_text(value, cls._text_lengths[info.field_name])

    @field_validator("state", "zip_code", "phone", "email", mode="before")
    @classmethod
    def _key_text(cls, value: Any, info: Any) -> str | None:
        if value is None:
            return None
        limits = {"state": 2, "zip_code": 10, "phone": 20, "email": 250}
        text = max_length(str(value).strip(), limits[info.field_name], info.field_name)
        return text.upper() if info.field_name == "state" else text

    @model_validator(mode="after")
    def _no_blanks(self) -> CustomerBillingUpdate:
        blank = [name for name in self.changes() if not self.changes()[name]]
        if blank:
            raise ValueError(f"{', '.join(blank)}: an empty value would blank Sage's field; leave it None to keep it")
        return self

    def changes(self) -> dict[str, str]:
        """The fields to write (those not None)."""
        fields = ("name", "address_line1", "address_line2", "city", "state", "zip_code", "phone", "email")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


class VaultCard(LedgerDocument):
    """A PayTrace vault profile saved on a Sage customer (AR_CustomerCreditCard); never a card number."""

    _refuse_card_numbers_everywhere: ClassVar[bool] = True

    division: str
    customer_no: str
    credit_card_guid: str  # the PayTrace vault customer id
    payment_type: str
    last4: str
    expiration_year: int
    expiration_month: int = Field(ge=1, le=12)
    card_type: str = ""
    cardholder_name: str = ""
    # The billing address PayTrace checks AVS against (AR_CustomerCreditCard.AVS*); empty keeps Sage's.
    avs_address_line1: str = ""
    avs_address_line2: str = ""
    avs_city: str = ""
    avs_state: str = ""
    avs_zip_code: str = ""

    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_guid = field_validator("credit_card_guid", mode="before")(key_field(32))
    _check_avs1 = field_validator("avs_address_line1", mode="before")(key_field(30, required=False))
    _check_avs2 = field_validator("avs_address_line2", mode="before")(key_field(30, required=False))
    _check_avs_city = field_validator("avs_city", mode="before")(key_field(20, required=False))
    _check_avs_state = field_validator("avs_state", mode="before")(key_field(2, upper=True, required=False))
    _check_avs_zip = field_validator("avs_zip_code", mode="before")(key_field(10, required=False))
    _check_payment = field_validator("payment_type", mode="before")(key_field(5, upper=True))
    _check_year = field_validator("expiration_year", mode="before")(_year)
    _check_name = field_validator("cardholder_name", mode="before")(key_field(30, required=False))

    @field_validator("last4", mode="before")
    @classmethod
    def _required_last4(cls, value: Any) -> str:
        text = _last4(value)
        if not text:
            raise ValueError("last4 is required")
        return text

    @field_validator("card_type", mode="before")
    @classmethod
    def _card_type(cls, value: Any) -> str:
        return card_type_code(str(value or ""))


# ------------------------------------------------------------------------- orders and invoices


class SalesOrderLine(LedgerDocument):
    """One order line. Only a miscellaneous charge (an item code starting with ``/``, such as a web
    store's discount item) may carry a negative price, as in Sage's Sales Order Entry."""

    item_code: str
    quantity: Decimal
    unit_price: Decimal | None = None  # None -> CI_Item.StandardUnitPrice

    _check_item = field_validator("item_code", mode="before")(key_field(30))

    @field_validator("quantity", mode="before")
    @classmethod
    def _qty(cls, value: Any) -> Decimal:
        quantity = _quantity(value, "quantity")
        if quantity <= 0:
            raise ValueError("quantity must be greater than zero")
        return quantity

    @field_validator("unit_price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Decimal | None:
        if value is None:
            return None
        return _quantity(value, "unit_price")

    @model_validator(mode="after")
    def _negative_only_on_misc_charges(self) -> SalesOrderLine:
        if self.unit_price is not None and self.unit_price < 0 and not self.item_code.startswith("/"):
            raise ValueError(f"unit_price of {self.item_code} must not be negative (only a miscellaneous "
                             "charge item, /..., may carry a negative price, e.g. a discount)")
        return self


class SalesOrder(LedgerDocument):
    _free_text_fields: ClassVar[dict[str, int]] = {"customer_po_no": 30}

    reference: str  # SO_SalesOrderHeader.UDF_PAYTRACE_REF (e.g. the web store order id)
    division: str
    customer_no: str
    order_date: date
    customer_po_no: str = ""
    lines: tuple[SalesOrderLine, ...] = Field(min_length=1)
    warehouse_code: str = "000"

    _check_reference = field_validator("reference", mode="before")(key_field(30))
    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_warehouse = field_validator("warehouse_code", mode="before")(key_field(3, upper=True))


class CreditMemo(LedgerDocument):
    """An AR credit memo: applied to an invoice (reduces its balance) or left open (CM, negative)."""

    _free_text_fields: ClassVar[dict[str, int]] = {"comment": 30}

    reference: str  # AR_InvoiceHistoryHeader.UDF_PAYTRACE_REF
    division: str
    customer_no: str
    memo_date: date
    amount: Decimal
    apply_to_invoice_no: str | None = None
    comment: str = ""
    # The GL account debited (sales returns / sales), formatted Account or AccountKey. None: the
    # sales account of the applied invoice's first line, else the writer's default returns account.
    account: str | None = None
    # AR_InvoiceHistoryHeader.PaymentType: a card payment type marks "credit this to the card"
    # (a refund request, Sage's own way); empty: an ordinary credit.
    payment_type: str = ""
    # AR_InvoiceHistoryHeader.UserCreatedKey: who asked (maker-checker); empty: the writer's user.
    entered_by: str = ""

    _check_reference = field_validator("reference", mode="before")(key_field(30))
    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_payment = field_validator("payment_type", mode="before")(key_field(5, upper=True, required=False))
    _check_entered_by = field_validator("entered_by", mode="before")(key_field(10, required=False))

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return _money(value, "amount")

    @field_validator("apply_to_invoice_no", "account", mode="before")
    @classmethod
    def _optional_key(cls, value: Any, info: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        length = 7 if info.field_name == "apply_to_invoice_no" else 41
        return max_length(str(value).strip().upper(), length, info.field_name)


class CardRefund(LedgerDocument):
    """Money returned to a card by PayTrace: consumes a credit (CM, or the customer's credits)."""

    _free_text_fields: ClassVar[dict[str, int]] = {"comment": 30}

    transaction_id: str  # PayTrace refund id -> CreditCardTransactionID (idempotency key)
    division: str
    customer_no: str
    refund_date: date
    amount: Decimal
    payment_type: str
    credit_memo_no: str | None = None
    authorization_no: str = ""
    last4: str = ""
    comment: str = ""

    _check_tx = field_validator("transaction_id", mode="before")(key_field(15))
    _check_division = field_validator("division", mode="before")(_division)
    _check_customer = field_validator("customer_no", mode="before")(key_field(20, upper=True))
    _check_payment = field_validator("payment_type", mode="before")(key_field(5, upper=True))
    _check_auth = field_validator("authorization_no", mode="before")(key_field(16, required=False))
    _check_last4 = field_validator("last4", mode="before")(_last4)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        return _money(value, "amount")

    # More credit memos this refund consumes after `credit_memo_no` (a refund of a sale that paid
    # several invoices: one memo per invoice), then the open prepayment `prepayment_no` (a sale that sat
    # as a PP credit). None of them given: the customer's open credits, oldest first.
    more_credit_memo_nos: tuple[str, ...] = ()
    prepayment_no: str | None = None

    @field_validator("credit_memo_no", "prepayment_no", mode="before")
    @classmethod
    def _memo(cls, value: Any, info: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        return max_length(str(value).strip().upper(), 7, info.field_name)

    @field_validator("more_credit_memo_nos", mode="before")
    @classmethod
    def _more_memos(cls, value: Any) -> tuple[str, ...]:
        return tuple(max_length(str(v).strip().upper(), 7, "more_credit_memo_nos") for v in value or ())

    @property
    def credit_memo_nos(self) -> tuple[str, ...]:
        """Every memo this refund consumes, in order."""
        return ((self.credit_memo_no,) if self.credit_memo_no else ()) + self.more_credit_memo_nos

    @model_validator(mode="after")
    def _memos_distinct(self) -> CardRefund:
        if len(set(self.credit_memo_nos)) != len(self.credit_memo_nos):
            raise ValueError("a credit memo is named twice")
        if self.more_credit_memo_nos and not self.credit_memo_no:
            raise ValueError("give the first memo as credit_memo_no")
        return self


class _Reversal(LedgerDocument):
    """What both reversals share: their own reference (idempotency key) and the PayTrace id reversed."""

    _free_text_fields: ClassVar[dict[str, int]] = {"comment": 30}

    reference: str  # stored in CreditCardTransactionID of the reversal's rows (15 characters)
    transaction_id: str  # the PayTrace transaction whose Sage document is reversed
    reversal_date: date
    comment: str = ""

    _check_reference = field_validator("reference", mode="before")(key_field(15))
    _check_tx = field_validator("transaction_id", mode="before")(key_field(15))

    @model_validator(mode="after")
    def _reference_is_not_the_id(self) -> _Reversal:
        if self.reference == self.transaction_id:
            raise ValueError("the reversal needs its own reference (e.g. PT-V<sale id>), not the transaction id")
        return self


class ReceiptReversal(_Reversal):
    """A card receipt reversed in Sage because PayTrace voided the sale (KB 223924250030110).

    The writer reverses exactly the lines of the receipt Sage holds for `transaction_id`: invoices
    reinstated (or the prepayment withdrawn), customer balance up, GL Dr AR / Cr the payment type's
    clearing account, in a cash-type deposit with a negative amount and check number CCREVERSE.
    """


class RefundReversal(_Reversal):
    """A card refund reversed in Sage because PayTrace voided the refund: the credit it consumed comes
    back where it was taken (memo or invoice), customer balance down, GL Dr clearing / Cr AR."""


# ---------------------------------------------------------------------------------- results


class DocumentResult(BaseModel):
    """What a writer operation did. ``created`` False: it existed already and nothing was written.

    Exception: the two upserts (`upsert_customer`, `store_vault_card`) update an existing record
    whose fields differ; ``updated`` then names the Sage columns changed (empty: nothing written).
    """

    model_config = ConfigDict(frozen=True)

    operation: str
    reference: str
    documents: dict[str, str]  # Sage document numbers, e.g. {"DepositNo": "00012", "CreditCardEntryNo": "000003"}
    created: bool
    updated: tuple[str, ...] = ()
