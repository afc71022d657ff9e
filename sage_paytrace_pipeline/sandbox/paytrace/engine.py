"""The PayTrace v1 sandbox engine: behaviour without HTTP, state in one SQLite file.

Every public method opens its own connection, so one `PayTraceSandbox` may be used from many
threads, and several instances (in several processes) may share one state file. `call` runs
one v1 route the way PayTrace would, inside one IMMEDIATE transaction: nightly batches that are
due are closed first, then the route's state change and its answer are committed together.

The wire shapes, codes and statuses follow docs/paytrace-wire.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sage_paytrace_pipeline.domain.cards import MaskedCard, brand_from_digits, luhn_valid, mask_card_numbers_in_text
from sage_paytrace_pipeline.domain.money import (
    MoneyError,
    cents_to_decimal,
    decimal_to_cents,
    format_decimal,
    parse_money,
)
from sage_paytrace_pipeline.sandbox.paytrace import faults as fault_rules
from sage_paytrace_pipeline.sandbox.paytrace.clock import (
    describe,
    move_clock,
    read_clock,
    virtual_now,
    wall_now,
    write_clock,
)
from sage_paytrace_pipeline.sandbox.paytrace.settings import SandboxSettings
from sage_paytrace_pipeline.sandbox.paytrace.store import (
    STATE_TABLES,
    Store,
    bump_stat,
    get_meta,
    next_counter,
    parse_utc_text,
    set_meta,
    utc_text,
)

# ----------------------------------------------------------------------------- wire texts

ERRORS_OCCURRED = "One or more errors has occurred."
REQUEST_COMPLETED = "Your request has been successfully completed."
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
    "used in the authorization request, or was issued to another client."
)
INVALID_REQUEST = (
    "The request is missing a required parameter, includes an unsupported parameter value, "
    "or is otherwise malformed."
)
UNSUPPORTED_GRANT = "The authorization grant type is not supported by the authorization server."
TOKEN_EXPIRED = "The access token expired"
TOKEN_INVALID = "The access token is invalid"

ERROR_TEXTS = {
    "30": "Customer ID, {customer_id}, was not found or is incomplete.",
    "35": "Please provide a valid Credit Card Number.",
    "amount": "Please provide a valid Transaction Amount.",
    "43": "Please provide a valid Expiration Month.",
    "44": "Please provide a valid Expiration Year.",
    "47": "Please provide a valid Customer ID.",
    "50": "Please provide a valid Email Address.",
    "58": "Please provide a valid Transaction ID.",
    "171": "Please provide a unique customer ID.",
    "811": "The Transaction ID that you provided was not found.",
    "812": "The Batch Number that you provided was not found.",
    "816": "The Transaction ID that you provided could not be captured. Only uncaptured, approved "
           "authorizations can be captured.",
    "817": "The Transaction ID that you provided could not be refunded. Only settled transactions can be "
           "refunded.  Please try to void the transaction instead.",
    "818": "The Transaction ID that you provided could not be voided. Only transactions that are pending "
           "settlement can be voided.",
    "840": "Please provide a valid Start Date.",
    "841": "Please provide a valid End Date.",
    "981": "Log in failed for insufficient permissions.",
}

STATUS_TEXTS = {
    101: "Your transaction was successfully approved.",
    102: "Your transaction was not approved.",
    103: "Your transaction was approved, then voided because it did not meet the merchant's AVS/CSC "
         "security settings.",
    106: "Your transaction was successfully refunded.",
    109: "Your transaction was successfully voided.",
    112: "Your transaction was successfully captured.",
}
DECLINE_MESSAGE = "    DECLINE - Do not honor"
EXPIRED_CARD_MESSAGE = "  EXPIRED CARD - Expired card"
BRAND_KEYS = ("VISA", "MASTERCARD", "AMEX", "DISCOVER", "DINERS", "JCB", "PRIVATE")
PBKDF2_ITERATIONS = 120_000

# transaction_type filter of export/by_date_range -> SQL condition.
TYPE_FILTERS = {
    "SALE": "type = 'SALE'",
    "AUTHORIZATION": "type = 'AUTHORIZATION'",
    "REFUND": "type = 'REFUND'",
    "STR/FWD": "0",  # store-and-forward is not emulated: never matches
    "VOID": "state = 'voided'",
    "SETTLED": "state = 'settled'",
    "PENDING": "state = 'pending'",
    "DECLINED": "state = 'declined'",
}


class Rejected(Exception):
    """A request PayTrace refuses with ``response_code`` 1 and an ``errors`` map."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


