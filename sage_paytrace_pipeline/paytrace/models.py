"""Typed PayTrace records and the parsing of PayTrace's wire quirks into them.

Wire quirks absorbed here (reference §7-§9, docs/paytrace-wire.md): amounts as JSON numbers or
strings (decoded as Decimal, never float), ``tax_amount`` as ``""``, masks with ``x`` or ``*`` and
an optional BIN, two-digit expiration years, ``M/D/YYYY h:mm:ss AM`` timestamps without a zone,
``status_code`` ``Y`` / ``N`` / ``GB<batch>``, ``customer_id`` ``""`` for none, AVS ``"0"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from sage_paytrace_pipeline.domain.cards import (
    MaskedCard,
    find_card_numbers,
    mask_card_numbers_in_text,
    mask_pan,
    parse_masked_number,
)
from sage_paytrace_pipeline.domain.free_text import without_controls
from sage_paytrace_pipeline.domain.money import MoneyError, parse_money

_FROZEN = ConfigDict(frozen=True)
# Texts and vault ids already read and found to hold no card number (`_stored_text`, `_customer_id`).
_VERBATIM: set[str] = set()
_VAULT_IDS: set[str] = set()
_CARDS: dict[tuple[Any, ...], CardSummary] = {}  # raw masked card fields -> their summary
_ADDRESSES: dict[tuple[str | None, ...], Address] = {}  # raw fields -> the Address they made, when nothing was masked
_TIMESTAMPS: dict[tuple[str, ZoneInfo], datetime] = {}  # text and zone -> the instant `parse_timestamp` read
_REMEMBERED = 1 << 16
_TIMESTAMP_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")
# The first format as PayTrace writes it (what `parse_timestamp` reads without strptime).
_USUAL_TIMESTAMP = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ([AP]M)")
_BATCH_IN_STATUS = re.compile(r"^GB\s*(\d+)$", re.IGNORECASE)
# Outside free text is capped here: far above any PayTrace field, far below a payload meant to hurt.
MAX_TEXT = 1000
# Types PayTrace's export and its `transaction_type` filter use; anything else is not understood.
KNOWN_TRANSACTION_TYPES = frozenset({"SALE", "AUTHORIZATION", "REFUND", "VOID", "CAPTURE", "FORCE", "STR/FWD"})
_MAX_ID = 2**63 - 1
_SHORT_ID = 10**12  # fewer digits than any card number (`find_card_numbers` looks for 13 or more)


class RecordProblem(ValueError):
    """One field of one PayTrace record cannot be used: the field and what is wrong with it.

    The text quotes at most a short, card-masked excerpt of the value, never the record.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = mask_card_numbers_in_text(problem) or ""
        super().__init__(f"{field}: {self.problem}")


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error message may quote it: card numbers masked, cut to `limit` characters."""
    text_value = mask_card_numbers_in_text(without_controls(str(value))) or ""
    return repr(text_value if len(text_value) <= limit else text_value[:limit] + "...")


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    SETTLED = "SETTLED"
    VOIDED = "VOIDED"
    DECLINED = "DECLINED"
    AUTHORIZED = "AUTHORIZED"


# ----------------------------------------------------------------------------- request-side models


class Address(BaseModel):
    model_config = _FROZEN

    name: str = ""
    street_address: str = ""
    street_address2: str = ""
    city: str = ""
    county: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""

    def to_wire(self) -> dict[str, str]:
        """Only the fields that carry a value (PayTrace treats missing and empty alike)."""
        return {key: value for key, value in self.model_dump().items() if value}


_ADDRESS_FIELDS = tuple(Address.model_fields)  # read once: the class attribute is rebuilt on each access


class CardInput(BaseModel):
    """A card to charge or vault. Number and CSC are secrets: never in repr, str, dumps or errors."""

    # hide_input_in_errors: a validation error must not echo the card number back.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    number: SecretStr
    expiration_month: int = Field(ge=1, le=12)
    expiration_year: int
    csc: SecretStr | None = None

    @field_validator("number", mode="before")
    @classmethod
    def _digits_only(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        digits = re.sub(r"[\s-]", "", raw)
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise ValueError("card number must be 12-19 digits")
        return digits

    @field_validator("expiration_year", mode="before")
    @classmethod
    def _four_digit_year(cls, value: Any) -> int:
        return four_digit_year(value) or 0

    @field_validator("expiration_year")
    @classmethod
    def _plausible_year(cls, value: int) -> int:
        if not 2000 <= value <= 2099:
            raise ValueError("expiration year must be 20xx")
        return value

    @property
    def masked(self) -> str:
        return mask_pan(self.number.get_secret_value(), char="*")

    def __repr__(self) -> str:
        return f"CardInput(number={self.masked!r}, expiration={self.expiration_month:02d}/{self.expiration_year})"

    __str__ = __repr__

    def to_wire(self) -> dict[str, Any]:
        """The request fragment: ``credit_card`` object plus top-level ``csc`` when given."""
        fragment: dict[str, Any] = {
            "credit_card": {
                "number": self.number.get_secret_value(),
                "expiration_month": f"{self.expiration_month:02d}",
                "expiration_year": str(self.expiration_year),
            }
        }
        if self.csc is not None and self.csc.get_secret_value():
            fragment["csc"] = self.csc.get_secret_value()
        return fragment


class RetryPolicy(BaseModel):
    """Backoff for reads and token calls, and the cap on sends of one money-moving call."""

    model_config = _FROZEN

    max_attempts: int = Field(default=6, ge=1)
    base_delay: float = Field(default=1.0, ge=0)
    max_delay: float = Field(default=30.0, ge=0)
    jitter: bool = True
    money_max_attempts: int = Field(default=3, ge=1)


# ----------------------------------------------------------------------------- response-side models


class CardSummary(BaseModel):
    model_config = _FROZEN

    masked_number: str
    bin: str | None = None
    last4: str
    brand: str
    expiration_month: int | None = None
    expiration_year: int | None = None


class BrandTotals(BaseModel):
    model_config = _FROZEN

    sales_count: int = 0
    sales_amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_amount: Decimal = Decimal("0.00")


class Transaction(BaseModel):
    model_config = _FROZEN

    transaction_id: int
    transaction_type: str
    amount: Decimal
    tax_amount: Decimal | None = None
    status_code: str
    status_message: str
    status: TransactionStatus
    batch_number: int | None = None
    created_at: datetime | None = None  # None only if PayTrace sent no parseable timestamp
    created_raw: str = ""
    settled_at: datetime | None = None
    settled_raw: str = ""
    card: CardSummary | None = None
    invoice_id: str = ""
    description: str = ""
    customer_reference_id: str = ""
    customer_id: str | None = None
    approval_code: str = ""
    approval_message: str = ""
    avs_response: str | None = None
    csc_response: str | None = None
    billing_address: Address = Address()
    shipping_address: Address = Address()
    receipt_emailed_to: str = ""
    created_through: str = ""
    created_by: str = ""
    created_from_ip: str = ""
    email: str = ""

    @property
    def approved(self) -> bool:
        return self.status is not TransactionStatus.DECLINED


class Batch(BaseModel):
    model_config = _FROZEN

    number: int | None
    created_at: datetime | None = None
    created_raw: str = ""
    transaction_count: int = 0
    net_amount: Decimal = Decimal("0.00")
    sales_count: int = 0
    sales_amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_amount: Decimal = Decimal("0.00")
    brands: dict[str, BrandTotals] = Field(default_factory=dict)


class VaultCustomer(BaseModel):
    model_config = _FROZEN

    customer_id: str
    card: CardSummary | None = None
    billing_address: Address = Address()
    shipping_address: Address = Address()
    email: str = ""
    phone: str = ""
    fax: str = ""
    created_at: datetime | None = None
    created_raw: str = ""
    discretionary_data: Any = None


class CustomerResult(BaseModel):
    model_config = _FROZEN

    customer_id: str
    masked_card_number: str | None = None
    response_code: int | None = None
    status_message: str = ""


class TransactionResult(BaseModel):
    model_config = _FROZEN

    transaction_id: int | None
    response_code: int | None
    status_message: str = ""
    approved: bool
    approval_code: str = ""
    approval_message: str = ""
    avs_response: str | None = None
    csc_response: str | None = None
    masked_card_number: str | None = None
    adopted: bool = False  # True: outcome recovered from an export after the response was lost


class SettleResult(BaseModel):
    model_config = _FROZEN

    response_code: int | None
    status_message: str = ""
    batch_number: int | None = None
    transaction_count: int = 0
    net_amount: Decimal = Decimal("0.00")


# ----------------------------------------------------------------------------- parsing helpers


def text(value: Any) -> str:
    """A wire string: None → "", everything else str() (PayTrace sends ints where strings are expected)."""
    return "" if value is None else str(value)


def plain_text(value: Any, field: str) -> str:
    """A wire string field: numbers are accepted as text, JSON objects, arrays and booleans are not."""
    if type(value) is str:  # most fields: returned before the (slower) type tests
        return value
    if isinstance(value, Mapping):
        raise RecordProblem(field, "expected text, got a JSON object")
    if isinstance(value, (list, tuple)):
        raise RecordProblem(field, "expected text, got a JSON array")
    if isinstance(value, bool):
        raise RecordProblem(field, f"expected text, got {str(value).lower()}")
    return text(value)


def free_text(value: Any, field: str) -> str:
    """Outside free text as it may be stored: bidi controls removed, other control characters blanked
    (domain/free_text.py), card numbers masked, capped. Formula starts stay literal here: the warehouse is no
    spreadsheet; files a person may open and Sage's fields neutralise them."""
    if value is None or value == "":
        return ""
    if type(value) is str:
        return _stored_text(value)
    return (mask_card_numbers_in_text(without_controls(plain_text(value, field))) or "")[:MAX_TEXT]


