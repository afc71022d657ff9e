"""The ledger as the domain knows it: canonical models of what it reads from and hands to the ERP.

Matching reads customers, their saved cards and open invoices; settlement produces balanced journal
entries. The models belong here so that the domain imports no adapter: `sage100` reads its tables
into these models (`sage100.reader`) and writes these documents (`sage100.writer`); `sage100.models`
and `sage100.documents` re-export them.

Documents handed to the ledger share `LedgerDocument`: frozen, key fields stripped and refused when
longer than the ledger's column (`key_field`), descriptive free text masked for card numbers and cut
to length, and no field that can carry a full card number. Validation errors never echo the input.
"""

from __future__ import annotations

import weakref
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.domain.free_text import sheet_safe, storable_text
from sage_paytrace_pipeline.domain.money import parse_money

# AR_CustomerCreditCard.CardType codes [?]: Sage shows the brand; the stored code is taken here
# as the leading digit of the brand's numbers (4 Visa, 5 MasterCard, 3 Amex, 6 Discover).
CARD_TYPE_BY_BRAND: dict[str, str] = {"VISA": "4", "MASTERCARD": "5", "AMEX": "3", "DISCOVER": "6"}
BRAND_BY_CARD_TYPE: dict[str, str] = {code: brand for brand, code in CARD_TYPE_BY_BRAND.items()}

JOURNAL_REFERENCE_LENGTH = 30  # GL_GeneralJournalHeader.UDF_PAYTRACE_REF (JournalEntry.reference)


# ------------------------------------------------------------------------------- read models


class ReadModel(BaseModel):
    """A row read from the ledger: typed and read-only."""

    model_config = ConfigDict(frozen=True)


class Customer(ReadModel):
    division: str
    customer_no: str
    name: str
    address_line1: str = ""
    address_line2: str = ""
    address_line3: str = ""
    city: str = ""
    state: str = ""
    zip_code: str = ""
    country_code: str = ""
    phone: str = ""
    email: str = ""
    terms_code: str = ""
    status: str = "A"  # A active, I inactive, T temporary
    credit_hold: bool = False
    credit_limit: Decimal = Decimal("0.00")
    current_balance: Decimal = Decimal("0.00")
    date_last_payment: date | None = None
    last_payment_amt: Decimal = Decimal("0.00")
    default_payment_type: str = ""
    default_credit_card_payment_type: str = ""
    credit_card_guid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.division, self.customer_no

    @property
    def active(self) -> bool:
        return self.status != "I"


class CustomerCard(ReadModel):
    """A saved card: a vault token plus display data; Sage never holds the card number."""

    division: str
    customer_no: str
    credit_card_guid: str  # = PayTrace vault customer_id
    credit_card_id: str = ""
    payment_type: str = ""
    card_type: str = ""
    last4: str = ""
    expiration_year: str = ""
    expiration_month: str = ""
    cardholder_name: str = ""
    avs_address_line1: str = ""
    avs_address_line2: str = ""
    avs_city: str = ""
    avs_state: str = ""
    avs_zip_code: str = ""

    @property
    def brand(self) -> str:
        return BRAND_BY_CARD_TYPE.get(self.card_type, "UNKNOWN")


class OpenInvoice(ReadModel):
    division: str
    customer_no: str
    invoice_no: str
    invoice_type: str  # IN, CM, DM, FC, PP ...
    invoice_date: date | None
    due_date: date | None
    balance: Decimal
    original_amount: Decimal  # taxable + nontaxable + freight + sales tax - discount
    terms_code: str = ""
    customer_po_no: str = ""


# --------------------------------------------------------------------------------- documents


def max_length(value: str, length: int, what: str) -> str:
    if len(value) > length:
        raise ValueError(f"{what} is {len(value)} characters; Sage allows {length}")
    return value


def free_text(value: Any, length: int) -> str:
    """Descriptive text as the ledger keeps it: controls removed, card numbers masked, blanks folded,
    a formula start neutralised (domain/free_text.py), cut to the column's length."""
    return sheet_safe(storable_text(value))[:length]