class ErrorList:
    """Collects several validation errors so they come back together, as PayTrace does."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, code: str, key: str | None = None, **values: Any) -> None:
        text = ERROR_TEXTS[key or code].format(**values)
        self.errors.setdefault(code, []).append(text)

    def raise_if_any(self) -> None:
        if self.errors:
            raise Rejected(self.errors)


def reject(code: str, key: str | None = None, **values: Any) -> Rejected:
    errors = ErrorList()
    errors.add(code, key, **values)
    return Rejected(errors.errors)


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Card:
    """What the sandbox keeps of a card: never the full number, never the CSC."""

    bin: str
    last4: str
    length: int
    brand: str
    exp_month: int
    exp_year: int

    def masked(self, char: str = "*", include_bin: bool = False) -> str:
        shown = MaskedCard(bin=self.bin if include_bin else None, last4=self.last4, length=self.length,
                           brand=self.brand).masked
        return shown.replace("*", char)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Card | None:
        fields = json.loads(text)
        return cls(**fields) if fields else None


def clean_text(value: Any, limit: int = 500) -> str:
    """Free text as stored: card numbers masked first, so a PAN typed into a note never lands."""
    if value is None:
        return ""
    return (mask_card_numbers_in_text(str(value)) or "")[:limit]


def clean_json(value: Any) -> Any:
    """Free-form objects (discretionary data): every string masked the same way."""
    if isinstance(value, dict):
        return {clean_text(key, 100): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, (bool, int)) or value is None:
        return value
    return clean_text(value)


ADDRESS_KEYS = ("name", "street_address", "street_address2", "city", "state", "zip", "country")


def clean_address(value: Any, *, shipping: bool = False) -> dict[str, str]:
    keys = (*ADDRESS_KEYS[:4], "county", *ADDRESS_KEYS[4:]) if shipping else ADDRESS_KEYS
    given = value if isinstance(value, dict) else {}
    return {key: clean_text(given.get(key), 200) for key in keys}


def parse_amount(value: Any, errors: ErrorList, code: str, *, required: bool = True) -> Decimal | None:
    """Positive dollars with at most two decimals; floats arrive only from in-process callers."""
    if value is None or value == "":
        if required:
            errors.add(code, "amount")
        return None
    try:
        amount = parse_money(str(value) if isinstance(value, float) else value)
    except MoneyError:
        amount = None
    if amount is None or amount <= 0:
        errors.add(code, "amount")
        return None
    return amount


def parse_card(card: Any, today: date, errors: ErrorList) -> Card | None:
    card = card if isinstance(card, dict) else {}
    digits = "".join(ch for ch in str(card.get("number") or "") if ch not in " -")
    if not (digits.isdigit() and 13 <= len(digits) <= 19 and luhn_valid(digits)):
        errors.add("35")
        digits = ""
    month = _int_or_none(card.get("expiration_month"))
    if month is None or not 1 <= month <= 12:
        errors.add("43")
        month = None
    year = _expiry_year(card.get("expiration_year"))
    if year is None or (month is not None and (year, month) < (today.year, today.month)):
        errors.add("44")
        year = None
    if not digits or month is None or year is None:
        return None
    return Card(digits[:6], digits[-4:], len(digits), brand_from_digits(digits[:6]), month, year)


def _expiry_year(value: Any) -> int | None:
    year = _int_or_none(value)
    if year is None:
        return None
    year = year + 2000 if 0 <= year < 100 else year
    return year if 2000 <= year <= 2099 else None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_transaction_id(value: Any) -> int:
    """Blank or malformed id -> 58 (the reference's 'valid Transaction ID' text)."""
    number = _int_or_none(value)
    if number is None or number <= 0:
        raise reject("58")
    return number


def parse_request_date(value: Any, code: str) -> date:
    try:
        return datetime.strptime(str(value or "").strip(), "%m/%d/%Y").date()
    except ValueError:
        raise reject(code) from None


def is_true(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "y")


# ----------------------------------------------------------------------------- stored rows
# Free text and card facts are stored as JSON documents, not as neighbouring TEXT columns:
# SQLite writes a row's values back to back, so e.g. a customer id ending in digits next to a
# BIN next to a last 4 would form a PAN-shaped digit run in the file. JSON punctuation between
# values prevents that (the state file must pass a raw "no card number in here" scan).


def unpack_transaction(row: sqlite3.Row) -> dict:
    data = dict(row)
    data.update(json.loads(data.pop("details_json")))
    data["card"] = Card.from_json(data.pop("card_json"))
    return data


def unpack_customer(row: sqlite3.Row) -> dict:
    data = dict(row)
    data.update(json.loads(data.pop("profile_json")))
    data["card"] = Card.from_json(data.pop("card_json"))
    return data


# ----------------------------------------------------------------------------- formatting


def paytrace_time(moment: datetime | str | None, zone: ZoneInfo) -> str:
    """``M/D/YYYY h:mm:ss AM`` in the merchant zone, no zero padding on month, day and hour."""
    if not moment:
        return ""
    local = (parse_utc_text(moment) if isinstance(moment, str) else moment).astimezone(zone)
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return f"{local.month}/{local.day}/{local.year} {hour}:{local.minute:02d}:{local.second:02d} {half}"


def approval_code_for(transaction_id: int) -> str:
    """Deterministic sandbox approval codes: TAS + 3 digits derived from the id."""
    digest = hashlib.sha256(str(transaction_id).encode()).digest()
    return f"TAS{int.from_bytes(digest[:4], 'big') % 1000:03d}"


def status_of(data: dict) -> tuple[str, str]:
    if data["state"] == "settled":
        return f"GB{data['batch_number']}", f"GB{data['batch_number']}"
    return {
        "pending": ("Y", "Pending Settlement"),
        "authorized": ("N", "Authorization Only"),
        "voided": ("N", "Voided"),
        "declined": ("N", "Declined"),
    }[data["state"]]


def _card_export(card: Card | None, include_bin: bool) -> dict:
    if card is None:
        return {"masked_number": "", "expiration_month": 0, "expiration_year": 0}
    return {"masked_number": card.masked("*", include_bin), "expiration_month": card.exp_month,
            "expiration_year": card.exp_year % 100}


def export_record(data: dict, zone: ZoneInfo, include_bin: bool) -> dict:
    """One transaction as `export/*` and `batches/transaction_list` return it."""
    status_code, status_message = status_of(data)
    return {
        "transaction_id": data["id"],
        "credit_card": _card_export(data["card"], include_bin),
        "transaction_type": data["type"],
        "description": data["description"],
        "amount": cents_to_decimal(data["amount_cents"]),
        "invoice_id": data["invoice_id"],
        "shipping_address": data["shipping_address"],
        "billing_address": data["billing_address"],
        "receipt_emailed_to": data["receipt_emailed_to"],
        "tax_amount": format_decimal(cents_to_decimal(data["tax_cents"])) if data["tax_cents"] is not None else "",
        "customer_reference_id": data["customer_reference_id"],
        "approval_code": data["approval_code"],
        "approval_message": data["approval_message"],
        "avs_response": data["avs_response"],
        "csc_response": data["csc_response"],
        "status_code": status_code,
        "status_message": status_message,
        "created": {"through": "API", "at": paytrace_time(data["created_at"], zone), "by": data["created_by"],
                    "from_ip": data["from_ip"]},
        "settled": paytrace_time(data["settled_at"], zone),
        "customer_id": data["customer_id"],
        "email": data["email"],
        "discretionary_data": data["discretionary_data"],
    }


def customer_record(data: dict, zone: ZoneInfo, include_bin: bool) -> dict:
    return {
        "customer_id": data["customer_id"],
        "credit_card": _card_export(data["card"], include_bin),
        "billing_address": data["billing_address"],
        "shipping_address": data["shipping_address"],
        "email": data["email"],
        "phone": data["phone"],
        "fax": data["fax"],
        "created": paytrace_time(data["created_at"], zone),
        "discretionary_data": data["discretionary_data"],
    }


def batch_summary(number: int, closed_at: datetime | str, records: list[dict], zone: ZoneInfo) -> dict:
    """Counts and amounts per type and per brand, computed from the very records transaction_list returns."""
    totals = {"sales_count": 0, "sales_amount": 0, "refund_count": 0, "refund_amount": 0}
    brands: dict[str, dict[str, int]] = {}
    for data in records:
        kind = "refund" if data["type"] == "REFUND" else "sales"
        brand = data["card"].brand if data["card"] and data["card"].brand in BRAND_KEYS else "PRIVATE"
        per_brand = brands.setdefault(brand, dict.fromkeys(totals, 0))
        for bucket in (totals, per_brand):
            bucket[f"{kind}_count"] += 1
            bucket[f"{kind}_amount"] += data["amount_cents"]
    return {
        "number": number,
        "created": paytrace_time(closed_at, zone),
        "transaction_count": totals["sales_count"] + totals["refund_count"],
        "net_amount": cents_to_decimal(totals["sales_amount"] - totals["refund_amount"]),
        **_money_fields(totals),
        "card_brands": {brand: _money_fields(brands[brand]) for brand in BRAND_KEYS if brand in brands},
    }


def _money_fields(bucket: dict[str, int]) -> dict:
    return {key: cents_to_decimal(value) if key.endswith("_amount") else value for key, value in bucket.items()}


def error_envelope(errors: dict[str, list[str]], route: str) -> dict:
    body: dict[str, Any] = {"success": False, "response_code": 1, "status_message": ERRORS_OCCURRED,
                            "errors": errors}
    if route.startswith("/v1/transactions/"):
        body["external_transaction_id"] = ""
    return body


def completed(**fields: Any) -> dict:
    return {"success": True, "response_code": 1, "status_message": REQUEST_COMPLETED, **fields}


# ----------------------------------------------------------------------------- batches (merchant zone)


def cutoff_on(day: date, settings: SandboxSettings) -> datetime:
    return datetime.combine(day, settings.cutoff, tzinfo=settings.zone)


def last_cutoff_at_or_before(now: datetime, settings: SandboxSettings) -> datetime:
    local = now.astimezone(settings.zone)
    cutoff = cutoff_on(local.date(), settings)
    return cutoff if cutoff <= local else cutoff_on(local.date() - timedelta(days=1), settings)


def due_cutoff(pending_since: datetime, settings: SandboxSettings) -> datetime:
    """The nightly batch a transaction belongs to: pending at or after the cutoff -> next night."""
    local = pending_since.astimezone(settings.zone)
    cutoff = cutoff_on(local.date(), settings)
    return cutoff if local < cutoff else cutoff_on(local.date() + timedelta(days=1), settings)


def local_day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[str, str]:
    """UTC text bounds [first 00:00, last+1 00:00) of an inclusive range of merchant-local days."""
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return utc_text(start), utc_text(end)


# ----------------------------------------------------------------------------- one call

TEXT_KEYS = ("invoice_id", "description", "customer_reference_id", "email")


@dataclass
class CallContext:
    """Everything a route handler needs; handlers run inside the call's write transaction."""

    conn: sqlite3.Connection
    settings: SandboxSettings
    now: datetime
    body: dict
    route: str
    user: str
    from_ip: str

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def transaction(self, value: Any) -> dict:
        number = parse_transaction_id(value)
        row = self.conn.execute("SELECT * FROM transactions WHERE id = ?", (number,)).fetchone()
        if row is None:
            raise reject("811")
        return unpack_transaction(row)

    def customer(self, customer_id: Any) -> dict:
        text = str(customer_id or "").strip()
        row = self.conn.execute("SELECT * FROM customers WHERE customer_id = ?", (text,)).fetchone()
        if row is None:
            raise reject("30", customer_id=clean_text(text, 100))
        return unpack_customer(row)

    def insert_transaction(self, kind: str, state: str, amount: Decimal, card: Card, details: dict,
                           **columns: Any) -> int:
        transaction_id = next_counter(self.conn, "next_transaction_id", self.settings.first_transaction_id)
        cents = decimal_to_cents(amount)
        details = {"customer_id": "", "receipt_emailed_to": "", **details, "created_by": self.user,
                   "from_ip": self.from_ip}
        values = {
            "id": transaction_id, "type": kind, "state": state, "amount_cents": cents, "authorized_cents": cents,
            "card_json": card.to_json(), "details_json": json.dumps(details), "created_at": utc_text(self.now),
            "pending_since": utc_text(self.now) if state == "pending" else None, **columns,
        }
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO transactions ({', '.join(values)}) VALUES ({marks})", tuple(values.values()))
        return transaction_id

    def details(self, fallback: dict | None = None) -> dict:
        """The free-text fields of a transaction request, masked; missing ones from `fallback`."""
        fallback = fallback or {}
        details = {}
        for key in TEXT_KEYS:
            given = self.body.get(key)
            details[key] = clean_text(given) if given not in (None, "") else fallback.get(key, "")
        for key in ("billing_address", "shipping_address"):
            given = self.body.get(key)
            use = given if isinstance(given, dict) or key not in fallback else fallback[key]
            details[key] = clean_address(use, shipping=key == "shipping_address")
        details["discretionary_data"] = clean_json(self.body.get("discretionary_data") or {})
        return details

    def tax_cents(self, errors: ErrorList) -> int | None:
        if self.body.get("tax_amount") in (None, ""):
            return None
        try:
            return decimal_to_cents(parse_money(str(self.body["tax_amount"])))
        except MoneyError:
            errors.add(self.settings.amount_error_code, "amount")
            return None


# ----------------------------------------------------------------------------- route handlers


def _verification(ctx: CallContext, billing: dict, card: Card) -> tuple[str, str]:
    """AVS from the billing zip (configurable no-match zips), CSC only when one was sent (never Amex)."""
    zip_code = billing.get("zip", "")
    avs = "No Match" if zip_code and zip_code in ctx.settings.avs_no_match_zips else ctx.settings.avs_response
    csc_sent = str(ctx.body.get("csc") or "").strip() != ""
    csc = ctx.settings.csc_response if csc_sent and card.brand != "AMEX" else ""
    return avs, csc


def _approval_message(avs: str, code: str) -> str:
    if avs == "Full Exact Match":
        return "EXACT MATCH - Approved and completed"
    if avs == "No Match":
        return "  NO  MATCH - Approved and completed"
    return f"APPROVAL {code} - Approved and completed"


def _charge(ctx: CallContext, kind: str, card: Card, amount: Decimal, *, masked: bool, customer_id: str = "",
            fallback: dict | None = None, tax_cents: int | None = None) -> tuple[int, dict]:
    """A sale or authorization: approved (101), declined by amount (102) or auto-voided by AVS (103)."""
    details = {**ctx.details(fallback), "customer_id": customer_id}
    avs, csc = _verification(ctx, details["billing_address"], card)
    declined = format_decimal(amount) in ctx.settings.decline_amounts
    auto_void = not declined and avs == "No Match" and ctx.settings.auto_void_on_avs_no_match
    state = "declined" if declined else "voided" if auto_void else "pending" if kind == "SALE" else "authorized"
    transaction_id = ctx.insert_transaction(kind, state, amount, card, details, tax_cents=tax_cents,
                                            avs_response=avs, csc_response=csc)
    code = "" if declined else approval_code_for(transaction_id)
    message = _decline_message(card, amount) if declined else _approval_message(avs, code)
    ctx.conn.execute("UPDATE transactions SET approval_code = ?, approval_message = ? WHERE id = ?",
                     (code, message, transaction_id))
    response_code = 102 if declined else 103 if auto_void else 101
    answer = {
        "success": not declined, "response_code": response_code, "status_message": STATUS_TEXTS[response_code],
        "transaction_id": transaction_id, "approval_code": code, "approval_message": message,
        "avs_response": avs, "csc_response": csc, "external_transaction_id": "",
    }
    if masked:
        answer["masked_card_number"] = card.masked("x")
    status = ctx.settings.decline_http_status if response_code != 101 else 200
    return status, answer


def _decline_message(card: Card, amount: Decimal) -> str:
    # The 2021 sandbox answered MasterCard at $0.29 with an expired-card decline.
    return EXPIRED_CARD_MESSAGE if card.brand == "MASTERCARD" and amount == Decimal("0.29") else DECLINE_MESSAGE


def _keyed(kind: str) -> Callable[[CallContext], tuple[int, dict]]:
    def handler(ctx: CallContext) -> tuple[int, dict]:
        errors = ErrorList()
        amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code)
        card = parse_card(ctx.body.get("credit_card"), ctx.today, errors)
        tax = ctx.tax_cents(errors)
        errors.raise_if_any()
        assert amount is not None and card is not None  # raise_if_any refused a call without them
        return _charge(ctx, kind, card, amount, masked=True, tax_cents=tax)

    return handler


