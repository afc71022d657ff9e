"""The campaign's merchant: generated days in the PayTrace sandbox, a Sage demo company whose invoices
they pay, web-store payments made over HTTP while the sale route fails after committing, and the
plan of which invoice each payment pays (the truth the postings are judged by, decided before the
pipeline ever runs).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr

from sage_paytrace_pipeline.demo import (
    prepare_dagster_home,
    write_bank_statements,
    write_demo_config,
)
from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.models import Address, CardInput, RetryPolicy
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    generate_activity,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan
from sage_paytrace_pipeline.sandbox.paytrace.settings import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
)
from sage_paytrace_pipeline.sandbox.reliability.control import SandboxControl
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TIME_ZONE = "America/Los_Angeles"
INTEGRATOR_ID = "SPPFAULTS001"
WEB_STORE_AT = time(12, 30)  # when the web store's own payments of the day are made
SALE_KEYED = "/v1/transactions/sale/keyed"
WEB_STORE_READ_TIMEOUT = 1.0  # seconds the store's client waits for an answer
# A keyed sale's answer lost after PayTrace committed it, or refused before: the client must look
# the sale up by its invoice_id before charging again (paytrace/recovery.py). The day's
# first three sales meet one each: the answer comes after the client gave up waiting (a real read
# timeout), the connection drops after the commit, a 503 before processing; then a random share.
MONEY_ROUTE_FAULTS = [
    {"route": SALE_KEYED, "kind": "timeout_after_commit", "rate": 1.0, "count": 1,
     "latency_seconds": WEB_STORE_READ_TIMEOUT + 1.0},
    {"route": SALE_KEYED, "kind": "drop_connection", "rate": 1.0, "count": 1},
    {"route": SALE_KEYED, "kind": "http_503", "rate": 1.0, "count": 1},
    {"route": SALE_KEYED, "kind": "timeout_after_commit", "rate": 0.3},
]
_TEST_CARD = ("4012000098765439", "999")  # PayTrace's documented sandbox Visa


@dataclass
class PlannedPayment:
    """What a payment was meant to pay: invoice_no -> amount (all invoices are type IN)."""

    amount: Decimal
    allocations: dict[str, Decimal]
    source: str  # "generated" or "web_store"


@dataclass
class World:
    home: Path
    first: date
    last: date
    sandbox_state: Path
    sage_db: Path
    warehouse: Path
    environment: dict[str, str]  # what the code location reads, except PAYTRACE_API_URL
    planned: dict[int, PlannedPayment] = field(default_factory=dict)  # by PayTrace transaction id
    unresolved_web_sales: dict[str, PlannedPayment] = field(default_factory=dict)  # by invoice_id
    web_invoice_ids: set[str] = field(default_factory=set)  # every web-store payment's unique invoice_id
    opening_balances: dict[str, Decimal] = field(default_factory=dict)  # IN invoice_no -> Balance
    generated_counts: dict[str, int] = field(default_factory=dict)
    batches_closed: int = 0

    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]


def build_world(home: Path, engine: PayTraceSandbox, base_url: str, *, first: date, days: int, seed: int,
                customers: int = 16, web_sales_per_day: int = 3) -> World:
    """Generate the days into the running sandbox (its `engine` and `base_url`) and seed Sage in `home`."""
    last = first + timedelta(days=days - 1)
    plan, summary = generate_activity(first, last, seed=seed, profile=MerchantProfile(customers=customers))
    company = create_demo_company(home / "sage100.sqlite3", seed=seed, activity=summary, customers=60)
    world = World(home, first, last, Path(engine.state_path), Path(company.db_path), home / "warehouse.duckdb", {},
                  generated_counts=summary.counts)
    world.opening_balances = open_invoice_balances(world.sage_db)
    web_store = WebStore(base_url, world, random.Random(seed))
    ids = replay(engine, plan, web_store, web_sales_per_day)
    world.batches_closed = len(engine.set_clock(at=datetime.combine(last + timedelta(days=1), time(7, 0)))
                               ["batches_closed"]) + web_store.batches_closed
    for payment in summary.payments:
        world.planned[ids[payment.ref]] = PlannedPayment(payment.amount, dict(payment.allocations), "generated")
    write_bank_statements(engine, home, seed=seed)
    world.environment = {
        "PAYTRACE_USERNAME": DEFAULT_USERNAME, "PAYTRACE_PASSWORD": DEFAULT_PASSWORD,
        "PAYTRACE_INTEGRATOR_ID": INTEGRATOR_ID,
        "SAGE_PAYTRACE_WAREHOUSE": str(world.warehouse), "SAGE100_DATABASE": str(world.sage_db),
        "SAGE_PAYTRACE_CONFIG": str(write_demo_config(home, time_zone=TIME_ZONE, first_day=first)),
        "DAGSTER_HOME": str(prepare_dagster_home(home)),
    }
    return world


def fresh_home(home: Path) -> Path:
    """An empty campaign folder: every campaign starts from a clean merchant, company and instance."""
    home = home.resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    return home


def replay(engine: PayTraceSandbox, plan: ActivityPlan, web_store: WebStore, per_day: int) -> dict[str, int]:
    """`apply_plan`, with the web store's HTTP payments made at WEB_STORE_AT of each day in between."""
    ids: dict[str, int] = {}
    calls = sorted(plan.calls, key=lambda c: c.at)
    days = sorted({call.at.date() for call in calls})
    pending = [datetime.combine(day, WEB_STORE_AT) for day in days]
    for call in calls:
        while pending and call.at >= pending[0]:
            web_store.pay(engine, pending.pop(0), per_day)
        if any(ref not in ids for ref in call.uses.values()):
            continue  # as apply_plan: a void of a sale that was never created
        body = {**call.body, **{name: ids[ref] for name, ref in call.uses.items()}}
        web_store.batches_closed += len(engine.set_clock(at=call.at)["batches_closed"])
        _status, response = engine.call(call.route, body)
        if call.ref and response.get("transaction_id") is not None:
            ids[call.ref] = int(response["transaction_id"])
    for moment in pending:
        web_store.pay(engine, moment, per_day)
    return ids