def _stored_text(value: str) -> str:
    """`free_text` of a string. An export repeats its names, addresses and descriptions on every record
    of a customer, and a range's exports on every day (the masking scan was a third of reading a
    record): a text stored as it came is remembered. One that had anything masked or removed is
    not, so no card number is ever kept, even in memory."""
    if value in _VERBATIM:
        return value
    cleaned = value if value.isascii() and value.isprintable() else without_controls(value)
    stored = (mask_card_numbers_in_text(cleaned) or "")[:MAX_TEXT]
    if stored == value:
        _remember(_VERBATIM, value)
    return stored


def _remember(seen: set[str], value: str) -> None:
    if len(seen) >= _REMEMBERED:
        seen.clear()  # a bound, not an LRU: the next records fill it again with what repeats
    seen.add(value)


def _remember_as(seen: dict[Any, Any], key: Any, value: Any) -> None:
    if len(seen) >= _REMEMBERED:
        seen.clear()
    seen[key] = value


def optional_int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None


def four_digit_year(value: Any) -> int | None:
    """Expiration years arrive as 2 digits in exports (``20`` → 2020) and 4 in requests."""
    year = optional_int(value)
    if year is None:
        return None
    return 2000 + year if 0 <= year < 100 else year


def parse_signed_money(value: Any, *, field: str = "amount") -> Decimal:
    return parse_money(value, field=field, allow_negative=True)