def _by_customer(kind: str) -> Callable[[CallContext], tuple[int, dict]]:
    def handler(ctx: CallContext) -> tuple[int, dict]:
        errors = ErrorList()
        amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code)
        tax = ctx.tax_cents(errors)
        errors.raise_if_any()
        assert amount is not None  # raise_if_any refused a call without it
        customer = ctx.customer(ctx.body.get("customer_id"))
        return _charge(ctx, kind, customer["card"], amount, masked=False, customer_id=customer["customer_id"],
                       fallback=_contact_defaults(customer), tax_cents=tax)

    return handler


def _contact_defaults(source: dict) -> dict:
    """A profile's (or earlier transaction's) email and addresses, the defaults of a reusing call."""
    return {key: source[key] for key in ("email", "billing_address", "shipping_address")}


def _by_transaction(kind: str) -> Callable[[CallContext], tuple[int, dict]]:
    def handler(ctx: CallContext) -> tuple[int, dict]:
        errors = ErrorList()
        amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code)
        tax = ctx.tax_cents(errors)
        errors.raise_if_any()
        assert amount is not None  # raise_if_any refused a call without it
        source = ctx.transaction(ctx.body.get("transaction_id"))
        return _charge(ctx, kind, source["card"], amount, masked=False, fallback=_contact_defaults(source),
                       tax_cents=tax)

    return handler