def key_field(length: int, *, upper: bool = False, required: bool = True):
    """A field validator body for a key column of `length` characters."""

    def check(value: Any, info: Any) -> str:
        text = "" if value is None else str(value).strip()
        if upper:
            text = text.upper()
        if required and not text:
            raise ValueError(f"{info.field_name} is required")
        return max_length(text, length, info.field_name)

    return check


class LedgerDocument(BaseModel):
    """Shared configuration and the card-number guard for every document handed to the ledger."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, str_strip_whitespace=True)

    # Fields that are descriptive text (masked, truncated); every other str field is a key.
    _free_text_fields: ClassVar[dict[str, int]] = {}
    # True on documents that refuse a card number even in free text (vault records).
    _refuse_card_numbers_everywhere: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _mask_free_text(cls, data: Any) -> Any:
        if not isinstance(data, dict) or cls._refuse_card_numbers_everywhere:
            return data
        cleaned = dict(data)
        for name, length in cls._free_text_fields.items():
            if name in cleaned:
                cleaned[name] = free_text(cleaned[name], length)
        return cleaned

    @model_validator(mode="after")
    def _no_card_numbers(self) -> LedgerDocument:
        for name, value in self.__dict__.items():
            if isinstance(value, str) and find_card_numbers(value):
                raise ValueError(
                    f"{name} looks like a full card number; Sage stores only the vault id, last 4 and expiry"
                )
        _remember_validated(self)
        return self

    def validated_as_is(self) -> bool:
        """True when this document and the documents it holds are exactly what validation made of
        them (not made by `model_copy(update=...)` or `model_construct`, no field changed since):
        validating them again would check nothing new."""
        state = _VALIDATED.get(id(self))
        if state is None or state[0] is not self.__dict__ or len(state[1]) != len(self.__dict__):
            return False
        for before, value in zip(state[1], self.__dict__.values(), strict=True):
            if before is not value:
                return False
            if isinstance(value, LedgerDocument) and not value.validated_as_is():
                return False
            if isinstance(value, tuple) and not all(
                    item.validated_as_is() for item in value if isinstance(item, LedgerDocument)):
                return False
        return True


# What validation left of each live document: its `__dict__` and the field values in it, by identity.
# `model_copy` gives the copy a new `__dict__` (and its `update=` skips validation), `model_construct`
# validates nothing: neither is found here as validated. Kept outside the model so that equality and
# copies of documents are untouched; an entry goes with its document.
_VALIDATED: dict[int, tuple[dict[str, Any], tuple[Any, ...]]] = {}


def _remember_validated(document: LedgerDocument) -> None:
    key = id(document)
    if key not in _VALIDATED:
        weakref.finalize(document, _VALIDATED.pop, key, None)
    _VALIDATED[key] = (document.__dict__, tuple(document.__dict__.values()))


class JournalLine(LedgerDocument):
    _free_text_fields: ClassVar[dict[str, int]] = {"comment": 30}

    account: str  # formatted Account ("1010-00") or AccountKey
    debit: Decimal = Decimal("0.00")
    credit: Decimal = Decimal("0.00")
    comment: str = ""

    _check_account = field_validator("account", mode="before")(key_field(41, upper=True))

    @field_validator("debit", "credit", mode="before")
    @classmethod
    def _side(cls, value: Any, info: Any) -> Decimal:
        return parse_money(value, field=info.field_name)

    @model_validator(mode="after")
    def _one_side(self) -> JournalLine:
        if (self.debit > 0) == (self.credit > 0):
            raise ValueError("a journal line has either a debit or a credit amount, not both or neither")
        return self


class JournalEntry(LedgerDocument):
    _free_text_fields: ClassVar[dict[str, int]] = {"comment": 30}

    reference: str  # GL_GeneralJournalHeader/History.UDF_PAYTRACE_REF
    posting_date: date
    comment: str = ""
    lines: tuple[JournalLine, ...] = Field(min_length=1)

    _check_reference = field_validator("reference", mode="before")(key_field(JOURNAL_REFERENCE_LENGTH))
