"""Live card payments against a running sandbox, paying the Sage demo company's open invoices.

For the Dagster UI demo: every few seconds a customer pays an open invoice through the sandbox's
real v1 HTTP API, so the activity sensor sees new activity and the run it starts has something to
match. The payments are sent by `WebStore`, a fake web store's checkout speaking plain HTTP: it does
not use the pipeline's `PayTraceClient`, so the sandbox is fed by a reading of the wire of its own.
Invoice numbers are typed the way the generated history types them (`typed_reference`); billing
name, e-mail and ZIP come from the Sage customer; customers whose saved card is a PayTrace vault
profile sometimes pay with it.

Only the sandbox's public test card numbers are used, and they are never printed or logged.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline.sage100.models import Customer, OpenInvoice
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    typed_reference,
)
from sage_paytrace_pipeline.sandbox.paytrace.settings import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
)

# PayTrace's documented sandbox test cards (reference §10), with a CSC the sandbox matches.
_TEST_CARDS = (("4012000098765439", "999"), ("5499740000000057", "999"),
               ("6011000993026909", "999"), ("371449635392376", "9997"))
_PARTIAL_SHARES = (Decimal("0.25"), Decimal("0.40"), Decimal("0.50"))
# The sandbox declines these amounts on purpose; a live payment should not hit them by accident.
_DECLINE_AMOUNTS = frozenset(MerchantProfile().decline_amounts)
# The merchant's zone, whose date the sandbox's clock is read in (cards expire two years after it).
_MERCHANT_ZONE = ZoneInfo("America/Los_Angeles")


class WebStoreError(RuntimeError):
    """The sandbox refused a store call (its message is scrubbed of card data)."""


class WebStore:
    """A web store's checkout talking to the sandbox's v1 API over plain httpx.

    Password-grant token, Bearer header, ``integrator_id`` on every call; a sale either comes back
    approved with its transaction id or raises `WebStoreError`. No retries and no lost-answer
    recovery: a demo store against a local sandbox stops on the first failure instead.
    """

    def __init__(self, url: str, *, username: str, password: str, integrator_id: str = "",
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), transport=transport, timeout=60.0,
                                  headers={"Accept": "application/json", "User-Agent": "sandbox-web-store"})
        self._form = {"grant_type": "password", "username": username, "password": password}
        self._integrator_id = integrator_id
        self._token: str | None = None
        self._today: date | None = None

    def __enter__(self) -> WebStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"WebStore(url={str(self._http.base_url)!r})"

    def today(self) -> date:
        """The sandbox's date (from the ``Date`` header of its last answer)."""
        if self._today is None:
            self._call("/v1/customer/export", {})
        assert self._today is not None
        return self._today

    def vault_customer_ids(self) -> set[str]:
        return {str(profile["customer_id"]) for profile in self.vault_profiles()}

    def vault_profiles(self) -> list[dict[str, Any]]:
        """The vault as `customer/export` answers it (masked cards only)."""
        body = self._call("/v1/customer/export", {})
        return [dict(c) for c in body.get("customers") or [] if isinstance(c, Mapping)]

    def create_profile(self, payload: dict[str, Any]) -> None:
        self._call("/v1/customer/create", payload)

    def update_profile(self, customer_id: str, payload: dict[str, Any]) -> None:
        self._call("/v1/customer/update", {**payload, "customer_id": customer_id})

    def delete_profile(self, customer_id: str) -> None:
        self._call("/v1/customer/delete", {"customer_id": customer_id})

    def sale_keyed(self, card: CardInput, amount: Decimal, *, invoice_id: str, billing_address: Address,
                   email: str | None, description: str | None) -> int:
        payload = {"amount": format_decimal(amount), "invoice_id": invoice_id, "description": description,
                   **card.to_wire(), "billing_address": billing_address.to_wire(), "email": email}
        return self._sale("/v1/transactions/sale/keyed", payload)

    def sale_by_customer(self, customer_id: str, amount: Decimal, *, invoice_id: str,
                         description: str | None) -> int:
        payload = {"amount": format_decimal(amount), "invoice_id": invoice_id, "description": description,
                   "customer_id": customer_id}
        return self._sale("/v1/transactions/sale/by_customer", payload)

    def _sale(self, route: str, payload: dict[str, Any]) -> int:
        body = self._call(route, {key: value for key, value in payload.items() if value is not None})
        if not isinstance(body.get("transaction_id"), int):
            raise WebStoreError(f"{route}: approved sale without a transaction_id")
        return body["transaction_id"]

    def _call(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One v1 call; a token the sandbox no longer knows is replaced once (it processed nothing)."""
        for renewed in (False, True):
            if self._token is None or renewed:
                self._token = self._new_token()
            response = self._http.post(route, json={**payload, "integrator_id": self._integrator_id},
                                       headers={"Authorization": f"Bearer {self._token}"})
            body = self._answer(route, response)
            if body.get("error") != "invalid_token":
                break
        if body.get("success") is not True:
            message = body.get("status_message") or body.get("error_description") or body.get("error")
            detail = f"{route}: HTTP {response.status_code} {message} {body.get('errors') or ''}"
            raise WebStoreError(scrub_text(detail.strip()))
        return body

    def _new_token(self) -> str:
        response = self._http.post("/oauth/token", data=self._form)
        token = self._answer("/oauth/token", response).get("access_token")
        if not isinstance(token, str) or not token:
            raise WebStoreError(f"/oauth/token: HTTP {response.status_code}, no access token")
        return token

    def _answer(self, route: str, response: httpx.Response) -> dict[str, Any]:
        dates = response.headers.get_list("date")
        if dates:  # the sandbox's own (virtual) clock is the last Date header
            self._today = parsedate_to_datetime(dates[-1]).astimezone(_MERCHANT_ZONE).date()
        try:
            body = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise WebStoreError(f"{route}: HTTP {response.status_code} without a JSON object")
        return body


@dataclass(frozen=True)
class LivePayment:
    """One approved payment, card-free."""

    transaction_id: int
    amount: Decimal
    invoice_no: str
    invoice_id: str
    description: str
    customer: str  # DIVISION-CUSTOMERNO
    method: str  # "keyed" or "vault"
    partial: bool

    def line(self) -> str:
        kind = "partial" if self.partial else "full"
        typed = self.invoice_id or self.description
        return (f"transaction {self.transaction_id}  {format_decimal(self.amount):>10}  invoice {self.invoice_no} "
                f"typed {typed!r}  {self.method} {kind}  customer {self.customer}")


VAULT_CHANGES = ("expiry_renewed", "card_replaced", "second_profile", "profile_deleted")


@dataclass(frozen=True)
class VaultChange:
    """One change the live store made to the vault, card-free."""

    kind: str  # one of VAULT_CHANGES
    customer_id: str

    def line(self) -> str:
        return f"vault {self.kind.replace('_', ' ')}: profile {self.customer_id}"


def change_vault(store: WebStore, kind: str, rng: random.Random, *, retired: set[str],
                 touched: set[str] | None = None) -> VaultChange | None:
    """One vault change through the v1 customer API, as a customer or a clerk makes it: a card renewed
    (new expiry), a card replaced (a sandbox test number), a second profile for the same person (a
    duplicate: same e-mail and billing address), or a profile deleted (added to `retired`, so no later
    payment uses it). A profile in `touched` (changed before) is left alone while another is there;
    the one changed is added to it. None when the vault has no profile to change."""
    touched = set() if touched is None else touched
    alive = [p for p in store.vault_profiles() if str(p["customer_id"]) not in retired]
    profiles = sorted([p for p in alive if str(p["customer_id"]) not in touched] or alive,
                      key=lambda p: str(p["customer_id"]))
    if not profiles:
        return None
    profile = rng.choice(profiles)
    customer_id, year = str(profile["customer_id"]), store.today().year
    number, _ = rng.choice(_TEST_CARDS)
    if kind == "expiry_renewed":
        store.update_profile(customer_id, {"credit_card": {"expiration_month": 12, "expiration_year": year + 3}})
    elif kind == "card_replaced":
        store.update_profile(customer_id, {"credit_card": {"number": number, "expiration_month": 6,
                                                           "expiration_year": year + 4}})
    elif kind == "second_profile":
        customer_id = f"LIVE{rng.getrandbits(40):010x}"
        person = {key: profile[key] for key in ("billing_address", "email", "phone") if profile.get(key)}
        store.create_profile({**person, "customer_id": customer_id,
                              "credit_card": {"number": number, "expiration_month": 9, "expiration_year": year + 2}})
    elif kind == "profile_deleted":
        store.delete_profile(customer_id)
        retired.add(customer_id)
    else:
        raise ValueError(f"unknown vault change {kind!r}; use one of {', '.join(VAULT_CHANGES)}")
    touched.update({customer_id, str(profile["customer_id"])})
    return VaultChange(kind, customer_id)


def live_payments(store: WebStore, reader: Sage100Reader, rng: random.Random, *,
                  vault_share: float = 0.4, partial_share: float = 0.2,
                  retired: set[str] | None = None) -> Iterator[LivePayment]:
    """Pay open invoices one by one until none has a balance left (as far as this run knows); a profile
    in `retired` (deleted meanwhile) is never charged."""
    retired = set() if retired is None else retired
    customers: dict[tuple[str, str], Customer] = {c.key: c for c in reader.customers()}
    vault_ids = store.vault_customer_ids()
    vault_of: dict[tuple[str, str], list[str]] = {}
    for card in reader.customer_cards():
        if card.credit_card_guid in vault_ids:
            vault_of.setdefault((card.division, card.customer_no), []).append(card.credit_card_guid)
    # Sage learns of these payments only when the pipeline posts them; until then this run
    # remembers what it paid, so it never pays more than an invoice's balance.
    balances = {(i.division, i.customer_no, i.invoice_no): i.balance for i in _payable(reader.open_invoices())
                if (i.division, i.customer_no) in customers}
    while balances:
        key = rng.choice(sorted(balances))
        customer = customers[key[:2]]
        amount, partial = _amount(balances[key], rng, partial_share)
        invoice_id, description = typed_reference(rng, [key[2]], blank_invoice_id=False)
        vault = [customer_id for customer_id in vault_of.get(key[:2], []) if customer_id not in retired]
        if vault and rng.random() < vault_share:
            method, transaction_id = "vault", store.sale_by_customer(rng.choice(vault), amount, invoice_id=invoice_id,
                                                                     description=description or None)
        else:
            number, csc = rng.choice(_TEST_CARDS)
            test_card = CardInput(number=SecretStr(number), expiration_month=12,
                                  expiration_year=store.today().year + 2, csc=SecretStr(csc))
            billing = Address(name=customer.name, zip=customer.zip_code)
            method, transaction_id = "keyed", store.sale_keyed(test_card, amount, invoice_id=invoice_id,
                                                               billing_address=billing, email=customer.email or None,
                                                               description=description or None)
        balances[key] -= amount
        if balances[key] <= 0:
            del balances[key]
        yield LivePayment(transaction_id, amount, key[2], invoice_id, description,
                          f"{key[0]}-{key[1]}", method, partial)


def _payable(invoices: list[OpenInvoice]) -> list[OpenInvoice]:
    """Invoices (not credit memos) with a balance and a number `typed_reference` can retype."""
    return [i for i in invoices if i.invoice_type == "IN" and i.balance > 0 and i.invoice_no.isdigit()]


def _amount(balance: Decimal, rng: random.Random, partial_share: float) -> tuple[Decimal, bool]:
    if rng.random() < partial_share:
        part = (balance * rng.choice(_PARTIAL_SHARES)).quantize(Decimal("0.01"))
        if part > 0 and format_decimal(part) not in _DECLINE_AMOUNTS:
            return part, True
    return balance, False


def run_live(
    url: str,
    sage_db: str | Path,
    *,
    interval: float = 10.0,
    count: int | None = None,
    seed: int | None = None,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    integrator_id: str = "",
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    vault_change_every: int = 5,
) -> list[LivePayment]:
    """Make a payment every `interval` seconds (`count` of them, or until stopped or nothing is open);
    after every `vault_change_every` payments (0: never) one vault change, in the order of VAULT_CHANGES."""
    if not Path(sage_db).is_file():
        raise FileNotFoundError(f"{sage_db}: no Sage demo company (create one with `sandbox sage100 create`)")
    reader = Sage100Reader.for_sqlite(sage_db)
    made: list[LivePayment] = []
    rng, retired, touched = random.Random(seed), set[str](), set[str]()
    with WebStore(url, username=username, password=password, integrator_id=integrator_id) as store:
        for payment in live_payments(store, reader, rng, retired=retired):
            made.append(payment)
            echo(payment.line())
            if vault_change_every and len(made) % vault_change_every == 0:
                kind = VAULT_CHANGES[(len(made) // vault_change_every - 1) % len(VAULT_CHANGES)]
                change = change_vault(store, kind, rng, retired=retired, touched=touched)
                if change:
                    echo(change.line())
            if count is not None and len(made) >= count:
                break
            sleep(interval)
    if count is None or len(made) < count:
        echo(f"stopped after {len(made)} payments: no open invoice left in {sage_db}")
    return made