def capture(ctx: CallContext) -> tuple[int, dict]:
    original = ctx.transaction(ctx.body.get("transaction_id"))
    errors = ErrorList()
    amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code, required=False)
    errors.raise_if_any()
    if original["type"] != "AUTHORIZATION" or original["state"] != "authorized":
        raise reject("816")
    cents = decimal_to_cents(amount) if amount is not None else original["authorized_cents"]
    if cents > original["authorized_cents"]:
        raise reject(ctx.settings.amount_error_code, "amount")
    # A capture waits for the batch after the capture, not after the authorization.
    ctx.conn.execute("UPDATE transactions SET state = 'pending', captured = 1, amount_cents = ?, pending_since = ? "
                     "WHERE id = ?", (cents, utc_text(ctx.now), original["id"]))
    return 200, {"success": True, "response_code": 112, "status_message": STATUS_TEXTS[112],
                 "transaction_id": original["id"], "external_transaction_id": ""}


def void(ctx: CallContext) -> tuple[int, dict]:
    original = ctx.transaction(ctx.body.get("transaction_id"))
    if original["state"] not in ("pending", "authorized"):
        raise reject("818")
    ctx.conn.execute("UPDATE transactions SET state = 'voided' WHERE id = ?", (original["id"],))
    return 200, {"success": True, "response_code": 109, "status_message": STATUS_TEXTS[109],
                 "transaction_id": original["id"]}


def refund_for_transaction(ctx: CallContext) -> tuple[int, dict]:
    original = ctx.transaction(ctx.body.get("transaction_id"))
    errors = ErrorList()
    amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code, required=False)
    errors.raise_if_any()
    if original["state"] != "settled" or original["type"] == "REFUND":
        raise reject("817")
    remaining = original["amount_cents"] - _refunded_cents(ctx.conn, original["id"])
    cents = decimal_to_cents(amount) if amount is not None else remaining
    if remaining <= 0 or cents > remaining:
        raise reject("817")
    return _refund(ctx, cents_to_decimal(cents), original["card"], masked=True, customer_id=original["customer_id"],
                   original_id=original["id"], fallback=original)


def _refunded_cents(conn: sqlite3.Connection, original_id: int) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) AS total FROM transactions "
        "WHERE original_id = ? AND type = 'REFUND' AND state IN ('pending', 'settled')",
        (original_id,),
    ).fetchone()
    return row["total"]