class WebStore:
    """Customers paying Sage invoices the generated activity does not touch, by keyed card over HTTP,
    each with a unique invoice_id, while the sale route loses answers after committing."""

    def __init__(self, base_url: str, world: World, rng: random.Random) -> None:
        self.base_url = base_url
        self.world = world
        self.rng = rng
        self.batches_closed = 0
        self.payable = _untouched_invoices(Sage100Reader.for_sqlite(world.sage_db), world)

    def pay(self, engine: PayTraceSandbox, moment: datetime, count: int) -> None:
        self.batches_closed += len(engine.set_clock(at=moment)["batches_closed"])
        control = SandboxControl(self.base_url)
        client = PayTraceClient(self.base_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                                integrator_id=INTEGRATOR_ID, time_zone=TIME_ZONE,
                                retry=RetryPolicy(base_delay=0.05, max_delay=0.5),
                                timeout=httpx.Timeout(10.0, read=WEB_STORE_READ_TIMEOUT))
        try:
            control.install_faults(MONEY_ROUTE_FAULTS, seed=self.rng.randrange(1 << 30))
            for _ in range(min(count, len(self.payable))):
                self._sell(client, self.payable.pop(self.rng.randrange(len(self.payable))))
        finally:
            control.clear_faults()
            control.close()
            client.close()

    def _sell(self, client: PayTraceClient, invoice: tuple[str, Decimal, str, str]) -> None:
        invoice_no, balance, name, zip_code = invoice
        invoice_id = f"INV-{invoice_no}"
        planned = PlannedPayment(balance, {invoice_no: balance}, "web_store")
        self.world.web_invoice_ids.add(invoice_id)
        card = CardInput(number=SecretStr(_TEST_CARD[0]), expiration_month=12,
                         expiration_year=client.server_today().year + 2, csc=SecretStr(_TEST_CARD[1]))
        try:
            result = client.sale_keyed(card, balance, invoice_id=invoice_id,
                                       billing_address=Address(name=name, zip=zip_code), description="Web store order")
        except PayTraceError:
            # Outcome unknown to the store (a lookup that failed too): PayTrace is asked afterwards.
            self.world.unresolved_web_sales[invoice_id] = planned
            return
        assert result.transaction_id is not None  # the sandbox numbers every sale it answers
        self.world.planned[int(result.transaction_id)] = planned


def _untouched_invoices(reader: Sage100Reader, world: World) -> list[tuple[str, Decimal, str, str]]:
    """Open IN invoices of active customers in good standing that no generated payment pays."""
    customers = {c.key: c for c in reader.customers() if c.status == "A" and not c.credit_hold}
    generated_from = MerchantProfile().first_invoice_no
    found = []
    for invoice in reader.open_invoices():
        customer = customers.get((invoice.division, invoice.customer_no))
        if (customer and invoice.invoice_type == "IN" and invoice.balance > 0 and invoice.invoice_no.isdigit()
                and int(invoice.invoice_no) < generated_from
                and format_decimal(invoice.balance) not in ("1.12", "0.29")):
            found.append((invoice.invoice_no, invoice.balance, customer.name, customer.zip_code))
    return sorted(found)


def resolve_web_sales(world: World, sales_by_invoice_id: dict[str, list[int]]) -> None:
    """Web-store payments whose outcome the store never learned: PayTrace's record decides (one sale
    with that invoice_id: it was charged; none: it was not; several would be a double charge)."""
    for invoice_id, plan in list(world.unresolved_web_sales.items()):
        found = sales_by_invoice_id.get(invoice_id, [])
        if len(found) == 1:
            world.planned[found[0]] = plan
        del world.unresolved_web_sales[invoice_id]


def open_invoice_balances(sage_db: Path) -> dict[str, Decimal]:
    """Balance of every open IN invoice by number (numbers are unique in the demo company)."""
    with sqlite3.connect(sage_db) as connection:
        rows = connection.execute("SELECT InvoiceNo, Balance FROM AR_OpenInvoice WHERE InvoiceType = 'IN'").fetchall()
    return {number: Decimal(str(balance)) for number, balance in rows}
