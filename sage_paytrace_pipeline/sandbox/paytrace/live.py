"""Live card payments against a running sandbox, paying the Sage demo company's open invoices.

For the Dagster UI demo: every few seconds a customer pays an open invoice through the sandbox's
real v1 HTTP API (the same `PayTraceClient` the pipeline uses), so the activity sensor sees new
activity and the run it starts has something to match. Invoice numbers are typed the way the
generated history types them (`typed_reference`); billing name, e-mail and ZIP come from the Sage
customer; customers whose saved card is a PayTrace vault profile sometimes pay with it.

Only the sandbox's public test card numbers are used, and they are never printed or logged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
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


def live_payments(client: PayTraceClient, reader: Sage100Reader, rng: random.Random, *,
                  vault_share: float = 0.4, partial_share: float = 0.2) -> Iterator[LivePayment]:
    """Pay open invoices one by one until none has a balance left (as far as this run knows)."""
    customers: dict[tuple[str, str], Customer] = {c.key: c for c in reader.customers()}
    vault_ids = {profile.customer_id for profile in client.export_customers()}
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
        vault = vault_of.get(key[:2])
        if vault and rng.random() < vault_share:
            method, result = "vault", client.sale_by_customer(rng.choice(vault), amount, invoice_id=invoice_id,
                                                              description=description or None)
        else:
            number, csc = rng.choice(_TEST_CARDS)
            card = CardInput(number=number, expiration_month=12, expiration_year=client.server_today().year + 2, csc=csc)
            billing = Address(name=customer.name, zip=customer.zip_code)
            method, result = "keyed", client.sale_keyed(card, amount, invoice_id=invoice_id, billing_address=billing,
                                                        email=customer.email or None, description=description or None)
        balances[key] -= amount
        if balances[key] <= 0:
            del balances[key]
        yield LivePayment(int(result.transaction_id or 0), amount, key[2], invoice_id, description,
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
) -> list[LivePayment]:
    """Make a payment every `interval` seconds (`count` of them, or until stopped or nothing is open)."""
    if not Path(sage_db).is_file():
        raise FileNotFoundError(f"{sage_db}: no Sage demo company (create one with `sandbox sage100 create`)")
    reader = Sage100Reader.for_sqlite(sage_db)
    made: list[LivePayment] = []
    with PayTraceClient(url, username=username, password=password, integrator_id=integrator_id) as client:
        for payment in live_payments(client, reader, random.Random(seed)):
            made.append(payment)
            echo(payment.line())
            if count is not None and len(made) >= count:
                break
            sleep(interval)
    if count is None or len(made) < count:
        echo(f"stopped after {len(made)} payments: no open invoice left in {sage_db}")
    return made