def refund_to_customer(ctx: CallContext) -> tuple[int, dict]:
    errors = ErrorList()
    amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code)
    errors.raise_if_any()
    assert amount is not None  # raise_if_any refused a call without it
    customer = ctx.customer(ctx.body.get("customer_id"))
    return _refund(ctx, amount, customer["card"], masked=False, customer_id=customer["customer_id"],
                   fallback=_contact_defaults(customer))


def refund_keyed(ctx: CallContext) -> tuple[int, dict]:
    errors = ErrorList()
    amount = parse_amount(ctx.body.get("amount"), errors, ctx.settings.amount_error_code)
    card = parse_card(ctx.body.get("credit_card"), ctx.today, errors)
    errors.raise_if_any()
    assert amount is not None and card is not None  # raise_if_any refused a call without them
    return _refund(ctx, amount, card, masked=True)


def _refund(ctx: CallContext, amount: Decimal, card: Card, *, masked: bool, customer_id: str = "",
            original_id: int | None = None, fallback: dict | None = None) -> tuple[int, dict]:
    """Refunds are approved, pending until the next batch, and count against the batch's net."""
    details = {**ctx.details(fallback), "customer_id": customer_id}
    transaction_id = ctx.insert_transaction("REFUND", "pending", amount, card, details, original_id=original_id)
    code = approval_code_for(transaction_id)
    ctx.conn.execute("UPDATE transactions SET approval_code = ?, approval_message = ? WHERE id = ?",
                     (code, f"APPROVAL {code} - Approved and completed", transaction_id))
    answer = {"success": True, "response_code": 106, "status_message": STATUS_TEXTS[106],
              "transaction_id": transaction_id, "external_transaction_id": ""}
    if masked:
        answer["masked_card_number"] = card.masked("x")
    return 200, answer


def settle(ctx: CallContext) -> tuple[int, dict]:
    ids = [row["id"] for row in ctx.conn.execute(
        "SELECT id FROM transactions WHERE state = 'pending' AND pending_since <= ? ORDER BY id", (utc_text(ctx.now),))]
    if not ids:
        return 200, {"success": True, "response_code": 175, "status_message": "There were no transactions to settle.",
                     "batch_number": None, "transaction_count": 0, "net_amount": Decimal(0)}
    number = close_batch(ctx.conn, ctx.settings, ids, ctx.now)
    summary = batch_summary(number, ctx.now, batch_records(ctx.conn, number), ctx.zone)
    return 200, {"success": True, "response_code": 175, "status_message": "The batch was successfully settled.",
                 "batch_number": number, "transaction_count": summary["transaction_count"],
                 "net_amount": summary["net_amount"]}


def close_batch(conn: sqlite3.Connection, settings: SandboxSettings, ids: list[int], closed_at: datetime) -> int:
    number = next_counter(conn, "next_batch_number", settings.first_batch_number)
    conn.execute("INSERT INTO batches (number, closed_at) VALUES (?, ?)", (number, utc_text(closed_at)))
    conn.executemany("UPDATE transactions SET state = 'settled', batch_number = ?, settled_at = ? WHERE id = ?",
                     [(number, utc_text(closed_at), transaction_id) for transaction_id in ids])
    return number


def close_due_batches(conn: sqlite3.Connection, settings: SandboxSettings, now: datetime) -> list[int]:
    """One batch per nightly cutoff that has passed, holding what was pending before that cutoff."""
    last_cutoff = last_cutoff_at_or_before(now, settings)
    rows = conn.execute(
        "SELECT id, pending_since FROM transactions WHERE state = 'pending' AND pending_since < ? "
        "ORDER BY pending_since, id",
        (utc_text(last_cutoff),),
    ).fetchall()
    groups: dict[datetime, list[int]] = {}
    for row in rows:
        groups.setdefault(due_cutoff(parse_utc_text(row["pending_since"]), settings), []).append(row["id"])
    return [close_batch(conn, settings, groups[cutoff], cutoff) for cutoff in sorted(groups)]


def batch_records(conn: sqlite3.Connection, number: int) -> list[dict]:
    rows = conn.execute("SELECT * FROM transactions WHERE batch_number = ? ORDER BY id", (number,))
    return [unpack_transaction(row) for row in rows]


def email_receipt(ctx: CallContext) -> tuple[int, dict]:
    original = ctx.transaction(ctx.body.get("transaction_id"))
    email = clean_text(ctx.body.get("email") or original["email"], 200).strip()
    if "@" not in email:
        raise reject("50")
    ctx.conn.execute("UPDATE transactions SET details_json = json_set(details_json, '$.receipt_emailed_to', ?) "
                     "WHERE id = ?", (email, original["id"]))
    return 200, {"success": True, "response_code": 149,
                 "status_message": f"The receipt for transaction ID {original['id']} was successfully emailed "
                                   f"to {email}."}


def export_by_id(ctx: CallContext) -> tuple[int, dict]:
    data = ctx.transaction(ctx.body.get("transaction_id"))
    return 200, completed(transactions=[export_record(data, ctx.zone, is_true(ctx.body.get("include_bin")))])


def export_by_date_range(ctx: CallContext) -> tuple[int, dict]:
    body = ctx.body
    first = parse_request_date(body.get("start_date"), "840")
    last = parse_request_date(body.get("end_date"), "841")
    start, end = local_day_bounds(first, last, ctx.zone)
    where = ["created_at >= ?", "created_at < ?"]
    params: list[str | int] = [start, end]
    if body.get("transaction_id") not in (None, ""):
        where.append("id = ?")
        params.append(_int_or_none(body["transaction_id"]) or -1)
    if body.get("transaction_type"):
        where.append(TYPE_FILTERS.get(str(body["transaction_type"]).strip().upper(), "0"))
    if body.get("customer_id") not in (None, ""):
        where.append("json_extract(details_json, '$.customer_id') = ?")
        params.append(str(body["customer_id"]).strip())
    rows = ctx.conn.execute(f"SELECT * FROM transactions WHERE {' AND '.join(where)} ORDER BY id", params)
    records = [unpack_transaction(row) for row in rows]
    needle = str(body.get("including_text") or "").strip().lower()
    if needle:
        records = [data for data in records if needle in _searchable_text(data)]
    include_bin = is_true(body.get("include_bin"))
    return 200, completed(transactions=[export_record(data, ctx.zone, include_bin) for data in records])


def _searchable_text(data: dict) -> str:
    parts = (data["invoice_id"], data["description"], data["customer_reference_id"],
             data["billing_address"].get("name", ""), data["email"], data["customer_id"], data["approval_code"])
    return "\n".join(parts).lower()


