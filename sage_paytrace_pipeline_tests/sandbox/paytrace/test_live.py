"""`sage-paytrace sandbox paytrace live`: card payments of open Sage demo invoices over the sandbox's HTTP API."""

from __future__ import annotations

import random
import re
from datetime import date, datetime

import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.models import TransactionStatus
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    generate_activity,
)
from sage_paytrace_pipeline.sandbox.paytrace.live import (
    _TEST_CARDS,
    WebStore,
    live_payments,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TODAY = date(2026, 3, 2)


@pytest.fixture
def sage_db(paytrace_sandbox, tmp_path):
    """A week of generated history in the sandbox (vault customers included) and the Sage company
    that shares its customers and invoices; the clock back on Monday morning."""
    plan, summary = generate_activity(date(2026, 2, 23), date(2026, 2, 27), seed=3,
                                      profile=MerchantProfile(customers=6, payments_per_weekday=3))
    assert apply_plan(paytrace_sandbox.engine, plan).failures == []
    paytrace_sandbox.engine.set_clock(at=datetime(2026, 3, 2, 10, 0))
    path = tmp_path / "sage100.sqlite3"
    create_demo_company(path, seed=3, activity=summary, customers=5, today=date(2026, 2, 27))
    return path


@pytest.fixture
def client(paytrace_sandbox):
    with PayTraceClient(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                        password=paytrace_sandbox.password) as paytrace:
        yield paytrace


@pytest.fixture
def store(paytrace_sandbox):
    with WebStore(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                  password=paytrace_sandbox.password) as web_store:
        yield web_store


def invoice_number(invoice_id: str) -> str:
    return re.sub(r"\D", "", invoice_id).zfill(7)


def test_live_count_3_makes_3_approved_sales_for_open_sage_invoices(paytrace_sandbox, sage_db, client, capsys):
    reader = Sage100Reader.for_sqlite(sage_db)
    open_invoices = {i.invoice_no: i for i in reader.open_invoices() if i.invoice_type == "IN"}
    customers = {c.key: c for c in reader.customers()}

    code = main(["sandbox", "paytrace", "live", "--url", paytrace_sandbox.base_url, "--sage-db", str(sage_db),
                 "--count", "3", "--interval", "0", "--seed", "4"])

    output = capsys.readouterr()
    assert code == 0
    lines = output.out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("transaction ") for line in lines)
    sales = client.export_transactions(TODAY, TODAY)
    assert len(sales) == 3
    for sale in sales:
        assert sale.transaction_type == "SALE" and sale.status is TransactionStatus.PENDING
        invoice = open_invoices[invoice_number(sale.invoice_id)]
        assert 0 < sale.amount <= invoice.balance
        assert str(sale.transaction_id) in output.out and sale.invoice_id in output.out
        if not sale.customer_id:  # keyed: billed as the Sage customer
            customer = customers[(invoice.division, invoice.customer_no)]
            assert (sale.billing_address.name, sale.billing_address.zip) == (customer.name, customer.zip_code)
    for number, _ in _TEST_CARDS:
        assert number not in output.out + output.err


def test_vault_customers_pay_with_their_vault_profile(paytrace_sandbox, sage_db, client, store):
    reader = Sage100Reader.for_sqlite(sage_db)
    vault_owner = {card.credit_card_guid: (card.division, card.customer_no) for card in reader.customer_cards()}
    payments = live_payments(store, reader, random.Random(1), vault_share=1.0)
    vault = next(p for p in (next(payments) for _ in range(20)) if p.method == "vault")
    [record] = client.export_transactions(TODAY, TODAY, transaction_id=vault.transaction_id)
    assert f"{vault_owner[record.customer_id][0]}-{vault_owner[record.customer_id][1]}" == vault.customer
    assert record.amount == vault.amount


def test_partial_payments_never_exceed_the_balance(sage_db, store):
    reader = Sage100Reader.for_sqlite(sage_db)
    balances = {i.invoice_no: i.balance for i in reader.open_invoices() if i.invoice_type == "IN"}
    payments = live_payments(store, reader, random.Random(2), vault_share=0.0, partial_share=1.0)
    made = [next(payments) for _ in range(6)]
    assert all(p.partial and p.method == "keyed" for p in made)
    for payment in made:
        balances[payment.invoice_no] -= payment.amount
        assert balances[payment.invoice_no] >= 0


def test_missing_sage_company_is_one_clear_error(paytrace_sandbox, tmp_path, capsys):
    code = main(["sandbox", "paytrace", "live", "--url", paytrace_sandbox.base_url,
                 "--sage-db", str(tmp_path / "none.sqlite3"), "--count", "1"])
    assert code == 1 and "sandbox sage100 create" in capsys.readouterr().err


def test_the_live_store_renews_replaces_duplicates_and_deletes_vault_profiles(paytrace_sandbox, sage_db, client,
                                                                             capsys):
    before = {profile.customer_id: profile for profile in client.export_customers()}
    code = main(["sandbox", "paytrace", "live", "--url", paytrace_sandbox.base_url, "--sage-db", str(sage_db),
                 "--count", "8", "--interval", "0", "--seed", "4", "--vault-change-every", "2"])
    output = capsys.readouterr()
    assert code == 0
    changes = [line.split(": profile ") for line in output.out.splitlines() if line.startswith("vault ")]
    assert [kind for kind, _ in changes] == ["vault expiry renewed", "vault card replaced", "vault second profile",
                                             "vault profile deleted"]
    (_, renewed), (_, replaced), (_, second), (_, deleted) = changes
    after = {profile.customer_id: profile for profile in client.export_customers()}
    assert after[renewed].card is not None and after[renewed].card.expiration_year == TODAY.year + 3
    assert after[replaced].card is not None and after[replaced].card.expiration_year == TODAY.year + 4
    assert second not in before and after[second].email and sum(
        1 for profile in after.values() if profile.email == after[second].email) >= 2
    assert deleted in before and deleted not in after
    charged = {sale.customer_id for sale in client.export_transactions(TODAY, TODAY) if sale.customer_id}
    deleted_at = output.out.index(f"vault profile deleted: profile {deleted}")
    assert deleted not in charged or output.out.rfind("vault", 0, deleted_at) >= 0  # charged only before deletion
    for number, _ in _TEST_CARDS:
        assert number not in output.out + output.err