def optional_money(value: Any, *, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_signed_money(value, field=field)


def parse_timestamp(raw: Any, zone: ZoneInfo) -> datetime | None:
    """``4/10/2015 4:06:30 PM`` (no padding, no offset) as an aware datetime in the merchant zone."""
    value = text(raw).strip()
    if not value:
        return None
    key = (value, zone)
    known = _TIMESTAMPS.get(key)  # a batch's settlement time is on each of its records
    if known is None:
        known = _timestamp_in(value, zone)
        if known is not None:
            _remember_as(_TIMESTAMPS, key, known)
    return known


def _timestamp_in(value: str, zone: ZoneInfo) -> datetime | None:
    usual = _USUAL_TIMESTAMP.fullmatch(value)
    if usual is not None:  # the export's own form, read without strptime (a few times faster)
        month, day, year, hour, minute, second, half = usual.groups()
        if 1 <= int(hour) <= 12:
            try:
                return datetime(int(year), int(month), int(day), int(hour) % 12 + (12 if half == "PM" else 0),
                                int(minute), int(second), tzinfo=zone)
            except ValueError:
                pass  # out of range: the formats below decide, as they always did
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    try:  # tolerate ISO 8601 too; a value with an offset keeps it
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def normalise_mask(raw: Any) -> str | None:
    """Masked number in one form (``*`` masks, BIN kept when shown); a full PAN is reduced to BIN + last 4."""
    card = parse_masked_number(text(raw) or None)
    return card.masked if card else None


def avs_text(value: Any) -> str | None:
    """AVS/CSC result text; ``""`` and the legacy ``"0"`` mean "no result"."""
    result = text(value).strip()
    return None if result in ("", "0") else result


def parse_address(raw: Any, field: str = "address") -> Address:
    if raw is None or raw == "":
        return Address()
    if not isinstance(raw, Mapping):
        raise RecordProblem(field, f"expected an object with name, street_address, zip, ..., got {shown(raw)}")
    came = tuple(map(raw.get, _ADDRESS_FIELDS))
    plain = all(value is None or type(value) is str for value in came)
    known = _ADDRESSES.get(came) if plain else None  # a customer's address comes back on each of its records
    if known is not None:
        return known
    # every field a str from `free_text`, which is all Address checks: built without validating again
    values: dict[str, Any] = {key: free_text(raw.get(key), f"{field}.{key}") for key in _ADDRESS_FIELDS}
    address = Address.model_construct(set(_ADDRESS_FIELDS), **values)
    if plain and all(value == (given or "") for value, given in zip(values.values(), came, strict=True)):
        _remember_as(_ADDRESSES, came, address)  # stored as it came (nothing masked): safe to keep
    return address


def parse_card(raw: Any) -> CardSummary | None:
    if not isinstance(raw, Mapping):
        return None
    return _card_summary(parse_masked_number(text(raw.get("masked_number") or raw.get("number")) or None), raw)


def _card_summary(card: MaskedCard | None, raw: Mapping[str, Any]) -> CardSummary | None:
    """The summary of a parsed masked number, with the record's expiry."""
    if card is None:
        return None
    return CardSummary(
        masked_number=card.masked,
        bin=card.bin,
        last4=card.last4,
        brand=card.brand,
        expiration_month=optional_int(raw.get("expiration_month")),
        expiration_year=four_digit_year(raw.get("expiration_year")),
    )


def derive_status(status_code: str, status_message: str, transaction_type: str) -> tuple[TransactionStatus, int | None]:
    """Status and batch number per reference §8.1 and the contract's state table."""
    code = status_code.strip()
    batch = _BATCH_IN_STATUS.match(code)
    if batch:
        return TransactionStatus.SETTLED, int(batch.group(1))
    if "settled" in code.lower() and "pending" not in code.lower():
        return TransactionStatus.SETTLED, None
    if code.upper() == "Y":
        return TransactionStatus.PENDING, None
    message = status_message.lower()
    if "void" in message:
        return TransactionStatus.VOIDED, None
    if "decl" in message:
        return TransactionStatus.DECLINED, None
    if "authoriz" in message:
        return TransactionStatus.AUTHORIZED, None
    # An `N` with an unfamiliar message: an authorization is still open; anything else did not go through.
    if transaction_type.upper() == "AUTHORIZATION":
        return TransactionStatus.AUTHORIZED, None
    return TransactionStatus.DECLINED, None


def parse_transaction(raw: Any, zone: ZoneInfo) -> Transaction:
    """One export record, checked field by field; the first unusable field raises `RecordProblem`."""
    if not isinstance(raw, Mapping):
        raise RecordProblem("record", f"expected a JSON object, got {type(raw).__name__} {shown(raw)}")
    transaction_id = transaction_id_of(raw)
    created = _created(raw)
    created_raw = plain_text(created.get("at") if created else raw.get("created"), "created.at").strip()
    settled_raw = plain_text(raw.get("settled"), "settled").strip()
    transaction_type = _transaction_type(raw)
    status_code, status_message = _required(raw, "status_code"), plain_text(raw.get("status_message"), "status_message")
    status, batch_number = derive_status(status_code, status_message, transaction_type)
    _check_currency(raw)
    return Transaction(
        transaction_id=transaction_id,
        transaction_type=transaction_type,
        amount=_amount(raw, transaction_type),
        tax_amount=_tax_amount(raw),
        status_code=status_code,
        status_message=free_text(status_message, "status_message"),
        status=status,
        batch_number=batch_number,
        created_at=_timestamp(created_raw, zone, "created.at"),
        created_raw=created_raw,
        settled_at=_timestamp(settled_raw, zone, "settled"),
        settled_raw=settled_raw,
        card=_card(raw.get("credit_card")),
        invoice_id=free_text(raw.get("invoice_id"), "invoice_id"),
        description=free_text(raw.get("description"), "description"),
        customer_reference_id=free_text(raw.get("customer_reference_id"), "customer_reference_id"),
        customer_id=_customer_id(raw),
        approval_code=free_text(raw.get("approval_code"), "approval_code"),
        approval_message=free_text(raw.get("approval_message"), "approval_message"),
        avs_response=avs_text(free_text(raw.get("avs_response"), "avs_response")),
        csc_response=avs_text(free_text(raw.get("csc_response"), "csc_response")),
        billing_address=parse_address(raw.get("billing_address"), "billing_address"),
        shipping_address=parse_address(raw.get("shipping_address"), "shipping_address"),
        receipt_emailed_to=free_text(raw.get("receipt_emailed_to"), "receipt_emailed_to"),
        created_through=free_text(created.get("through"), "created.through") if created else "",
        created_by=free_text(created.get("by"), "created.by") if created else "",
        created_from_ip=free_text(created.get("from_ip"), "created.from_ip") if created else "",
        email=free_text(raw.get("email"), "email"),
    )


def transaction_id_of(raw: Any) -> int:
    """The record's transaction id: a positive whole number that is not card-number shaped."""
    value = raw.get("transaction_id") if isinstance(raw, Mapping) else None
    if type(value) is int and 0 < value < _SHORT_ID:  # the usual id: whole, positive, too short for a card number
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RecordProblem("transaction_id", "is missing")
    digits = plain_text(value, "transaction_id").strip()
    if find_card_numbers(digits):
        raise RecordProblem("transaction_id", "looks like a card number, not a PayTrace transaction id")
    if not digits.isdigit() or not 0 < int(digits) <= _MAX_ID:
        raise RecordProblem("transaction_id", f"{shown(value)} is not a positive whole number")
    return int(digits)


def _created(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    created = raw.get("created")
    if isinstance(created, (list, tuple, bool)):
        raise RecordProblem("created", f"expected an object with at, through, by, got {shown(created)}")
    return created if isinstance(created, Mapping) else {}


def _required(raw: Mapping[str, Any], field: str) -> str:
    value = plain_text(raw.get(field), field).strip()
    if not value:
        raise RecordProblem(field, "is missing")
    return value


def _transaction_type(raw: Mapping[str, Any]) -> str:
    value = _required(raw, "transaction_type").upper()
    if value not in KNOWN_TRANSACTION_TYPES:
        raise RecordProblem("transaction_type", f"{shown(value)} is not a PayTrace transaction type "
                                                f"({', '.join(sorted(KNOWN_TRANSACTION_TYPES))})")
    return value


def _check_currency(raw: Mapping[str, Any]) -> None:
    """PayTrace v1 is USD only and sends no currency; a record that names another one is not ours to post."""
    for field in ("currency", "currency_code"):
        value = raw.get(field)
        if value not in (None, "") and plain_text(value, field).strip().upper() != "USD":
            raise RecordProblem(field, f"{shown(value)} is not USD; PayTrace v1 accounts settle in US dollars only")


def _money_field(raw: Mapping[str, Any], field: str) -> Decimal:
    value = raw.get(field)
    if isinstance(value, (Mapping, list, tuple)):
        raise RecordProblem(field, "expected an amount like 12.34, got a JSON " +
                            ("object" if isinstance(value, Mapping) else "array"))
    try:
        return parse_money(value, field=field, allow_negative=True)
    except MoneyError as exc:
        raise RecordProblem(field, str(exc).removeprefix(f"{field}: ")) from None


def _amount(raw: Mapping[str, Any], transaction_type: str) -> Decimal:
    if raw.get("amount") is None or raw.get("amount") == "":
        raise RecordProblem("amount", "is missing")
    amount = _money_field(raw, "amount")
    if amount < 0 and transaction_type == "REFUND":
        # Whether the export signs refunds is not documented (reference §8.1): the type says what it is.
        return -amount
    if amount < 0:
        raise RecordProblem("amount", f"{amount} is negative on a {transaction_type}; only a REFUND takes money back")
    if amount == 0 and transaction_type != "AUTHORIZATION":  # a $0 authorization only verifies a card
        raise RecordProblem("amount", f"is 0.00 on a {transaction_type}; no payment moves no money")
    return amount


def _tax_amount(raw: Mapping[str, Any]) -> Decimal | None:
    value = raw.get("tax_amount")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    tax = _money_field(raw, "tax_amount")
    if tax < 0:
        raise RecordProblem("tax_amount", f"{tax} is negative")
    return tax


def _timestamp(raw_text: str, zone: ZoneInfo, field: str) -> datetime | None:
    if not raw_text:
        return None
    parsed = parse_timestamp(raw_text, zone)
    if parsed is None:
        raise RecordProblem(field, f"{shown(raw_text)} is not a date and time like 3/2/2026 9:15:00 AM")
    return parsed


def _card(raw: Any) -> CardSummary | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, Mapping):
        raise RecordProblem("credit_card", f"expected an object with masked_number, got {shown(raw)}")
    came = (raw.get("masked_number"), raw.get("number"), raw.get("expiration_month"), raw.get("expiration_year"))
    plain = came[1] is None and all(value is None or type(value) in (str, int) for value in came)
    if plain and came in _CARDS:  # a customer's card comes back on each of its records
        return _CARDS[came]
    card = _checked_card(raw)
    if plain and card is not None and card.masked_number == text(came[0]).strip():
        _remember_as(_CARDS, came, card)  # masked as it came: no card number is kept
    return card


def _checked_card(raw: Mapping[str, Any]) -> CardSummary | None:
    masked = plain_text(raw.get("masked_number") or raw.get("number"), "credit_card.masked_number").strip()
    card = parse_masked_number(masked)  # parsed once: what parse_card reads from the same field
    if masked and card is None:
        raise RecordProblem("credit_card.masked_number", f"{shown(masked)} is not a masked card number like "
                                                         "************5454")
    month = raw.get("expiration_month")
    if month not in (None, "") and optional_int(month) not in range(13):
        raise RecordProblem("credit_card.expiration_month", f"{shown(month)} is not a month 1-12")
    return _card_summary(card, raw)


def record_card(raw: Any) -> CardSummary | None:
    """The `credit_card` value of an export record, checked and parsed as `parse_transaction` does."""
    return _card(raw)


def _customer_id(raw: Mapping[str, Any]) -> str | None:
    value = plain_text(raw.get("customer_id"), "customer_id").strip()
    if value not in _VAULT_IDS:  # a customer's id comes back on every record of the customer
        if find_card_numbers(value):
            raise RecordProblem("customer_id", "looks like a card number, not a vault customer id")
        _remember(_VAULT_IDS, value)
    return value[:MAX_TEXT] or None


def _parse_brand_totals(raw: Mapping[str, Any]) -> BrandTotals:
    return BrandTotals(
        sales_count=optional_int(raw.get("sales_count")) or 0,
        sales_amount=parse_signed_money(raw.get("sales_amount") or 0, field="sales_amount"),
        refund_count=optional_int(raw.get("refund_count")) or 0,
        refund_amount=parse_signed_money(raw.get("refund_amount") or 0, field="refund_amount"),
    )


def parse_batch(raw: Mapping[str, Any], zone: ZoneInfo) -> Batch:
    created = raw.get("created")
    created_raw = text(created.get("at") if isinstance(created, Mapping) else created)
    brands_raw = raw.get("card_brands") or raw.get("brands") or {}
    brands = {
        str(name).upper(): _parse_brand_totals(totals)
        for name, totals in (brands_raw.items() if isinstance(brands_raw, Mapping) else ())
        if isinstance(totals, Mapping)
    }
    return Batch(
        number=optional_int(raw.get("number", raw.get("batch_number"))),
        created_at=parse_timestamp(created_raw, zone),
        created_raw=created_raw,
        transaction_count=optional_int(raw.get("transaction_count")) or 0,
        net_amount=parse_signed_money(raw.get("net_amount") or 0, field="net_amount"),
        sales_count=optional_int(raw.get("sales_count")) or 0,
        sales_amount=parse_signed_money(raw.get("sales_amount") or 0, field="sales_amount"),
        refund_count=optional_int(raw.get("refund_count")) or 0,
        refund_amount=parse_signed_money(raw.get("refund_amount") or 0, field="refund_amount"),
        brands=brands,
    )


def parse_vault_customer(raw: Mapping[str, Any], zone: ZoneInfo) -> VaultCustomer:
    """A vault profile, leniently: a malformed address or text field is read as blank, card numbers masked."""
    created = raw.get("created")
    created_raw = text(created.get("at") if isinstance(created, Mapping) else created)
    return VaultCustomer(
        customer_id=text(raw.get("customer_id")),
        card=parse_card(raw.get("credit_card")),
        billing_address=_lenient_address(raw.get("billing_address")),
        shipping_address=_lenient_address(raw.get("shipping_address")),
        email=_lenient_text(raw.get("email")),
        phone=_lenient_text(raw.get("phone")),
        fax=_lenient_text(raw.get("fax")),
        created_at=parse_timestamp(created_raw, zone),
        created_raw=created_raw,
        discretionary_data=raw.get("discretionary_data"),
    )


def _lenient_text(value: Any) -> str:
    try:
        return free_text(value, "text")
    except RecordProblem:
        return ""


def _lenient_address(raw: Any) -> Address:
    if not isinstance(raw, Mapping):
        return Address()
    return Address(**{key: _lenient_text(raw.get(key)) for key in Address.model_fields})


def parse_transaction_result(body: Mapping[str, Any], *, approved: bool, adopted: bool = False) -> TransactionResult:
    return TransactionResult(
        transaction_id=optional_int(body.get("transaction_id")),
        response_code=optional_int(body.get("response_code")),
        status_message=text(body.get("status_message")),
        approved=approved,
        approval_code=text(body.get("approval_code")),
        approval_message=text(body.get("approval_message")),
        avs_response=avs_text(body.get("avs_response")),
        csc_response=avs_text(body.get("csc_response")),
        masked_card_number=normalise_mask(body.get("masked_card_number")),
        adopted=adopted,
    )


def parse_customer_result(body: Mapping[str, Any], *, fallback_customer_id: str) -> CustomerResult:
    return CustomerResult(
        customer_id=text(body.get("customer_id")) or fallback_customer_id,
        masked_card_number=normalise_mask(body.get("masked_card_number")),
        response_code=optional_int(body.get("response_code")),
        status_message=text(body.get("status_message")),
    )


def parse_settle_result(body: Mapping[str, Any]) -> SettleResult:
    return SettleResult(
        response_code=optional_int(body.get("response_code")),
        status_message=text(body.get("status_message")),
        batch_number=optional_int(body.get("batch_number")),
        transaction_count=optional_int(body.get("transaction_count")) or 0,
        net_amount=parse_signed_money(body.get("net_amount") or 0, field="net_amount"),
    )