def batch_export_one(ctx: CallContext) -> tuple[int, dict]:
    value = ctx.body.get("batch_number")
    if value in (None, ""):
        return 200, completed(batch=_pending_batch(ctx))
    row = ctx.conn.execute("SELECT * FROM batches WHERE number = ?", (_int_or_none(value) or -1,)).fetchone()
    if row is None:
        raise reject("812")
    records = batch_records(ctx.conn, row["number"])
    return 200, completed(batch=batch_summary(row["number"], row["closed_at"], records, ctx.zone))


def _pending_batch(ctx: CallContext) -> dict:
    """The batch that would close next: next number, created now, totals of what is pending."""
    number = int(get_meta(ctx.conn, "next_batch_number", ctx.settings.first_batch_number))
    rows = ctx.conn.execute("SELECT * FROM transactions WHERE state = 'pending' ORDER BY id")
    return batch_summary(number, ctx.now, [unpack_transaction(row) for row in rows], ctx.zone)


def batch_export(ctx: CallContext) -> tuple[int, dict]:
    first = parse_request_date(ctx.body.get("start_date"), "840")
    last = parse_request_date(ctx.body.get("end_date"), "841")
    start, end = local_day_bounds(first, last, ctx.zone)
    batches = ctx.conn.execute(
        "SELECT * FROM batches WHERE closed_at >= ? AND closed_at < ? ORDER BY number", (start, end)).fetchall()
    return 200, completed(batches=[
        batch_summary(row["number"], row["closed_at"], batch_records(ctx.conn, row["number"]), ctx.zone)
        for row in batches
    ])


def batch_transaction_list(ctx: CallContext) -> tuple[int, dict]:
    number = _int_or_none(ctx.body.get("batch_number"))
    if number is None or ctx.conn.execute("SELECT 1 FROM batches WHERE number = ?", (number,)).fetchone() is None:
        raise reject("812")
    include_bin = is_true(ctx.body.get("include_bin"))
    return 200, completed(transactions=[export_record(data, ctx.zone, include_bin)
                                        for data in batch_records(ctx.conn, number)])


# ----------------------------------------------------------------------------- vault

PROFILE_TEXT_KEYS = ("email", "phone", "fax")


def _customer_id(value: Any, errors: ErrorList) -> str:
    """Merchant-chosen ids; one that is a card number would put a PAN in the file, so it is refused."""
    text = str(value or "").strip()
    if not text or len(text) > 100 or clean_text(text) != text:
        errors.add("47")
    return text


def _profile_message(customer_id: str, billing: dict, verb: str) -> str:
    return f"The customer profile for {customer_id}/{billing.get('name', '')} was successfully {verb}."


def _profile(body: dict, existing: dict | None = None) -> dict:
    """The profile document: from the request on create; on update only what the request carries
    changes (addresses merged key by key)."""
    profile = {key: existing[key] for key in PROFILE_KEYS} if existing else {}
    for key in ("billing_address", "shipping_address"):
        given = body.get(key)
        if existing is None or isinstance(given, dict):
            merged = {**(profile.get(key) or {}), **(given if isinstance(given, dict) else {})}
            profile[key] = clean_address(merged, shipping=key == "shipping_address")
    for key in PROFILE_TEXT_KEYS:
        if existing is None or key in body:
            profile[key] = clean_text(body.get(key), 200)
    if existing is None or "discretionary_data" in body:
        profile["discretionary_data"] = clean_json(body.get("discretionary_data") or {})
    return profile


PROFILE_KEYS = ("billing_address", "shipping_address", *PROFILE_TEXT_KEYS, "discretionary_data")


def customer_create(ctx: CallContext) -> tuple[int, dict]:
    errors = ErrorList()
    customer_id = _customer_id(ctx.body.get("customer_id"), errors)
    card = parse_card(ctx.body.get("credit_card"), ctx.today, errors)
    errors.raise_if_any()
    assert card is not None  # raise_if_any refused a call without it
    if ctx.conn.execute("SELECT 1 FROM customers WHERE customer_id = ?", (customer_id,)).fetchone():
        raise reject("171")
    profile = _profile(ctx.body)
    ctx.conn.execute("INSERT INTO customers (customer_id, card_json, profile_json, created_at) VALUES (?, ?, ?, ?)",
                     (customer_id, card.to_json(), json.dumps(profile), utc_text(ctx.now)))
    return 200, {"success": True, "response_code": 160,
                 "status_message": _profile_message(customer_id, profile["billing_address"], "created"),
                 "customer_id": customer_id, "masked_card_number": card.masked("x")}


def customer_update(ctx: CallContext) -> tuple[int, dict]:
    existing = ctx.customer(ctx.body.get("customer_id"))
    errors = ErrorList()
    card = _updated_card(ctx, existing["card"], errors)
    new_id = existing["customer_id"]
    if ctx.body.get("new_id") not in (None, "") and str(ctx.body["new_id"]).strip() != new_id:
        new_id = _customer_id(ctx.body["new_id"], errors)
        errors.raise_if_any()
        if ctx.conn.execute("SELECT 1 FROM customers WHERE customer_id = ?", (new_id,)).fetchone():
            raise reject("171")
    errors.raise_if_any()
    profile = _profile(ctx.body, existing)
    ctx.conn.execute("UPDATE customers SET customer_id = ?, card_json = ?, profile_json = ? WHERE customer_id = ?",
                     (new_id, card.to_json(), json.dumps(profile), existing["customer_id"]))
    return 200, {"success": True, "response_code": 161,
                 "status_message": _profile_message(new_id, profile["billing_address"], "updated"),
                 "customer_id": new_id, "masked_card_number": card.masked("x")}


def _updated_card(ctx: CallContext, stored: Card, errors: ErrorList) -> Card:
    """A new number replaces the card; expiry alone may change on the stored card."""
    given = ctx.body.get("credit_card")
    if not isinstance(given, dict) or not given:
        return stored
    if given.get("number") not in (None, ""):
        return parse_card(given, ctx.today, errors) or stored
    probe = ErrorList()
    expiry = {"expiration_month": given.get("expiration_month", stored.exp_month),
              "expiration_year": given.get("expiration_year", stored.exp_year)}
    parse_card(expiry, ctx.today, probe)  # no number: only 43/44 are of interest here
    for code in ("43", "44"):
        if code in probe.errors:
            errors.add(code)
    if "43" in probe.errors or "44" in probe.errors:
        return stored
    month, year = _int_or_none(expiry["expiration_month"]), _expiry_year(expiry["expiration_year"])
    assert month is not None and year is not None  # parse_card found neither 43 nor 44 in them
    return replace(stored, exp_month=month, exp_year=year)


