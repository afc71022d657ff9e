"""A merchant's realistic PayTrace activity over a date range, deterministic from a seed.

What it makes, per business day: vault customers paying invoices by phone (`by_customer`), web
store sales keyed with a card, invoice numbers typed the way people type them (`INV-0001234`,
`#1234`, `1234`, `0001234, 0001235`, or only in the description), partial payments, declines
(by the sandbox's trigger amounts), voids before the nightly batch, refunds of settled sales,
authorizations captured later, and the nightly batches the sandbox closes at its cutoff. The vault
changes too, through the v1 customer API: on the first morning a customer saves a spare card as a
second profile; halfway through the range a card's expiry is renewed, a card is replaced by a new
one, another person gets a second profile (a duplicate: same name, e-mail and billing address,
another card), and the spare profile (never paid with) is deleted. These come from their own
random stream, so the payments of a seed are the same with or without them.

The output is an `ActivityPlan` (replayed through the sandbox's own state machine) plus a
`GeneratedActivity` summary without card data: the customers and the invoices the payments refer
to, so that a Sage demo company can be seeded with matching open invoices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from pydantic import BaseModel

from sage_paytrace_pipeline.domain.cards import luhn_valid
from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan, PlanCall

# Test BINs per brand (PayTrace's documented sandbox cards share these prefixes).
_BRAND_BINS = {"VISA": "401200", "MASTERCARD": "549974", "AMEX": "371449", "DISCOVER": "601100"}
_BRAND_WEIGHTS = {"VISA": 55, "MASTERCARD": 25, "AMEX": 12, "DISCOVER": 8}
_FIRST = ("Ana", "Ben", "Carla", "Dev", "Elena", "Frank", "Grace", "Hiro", "Ines", "Jamal", "Kim",
          "Luis", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor",
          "Wen", "Yusuf", "Zoe", "José", "Zoë", "Björn")
_LAST = ("Alvarez", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
         "Jones", "Kowalski", "Lopez", "Murphy", "Nguyen", "O'Brien", "Patel", "Quiroga", "Rossi",
         "Smith", "Tanaka", "Underwood", "Vasquez", "Weber", "Young", "Zhang", "Núñez")
_COMPANY = ("Cascade Supply", "Ridgeline Dental", "Blue Heron Cafe", "Summit Auto Glass",
            "Pinecrest Veterinary", "Harbor Freight Co", "Lakeside Printing", "Northwind Traders",
            "Evergreen Landscaping", "Granite Peak HVAC", "Riverbend Pharmacy", "Sunrise Bakery")
_CITIES = (("Spokane", "WA", "99201"), ("Seattle", "WA", "98101"), ("Portland", "OR", "97205"),
           ("Boise", "ID", "83702"), ("Tacoma", "WA", "98402"), ("Eugene", "OR", "97401"))


class GeneratedCustomer(BaseModel):
    customer_id: str
    name: str
    company: str
    email: str
    zip: str
    brand: str
    last4: str


class GeneratedInvoice(BaseModel):
    invoice_no: str  # Sage style: seven digits, zero padded
    customer_id: str | None  # vault customer paying it (None for guest web orders)
    bill_to_name: str
    bill_to_email: str = ""
    bill_to_zip: str = ""
    invoice_date: date
    amount: Decimal
    paid: Decimal = Decimal("0.00")


class GeneratedPayment(BaseModel):
    """A planned payment that moves money (a sale, or an authorization's capture) and the invoices it
    pays, as the payer meant it: the truth a reconciliation of the pipeline's postings is judged by."""

    ref: str  # the plan's ref; `PlanOutcome.transaction_ids[ref]` is its PayTrace transaction id
    amount: Decimal
    allocations: dict[str, Decimal]  # invoice_no -> amount paid on it


class GeneratedActivity(BaseModel):
    """The card-free summary of a generated plan."""

    seed: int
    start: date
    end: date
    customers: list[GeneratedCustomer]
    invoices: list[GeneratedInvoice]
    counts: dict[str, int]
    payments: list[GeneratedPayment] = []  # voided sales and uncaptured authorizations are not payments


@dataclass
class MerchantProfile:
    """The merchant's habits; defaults resemble a small B2B distributor with a web store."""

    customers: int = 40
    payments_per_weekday: int = 24
    payments_per_weekend_day: int = 6
    decline_amounts: tuple[str, ...] = ("1.12", "0.29")
    batch_cutoff: time = time(20, 0)
    share_phone_vault: float = 0.45
    share_web_keyed: float = 0.35
    share_authorization: float = 0.10
    share_decline: float = 0.04
    share_void: float = 0.03
    share_refund: float = 0.03
    share_partial: float = 0.15
    first_invoice_no: int = 100100
    vault_changes: bool = True  # renew, replace, duplicate and delete vault profiles halfway through


@dataclass
class _State:
    rng: random.Random
    profile: MerchantProfile
    calls: list[PlanCall] = field(default_factory=list)
    customers: list[GeneratedCustomer] = field(default_factory=list)
    invoices: list[GeneratedInvoice] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # Sales that may later be refunded: (ref, created at, amount, customer_id)
    refundable: list[tuple[str, datetime, Decimal]] = field(default_factory=list)
    payments: dict[str, GeneratedPayment] = field(default_factory=dict)
    next_invoice: int = 0
    next_ref: int = 0

    def ref(self, kind: str) -> str:
        self.next_ref += 1
        return f"{kind}-{self.next_ref}"

    def count(self, kind: str, times: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + times


def generate_activity(
    start: date, end: date, *, seed: int = 1, profile: MerchantProfile | None = None
) -> tuple[ActivityPlan, GeneratedActivity]:
    """Plan a merchant's activity from `start` to `end` (inclusive business dates), vault changes included
    when the range and the vault are big enough (`MerchantProfile.vault_changes`)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    state = _State(rng=random.Random(seed), profile=profile or MerchantProfile())
    state.next_invoice = state.profile.first_invoice_no
    _plan_vault_customers(state, datetime.combine(start, time(6, 0)))
    day = start
    while day <= end:
        _plan_day(state, day)
        day += timedelta(days=1)
    if state.profile.vault_changes:
        _plan_vault_changes(state, start, start + (end - start) // 2, random.Random(f"vault-changes-{seed}"))
    plan = ActivityPlan(calls=state.calls, finish_at=None)
    summary = GeneratedActivity(
        seed=seed, start=start, end=end, customers=state.customers, invoices=state.invoices,
        counts=dict(sorted(state.counts.items())), payments=list(state.payments.values()),
    )
    return plan, summary


# ---------------------------------------------------------------- customers and cards


def _card_number(rng: random.Random, brand: str) -> str:
    """A Luhn-valid test number on the brand's sandbox BIN (kept in memory only)."""
    length = 15 if brand == "AMEX" else 16
    body = _BRAND_BINS[brand] + "".join(str(rng.randrange(10)) for _ in range(length - 7))
    return body + _luhn_check_digit(body)


def _luhn_check_digit(body: str) -> str:
    return next(digit for digit in "0123456789" if luhn_valid(body + digit))


def _pick_brand(rng: random.Random) -> str:
    return rng.choices(list(_BRAND_WEIGHTS), weights=list(_BRAND_WEIGHTS.values()))[0]


def _person(rng: random.Random) -> tuple[str, str, str, tuple[str, str, str]]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    company = rng.choice(_COMPANY)
    email = f"{first}.{last}".lower().replace("'", "") + "@" + company.lower().replace(" ", "") + ".example"
    return f"{first} {last}", company, email, rng.choice(_CITIES)


def _billing_address(name: str, city: tuple[str, str, str], rng: random.Random) -> dict:
    return {
        "name": name,
        "street_address": f"{rng.randrange(100, 9999)} {rng.choice(('Main', 'Oak', 'Division', 'Monroe', 'Pine'))} St",
        "city": city[0],
        "state": city[1],
        "zip": city[2],
        "country": "US",
    }


def _plan_vault_customers(state: _State, at: datetime) -> None:
    rng = state.rng
    for number in range(1, state.profile.customers + 1):
        name, company, email, city = _person(rng)
        brand = _pick_brand(rng)
        pan = _card_number(rng, brand)
        customer_id = f"CUST{number:06d}" if rng.random() < 0.7 else f"{rng.getrandbits(96):024x}"
        expiry_year = at.year + rng.randrange(1, 5)
        state.calls.append(
            PlanCall(
                at=at + timedelta(seconds=number),
                route="/v1/customer/create",
                body={
                    "customer_id": customer_id,
                    "credit_card": {"number": pan, "expiration_month": rng.randrange(1, 13),
                                    "expiration_year": expiry_year},
                    "billing_address": _billing_address(name, city, rng),
                    "email": email,
                    "phone": f"509-555-{rng.randrange(1000, 9999)}",
                },
            )
        )
        state.customers.append(
            GeneratedCustomer(customer_id=customer_id, name=name, company=company, email=email,
                              zip=city[2], brand=brand, last4=pan[-4:])
        )
        state.count("vault_customer")


_VAULT_CHANGE_AT = time(21, 15)  # after the nightly cutoff: the day's payments use the vault as it was


def _plan_vault_changes(state: _State, first_day: date, day: date, rng: random.Random) -> None:
    """The vault's changes through the v1 customer API, on distinct profiles (picked in id order): a
    spare profile saved on `first_day` for one person and deleted on `day` (no payment uses it, so a
    deletion never leaves a payment without its profile), and on `day` an expiry renewed, a card
    replaced and a second profile for another person. Needs at least four profiles."""
    created = {call.body["customer_id"]: call for call in state.calls if call.route == "/v1/customer/create"}
    if len(created) < 4:
        return
    at = datetime.combine(day, _VAULT_CHANGE_AT)
    renewed, replaced, duplicated, spare_owner = rng.sample(sorted(created), 4)
    spare = f"SPARE{rng.getrandbits(40):010x}"
    state.calls.append(_second_profile(created[spare_owner].body, spare, rng,
                                       at=datetime.combine(first_day, time(6, 30))))
    card = created[renewed].body["credit_card"]
    state.calls.append(PlanCall(at=at, route="/v1/customer/update", body={
        "customer_id": renewed, "credit_card": {"expiration_month": card["expiration_month"],
                                                "expiration_year": card["expiration_year"] + 3}}))
    state.count("vault_expiry_renewed")
    brand = next(c.brand for c in state.customers if c.customer_id == replaced)
    state.calls.append(PlanCall(at=at + timedelta(minutes=1), route="/v1/customer/update", body={
        "customer_id": replaced, "credit_card": {"number": _card_number(rng, brand), "expiration_month": 6,
                                                 "expiration_year": at.year + 4}}))
    state.count("vault_card_replaced")
    state.calls.append(_second_profile(created[duplicated].body, f"DUP{rng.getrandbits(40):010x}", rng,
                                       at=at + timedelta(minutes=2)))
    state.count("vault_second_profile", 2)
    state.calls.append(PlanCall(at=at + timedelta(minutes=3), route="/v1/customer/delete",
                                body={"customer_id": spare}))
    state.count("vault_profile_deleted")


def _second_profile(person: dict, customer_id: str, rng: random.Random, *, at: datetime) -> PlanCall:
    """Another profile for the person of `person` (a create body): same billing address, e-mail and
    phone, another card."""
    return PlanCall(at=at, route="/v1/customer/create", body={
        **{key: person[key] for key in ("billing_address", "email", "phone")}, "customer_id": customer_id,
        "credit_card": {"number": _card_number(rng, _pick_brand(rng)), "expiration_month": rng.randrange(1, 13),
                        "expiration_year": at.year + 3}})


# ---------------------------------------------------------------- one business day


def _plan_day(state: _State, day: date) -> None:
    rng, profile = state.rng, state.profile
    weekend = day.weekday() >= 5
    mean = profile.payments_per_weekend_day if weekend else profile.payments_per_weekday
    payments = max(0, round(rng.gauss(mean, mean * 0.25)))
    for _ in range(payments):
        at = datetime.combine(day, time(7, 0)) + timedelta(seconds=rng.randrange(15 * 3600))
        _plan_payment(state, at)
    _plan_refunds(state, day)


def _plan_payment(state: _State, at: datetime) -> None:
    rng, profile = state.rng, state.profile
    roll = rng.random()
    if roll < profile.share_decline:
        _plan_decline(state, at)
    elif roll < profile.share_decline + profile.share_authorization:
        _plan_authorization(state, at)
    elif roll < profile.share_decline + profile.share_authorization + profile.share_web_keyed:
        _plan_web_sale(state, at)
    else:
        _plan_phone_sale(state, at)


def _new_invoice(
    state: _State, customer: GeneratedCustomer | None, at: datetime, *,
    name: str = "", email: str = "", zip_code: str = "",
) -> GeneratedInvoice:
    """An invoice billed to a vault customer (its company) or to a web buyer (name, e-mail, ZIP)."""
    amount = _amount(state)
    invoice = GeneratedInvoice(
        invoice_no=f"{state.next_invoice:07d}", customer_id=customer.customer_id if customer else None,
        bill_to_name=customer.company if customer else name,
        bill_to_email=customer.email if customer else email,
        bill_to_zip=customer.zip if customer else zip_code,
        invoice_date=(at - timedelta(days=state.rng.randrange(0, 30))).date(), amount=amount,
    )
    state.next_invoice += state.rng.randrange(1, 4)
    state.invoices.append(invoice)
    return invoice


def _amount(state: _State) -> Decimal:
    """An invoice-like amount, never one of the sandbox's decline triggers."""
    while True:
        cents = int(state.rng.lognormvariate(10.2, 1.0))
        amount = Decimal(max(cents, 500)) / 100
        if format_decimal(amount) not in state.profile.decline_amounts and amount < Decimal("50000"):
            return amount.quantize(Decimal("0.01"))


def _typed_reference(state: _State, invoices: list[GeneratedInvoice]) -> tuple[str, str]:
    return typed_reference(state.rng, [invoice.invoice_no for invoice in invoices])


def typed_reference(rng: random.Random, numbers: list[str], *, blank_invoice_id: bool = True) -> tuple[str, str]:
    """(invoice_id, description) written the ways people really type invoice numbers.

    `blank_invoice_id=False` keeps to the styles that put the number in invoice_id (for callers that
    must send one); the default draws from every style, as the generated history does.
    """
    if len(numbers) > 1:
        return ", ".join(numbers), "Payment for invoices"
    number = numbers[0]
    style = rng.random() * (1.0 if blank_invoice_id else 0.80)
    if style < 0.30:
        return f"INV-{number}", "Invoice payment"
    if style < 0.45:
        return f"#{int(number)}", "Phone payment"
    if style < 0.60:
        return str(int(number)), ""
    if style < 0.80:
        return number, "Web store order"
    if style < 0.92:
        return "", f"Payment for invoice {number}"
    return "", "Payment on account"


def _payment_amount(state: _State, invoices: list[GeneratedInvoice]) -> tuple[Decimal, str]:
    due = sum((invoice.amount - invoice.paid for invoice in invoices), Decimal("0.00"))
    if len(invoices) == 1 and state.rng.random() < state.profile.share_partial:
        part = (due * Decimal(state.rng.choice(("0.25", "0.5", "0.4")))).quantize(Decimal("0.01"))
        if part > 0 and format_decimal(part) not in state.profile.decline_amounts:
            return part, "partial"
    return due, "full"


def _apply_payment(state: _State, ref: str, invoices: list[GeneratedInvoice], amount: Decimal) -> None:
    allocations = {}
    payment = amount
    for invoice in invoices:
        applied = min(amount, invoice.amount - invoice.paid)
        invoice.paid += applied
        amount -= applied
        allocations[invoice.invoice_no] = applied
    state.payments[ref] = GeneratedPayment(ref=ref, amount=payment, allocations=allocations)


def _plan_phone_sale(state: _State, at: datetime) -> None:
    customer = state.rng.choice(state.customers)
    count = 2 if state.rng.random() < 0.12 else 1
    invoices = [_new_invoice(state, customer, at) for _ in range(count)]
    invoice_id, description = _typed_reference(state, invoices)
    amount, kind = _payment_amount(state, invoices)
    ref = state.ref("sale")
    state.calls.append(
        PlanCall(at=at, route="/v1/transactions/sale/by_customer", ref=ref,
                 body={"customer_id": customer.customer_id, "amount": format_decimal(amount),
                       "invoice_id": invoice_id, "description": description})
    )
    _apply_payment(state, ref, invoices, amount)
    state.count(f"phone_sale_{kind}")
    _maybe_void(state, ref, at, amount, invoices)


def _plan_web_sale(state: _State, at: datetime) -> None:
    rng = state.rng
    name, _company, email, city = _person(rng)
    brand = _pick_brand(rng)
    invoice = _new_invoice(state, None, at, name=name, email=email, zip_code=city[2])
    invoice_id, description = _typed_reference(state, [invoice])
    ref = state.ref("web")
    state.calls.append(
        PlanCall(at=at, route="/v1/transactions/sale/keyed", ref=ref,
                 body={"amount": format_decimal(invoice.amount),
                       "credit_card": {"number": _card_number(rng, brand), "expiration_month": rng.randrange(1, 13),
                                       "expiration_year": at.year + rng.randrange(1, 4)},
                       "csc": "999" if brand != "AMEX" else "9997",
                       "billing_address": _billing_address(name, city, rng), "email": email,
                       "invoice_id": invoice_id, "description": description or "Web store order"})
    )
    _apply_payment(state, ref, [invoice], invoice.amount)
    state.count("web_sale")
    _maybe_void(state, ref, at, invoice.amount, [invoice])


def _plan_decline(state: _State, at: datetime) -> None:
    customer = state.rng.choice(state.customers)
    amount = state.rng.choice(state.profile.decline_amounts)
    state.calls.append(
        PlanCall(at=at, route="/v1/transactions/sale/by_customer", ref=state.ref("declined"),
                 body={"customer_id": customer.customer_id, "amount": amount, "invoice_id": "",
                       "description": "Card on file payment"})
    )
    state.count("declined")


def _plan_authorization(state: _State, at: datetime) -> None:
    rng = state.rng
    customer = rng.choice(state.customers)
    invoice = _new_invoice(state, customer, at)
    ref = state.ref("auth")
    state.calls.append(
        PlanCall(at=at, route="/v1/transactions/authorization/by_customer", ref=ref,
                 body={"customer_id": customer.customer_id, "amount": format_decimal(invoice.amount),
                       "invoice_id": f"INV-{invoice.invoice_no}", "description": "Order hold"})
    )
    later = at + timedelta(hours=rng.randrange(1, 30))
    if rng.random() < 0.85:
        captured = invoice.amount if rng.random() < 0.8 else (invoice.amount * Decimal("0.9")).quantize(Decimal("0.01"))
        state.calls.append(
            PlanCall(at=later, route="/v1/transactions/authorization/capture", uses={"transaction_id": ref},
                     body={"amount": format_decimal(captured)})
        )
        _apply_payment(state, ref, [invoice], captured)
        state.refundable.append((ref, later, captured))
        state.count("authorization_captured")
    else:
        state.calls.append(PlanCall(at=later, route="/v1/transactions/void", uses={"transaction_id": ref}))
        state.count("authorization_voided")


def _maybe_void(state: _State, ref: str, at: datetime, amount: Decimal, invoices: list[GeneratedInvoice]) -> None:
    """Void some sales before their batch closes; the rest may be refunded after settlement."""
    cutoff = datetime.combine(at.date(), state.profile.batch_cutoff)
    if at >= cutoff:
        cutoff += timedelta(days=1)
    minutes_left = int((cutoff - at).total_seconds() // 60) - 1
    if minutes_left >= 5 and state.rng.random() < state.profile.share_void:
        state.calls.append(
            PlanCall(at=at + timedelta(minutes=state.rng.randrange(2, minutes_left)),
                     route="/v1/transactions/void", uses={"transaction_id": ref})
        )
        _unapply(invoices, amount)
        del state.payments[ref]
        state.count("voided_sale")
        return
    state.refundable.append((ref, at, amount))


def _unapply(invoices: list[GeneratedInvoice], amount: Decimal) -> None:
    for invoice in reversed(invoices):
        taken = min(amount, invoice.paid)
        invoice.paid -= taken
        amount -= taken


def _plan_refunds(state: _State, day: date) -> None:
    """Refund some sales whose batch closed before this day (each sale is considered once)."""
    rng = state.rng
    settled_before = datetime.combine(day - timedelta(days=1), state.profile.batch_cutoff)
    candidates = [item for item in state.refundable if item[1] < settled_before]
    for ref, created, amount in candidates:
        state.refundable.remove((ref, created, amount))
        if rng.random() >= state.profile.share_refund:
            continue
        partial = rng.random() < 0.4
        refund_amount = (amount * Decimal("0.3")).quantize(Decimal("0.01")) if partial else amount
        if refund_amount <= 0 or format_decimal(refund_amount) in state.profile.decline_amounts:
            continue
        at = datetime.combine(day, time(9, 0)) + timedelta(minutes=rng.randrange(8 * 60))
        # No invoice_id of its own: PayTrace copies the sale's, the key the refund is linked back to its sale by.
        state.calls.append(
            PlanCall(at=at, route="/v1/transactions/refund/for_transaction", uses={"transaction_id": ref},
                     ref=state.ref("refund"), body={"amount": format_decimal(refund_amount)})
        )
        state.count("refund_partial" if partial else "refund_full")