def customer_delete(ctx: CallContext) -> tuple[int, dict]:
    existing = ctx.customer(ctx.body.get("customer_id"))
    ctx.conn.execute("DELETE FROM customers WHERE customer_id = ?", (existing["customer_id"],))
    return 200, {"success": True, "response_code": 162,
                 "status_message": _profile_message(existing["customer_id"], existing["billing_address"], "deleted"),
                 "customer_id": existing["customer_id"]}


def customer_export(ctx: CallContext) -> tuple[int, dict]:
    include_bin = is_true(ctx.body.get("include_bin"))
    if ctx.body.get("customer_id") not in (None, ""):
        customers = [ctx.customer(ctx.body.get("customer_id"))]
    else:
        rows = ctx.conn.execute("SELECT * FROM customers ORDER BY created_at, customer_id")
        customers = [unpack_customer(row) for row in rows]
    return 200, completed(customers=[customer_record(data, ctx.zone, include_bin) for data in customers])


def ping(ctx: CallContext) -> tuple[int, dict]:
    return 200, {"success": True, "response_code": 1, "status_message": "pong"}


ROUTES: dict[str, Callable[[CallContext], tuple[int, dict]]] = {
    "/v1/transactions/sale/keyed": _keyed("SALE"),
    "/v1/transactions/sale/by_customer": _by_customer("SALE"),
    "/v1/transactions/sale/by_transaction": _by_transaction("SALE"),
    "/v1/transactions/authorization/keyed": _keyed("AUTHORIZATION"),
    "/v1/transactions/authorization/by_customer": _by_customer("AUTHORIZATION"),
    "/v1/transactions/authorization/by_transaction": _by_transaction("AUTHORIZATION"),
    "/v1/transactions/authorization/capture": capture,
    "/v1/transactions/void": void,
    "/v1/transactions/refund/for_transaction": refund_for_transaction,
    "/v1/transactions/refund/to_customer": refund_to_customer,
    "/v1/transactions/refund/keyed": refund_keyed,
    "/v1/transactions/settle": settle,
    "/v1/transactions/email_receipt": email_receipt,
    "/v1/transactions/export/by_id": export_by_id,
    "/v1/transactions/export/by_date_range": export_by_date_range,
    "/v1/batches/export_one": batch_export_one,
    "/v1/batches/export": batch_export,
    "/v1/batches/transaction_list": batch_transaction_list,
    "/v1/customer/create": customer_create,
    "/v1/customer/update": customer_update,
    "/v1/customer/delete": customer_delete,
    "/v1/customer/export": customer_export,
    "/v1/ping": ping,
}
UNAUTHENTICATED_ROUTES = frozenset({"/v1/ping"})


# ----------------------------------------------------------------------------- the sandbox


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)


def _hash_token(token: str) -> bytes:
    # Tokens carry 350+ random bits, so an unsalted digest is enough; stored as a BLOB (no digit runs).
    return hashlib.sha256(token.encode()).digest()


def _new_token() -> str:
    return f"{secrets.token_hex(16)}:{secrets.token_hex(16)}:{secrets.token_urlsafe(32)}"


class PayTraceSandbox:
    """The sandbox behind the HTTP app; safe to share across threads and processes."""

    def __init__(self, state_path: str | os.PathLike, *, settings: dict | None = None) -> None:
        self.state_path = os.fspath(state_path)
        self._store = Store(self.state_path)
        if settings:
            self.update_settings(**settings)

    # -- users and tokens (wall clock)

    def ensure_user(self, username: str, password: str) -> None:
        """Create or re-key an API user; only a salted PBKDF2 hash is stored."""
        salt = secrets.token_bytes(16)
        digest = _hash_password(password, salt)
        with self._store.write() as conn:
            conn.execute(
                "INSERT INTO users (username, salt, password_hash) VALUES (?, ?, ?) "
                "ON CONFLICT(username) DO UPDATE SET salt = excluded.salt, password_hash = excluded.password_hash",
                (username, salt, digest),
            )

    def issue_token(self, fields: dict) -> tuple[int, dict]:
        """``POST /oauth/token`` with the password grant; lifetimes on the wall clock."""
        fields = {key: str(value) for key, value in (fields or {}).items() if value is not None}
        problem = self._token_request_problem(fields)
        if problem is None and not self._password_ok(fields["username"], fields["password"]):
            problem = {"error": "invalid_grant", "error_description": INVALID_GRANT}
        with self._store.write() as conn:
            bump_stat(conn, "route:/oauth/token")
            if problem is not None:
                bump_stat(conn, "token_failures")
                return 400, problem
            return 200, self._store_new_token(conn, fields["username"])

    @staticmethod
    def _token_request_problem(fields: dict) -> dict | None:
        grant = fields.get("grant_type")
        if grant and grant != "password":
            return {"error": "unsupported_grant_type", "error_description": UNSUPPORTED_GRANT}
        if not grant or not fields.get("username") or not fields.get("password"):
            return {"error": "invalid_request", "error_description": INVALID_REQUEST}
        return None

    def _password_ok(self, username: str, password: str) -> bool:
        with self._store.read() as conn:
            row = conn.execute("SELECT salt, password_hash FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            _hash_password(password, b"\0" * 16)  # same cost either way: no user-existence timing leak
            return False
        return hmac.compare_digest(_hash_password(password, row["salt"]), row["password_hash"])

    def _store_new_token(self, conn: sqlite3.Connection, username: str) -> dict:
        token = _new_token()
        created = wall_now().timestamp()
        lifetime = self._settings(conn).token_lifetime_seconds
        conn.execute("DELETE FROM tokens WHERE expires_at < ?", (created - 86400,))
        conn.execute("INSERT INTO tokens (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
                     (_hash_token(token), username, created, created + lifetime))
        bump_stat(conn, "tokens_issued")
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "created_at": int(created)}

    def authenticate(self, authorization_header: str | None) -> tuple[int, dict] | None:
        """None when the bearer token is valid; else the 401 answer."""
        problem, _user = self.token_owner(authorization_header)
        return (401, problem) if problem else None

    def token_owner(self, authorization_header: str | None) -> tuple[dict | None, str | None]:
        """(401 body or None, username) for an ``Authorization: Bearer ...`` header."""
        scheme, _, token = (authorization_header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return {"error": "invalid_token", "error_description": TOKEN_INVALID}, None
        with self._store.read() as conn:
            row = conn.execute("SELECT username, expires_at FROM tokens WHERE token_hash = ?",
                               (_hash_token(token),)).fetchone()
        if row is None:
            return {"error": "invalid_token", "error_description": TOKEN_INVALID}, None
        if row["expires_at"] <= wall_now().timestamp():
            return {"error": "invalid_token", "error_description": TOKEN_EXPIRED}, None
        return None, row["username"]

    def expire_tokens(self) -> None:
        """Every issued token expires now, so clients exercise the re-authentication path."""
        with self._store.write() as conn:
            conn.execute("UPDATE tokens SET expires_at = MIN(expires_at, ?)", (wall_now().timestamp(),))

    # -- settings and clock

    def settings(self) -> SandboxSettings:
        with self._store.read() as conn:
            return self._settings(conn)

    @staticmethod
    def _settings(conn: sqlite3.Connection) -> SandboxSettings:
        return SandboxSettings.model_validate(get_meta(conn, "settings", {}))

    def update_settings(self, **changes: Any) -> SandboxSettings:
        with self._store.write() as conn:
            merged = {**self._settings(conn).model_dump(), **changes}
            updated = SandboxSettings.model_validate(merged)
            set_meta(conn, "settings", updated.model_dump())
            return updated

    def now(self) -> datetime:
        """The virtual clock, tz-aware, in the merchant's zone."""
        with self._store.read() as conn:
            return virtual_now(read_clock(conn)).astimezone(self._settings(conn).zone)

    def set_clock(self, *, at: datetime | None = None, advance_seconds: float | None = None,
                  mode: str | None = None) -> dict:
        """Move the clock (naive ``at`` = merchant local) and close the nightly batches now due.
        With no arguments it only reports the clock."""
        with self._store.write() as conn:
            settings = self._settings(conn)
            state = read_clock(conn)
            if at is not None or advance_seconds is not None or mode is not None:
                state = move_clock(state, zone=settings.zone, at=at, advance_seconds=advance_seconds, mode=mode)
                write_clock(conn, state)
            closed = self._close_due(conn, settings, virtual_now(state))
            return {**describe(state, settings.zone), "batches_closed": closed}

    def settle_due(self) -> list[int]:
        """Close the nightly batches whose cutoff has passed; returns their numbers."""
        with self._store.write() as conn:
            return self._close_due(conn, self._settings(conn), virtual_now(read_clock(conn)))

    @staticmethod
    def _close_due(conn: sqlite3.Connection, settings: SandboxSettings, now: datetime) -> list[int]:
        return close_due_batches(conn, settings, now) if settings.auto_settle else []

    # -- the v1 API

    def call(self, route: str, body: dict, *, user: str | None = None, from_ip: str | None = None) -> tuple[int, dict]:
        """Run one v1 route (no auth here: the HTTP layer checks the bearer) and commit its effect."""
        body = body if isinstance(body, dict) else {}
        with self._store.write() as conn:
            settings = self._settings(conn)
            now = virtual_now(read_clock(conn))
            self._close_due(conn, settings, now)
            self._count_call(conn, route, body)
            handler = ROUTES.get(route)
            if handler is None:
                return 404, error_envelope({"404": ["The requested API method was not found."]}, route)
            if settings.require_integrator_id and not body.get("integrator_id") and route not in UNAUTHENTICATED_ROUTES:
                return settings.validation_http_status, error_envelope({"981": [ERROR_TEXTS["981"]]}, route)
            context = CallContext(conn, settings, now, body, route, user or self._first_user(conn),
                                  from_ip or "127.0.0.1")
            try:
                return handler(context)
            except Rejected as rejected:
                return settings.validation_http_status, error_envelope(rejected.errors, route)

    @staticmethod
    def _first_user(conn: sqlite3.Connection) -> str:
        """`created.by` for in-process calls (plan replays), which carry no token."""
        row = conn.execute("SELECT username FROM users ORDER BY rowid LIMIT 1").fetchone()
        return row["username"] if row else ""

    @staticmethod
    def _count_call(conn: sqlite3.Connection, route: str, body: dict) -> None:
        bump_stat(conn, "calls_total")
        bump_stat(conn, f"route:{route}")
        if not body.get("integrator_id"):
            bump_stat(conn, "calls_without_integrator_id")

    # -- faults, stats, reset

    def set_faults(self, rules: list[dict], seed: int = 0) -> None:
        with self._store.write() as conn:
            fault_rules.replace_rules(conn, rules, seed)

    def clear_faults(self) -> None:
        with self._store.write() as conn:
            conn.execute("DELETE FROM faults")

    def faults(self) -> dict:
        with self._store.read() as conn:
            return fault_rules.list_faults(conn)

    def draw_fault(self, route: str) -> dict | None:
        """The fault rule that fires for this request, if any (counters persist)."""
        with self._store.read() as conn:
            if not fault_rules.has_rules(conn):
                return None  # the common case stays free of write locks
        with self._store.write() as conn:
            return fault_rules.draw_fault(conn, route)

    def stats(self) -> dict:
        with self._store.read() as conn:
            rows = {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM stats ORDER BY key")}
        return {
            "calls_total": rows.get("calls_total", 0),
            "calls_by_route": {key.removeprefix("route:"): value for key, value in rows.items()
                               if key.startswith("route:")},
            "calls_without_integrator_id": rows.get("calls_without_integrator_id", 0),
            "tokens_issued": rows.get("tokens_issued", 0),
            "token_failures": rows.get("token_failures", 0),
            "faults_by_kind": {key.removeprefix("fault:"): value for key, value in rows.items()
                               if key.startswith("fault:")},
        }

    def reset(self) -> None:
        """Empty the merchant's state. Settings, users, tokens, the clock and the id counters stay,
        so ids are never reused and a client's earlier records cannot collide with new ones."""
        with self._store.write() as conn:
            for table in STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")

