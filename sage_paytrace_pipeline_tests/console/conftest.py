"""A demo month's worth of console state, made the way the pipeline makes it: the warehouse's exception
tables (the flows' exception frames under `business_date`, as the I/O manager writes them), a refund
request awaiting approval in the refund request store, the Sage demo company, and a config whose
`console:` section has one user per role."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.console.passwords import hash_password
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.domain.matching.exceptions import TRANSACTION_EXCEPTIONS
from sage_paytrace_pipeline.domain.settlement.frames import BATCH_EXCEPTIONS
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline.refunds.requests import approve_linked, new_request
from sage_paytrace_pipeline.sage100.models import CreditMemoRequest
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
PASSWORD = "correct horse battery staple"
USERS = {"vera": "viewer", "carl": "clerk", "anna": "approver", "adam": "admin", "rita": "approver"}
CUSTOMER = "01-BAYV0067"  # Bayview Veterinary Group in the demo company (seed 7)
VAULT_ID = "CUST000021"
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> card 4111111111111111 =cmd|' /C calc'!A0"
REQUESTER = "rita"  # an approver who asked for the refund herself: maker-checker refuses her


@dataclass(frozen=True)
class Home:
    config: Path
    warehouse: Path
    sage: Path
    environ: dict[str, str]
    request_id: str


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    one = hash_password(PASSWORD)  # argon2 is slow on purpose: one hash serves every user
    return dict.fromkeys(USERS, one)


@pytest.fixture(scope="session")
def demo_company(tmp_path_factory) -> Path:
    return Path(create_demo_company(tmp_path_factory.mktemp("sage") / "sage.sqlite3", seed=7).db_path)


def write_config(path: Path, password_hashes: dict[str, str], extra: str = "") -> None:
    users = "".join(f"    {name}:\n      role: {role}\n      password_hash: \"{password_hashes[name]}\"\n"
                    for name, role in USERS.items())
    path.write_text(EXAMPLE.read_text() + "\nconsole:\n  secure_cookies: false\n  users:\n" + users + extra)


def write_exceptions(warehouse: Path, reader: Sage100Reader, today: date) -> None:
    customer = reader.customer(*CUSTOMER.split("-"))
    assert customer is not None
    day = today - timedelta(days=3)
    older = today - timedelta(days=9)
    receivables = pd.concat([
        TRANSACTION_EXCEPTIONS.rows(
            "unknown_customer", "error", [900001], source_ids=f"paytrace:900001 vault:{VAULT_ID}",
            problem=f"transaction 900001: no Sage customer found for name '{customer.name.upper()} LLC', e-mail "
                    f"'{customer.email}', ZIP '{customer.zip_code[:5]}', vault id '{VAULT_ID}'; not posted",
            action="link the payer to a Sage customer, or create the customer in Sage first"),
        TRANSACTION_EXCEPTIONS.rows(
            "amount_mismatch", "error", [900002], source_ids="paytrace:900002", problem=HOSTILE,
            action="check the payment <b>now</b>"),
        TRANSACTION_EXCEPTIONS.rows(
            "awaiting_sage_import", "info", [900003], source_ids="paytrace:900003",
            problem="the receipt waits for Sage's import", action="nothing: the next run confirms it"),
    ], ignore_index=True).assign(business_date=day)
    settlement = pd.concat([
        BATCH_EXCEPTIONS.rows("deposit_short", "warning", [77], source_ids="batch:77",
                              problem="batch 77's deposit is 0.02 short", action="nothing if the bank fee explains it"),
        BATCH_EXCEPTIONS.rows("deposit_late", "warning", [78], source_ids="batch:78",
                              problem="batch 78's deposit came a day late", action="nothing"),
    ], ignore_index=True).assign(business_date=older)
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute("CREATE SCHEMA IF NOT EXISTS pipeline")
        for table, frame in (("receivable_exceptions", receivables), ("settlement_exceptions", settlement)):
            connection.register("frame", frame)
            connection.execute(f"CREATE OR REPLACE TABLE pipeline.{table} AS SELECT * FROM frame")
            connection.unregister("frame")
    finally:
        connection.close()


def add_sale_and_refund(warehouse: Path) -> None:
    """Sale 555001 (200.00, settled) and a 30.00 refund of it made in PayTrace's own terminal: the columns
    of pipeline.paytrace_transactions that what-remains reads."""
    frame = pd.DataFrame({
        "business_date": [date(2026, 11, 18), date(2026, 11, 19)], "transaction_id": [555001, 555002],
        "transaction_type": ["SALE", "REFUND"], "status": ["SETTLED", "SETTLED"], "amount_cents": [20000, 3000],
        "invoice_id": ["0100042", "0100042"], "card_last4": ["1111", "1111"]})
    connection = duckdb.connect(str(warehouse))
    try:
        connection.register("frame", frame)
        connection.execute("CREATE OR REPLACE TABLE pipeline.paytrace_transactions AS SELECT * FROM frame")
    finally:
        connection.close()


def add_refund_request(warehouse: Path, requested_by: str) -> str:
    memo = CreditMemoRequest(division="01", customer_no="BAYV0067", memo_no="CM0001", header_seq_no="000000",
                             memo_date=date(2026, 11, 20), amount=Decimal("125.40"), apply_to_invoice_no="0100042",
                             payment_type="VISA", comment="damaged in shipping", entered_by=requested_by)
    request = replace(new_request(memo), sale_transaction_id=555001)
    store = RequestStore(duckdb.connect(str(warehouse)))
    try:
        store.add(request, actor=requested_by, reason="credit memo CM0001 found in Sage")
        approve_linked(store, auto_approve_up_to_cents=0)  # above the limit: awaits a person
    finally:
        store.connection.close()
    return request.request_id


@pytest.fixture
def home(tmp_path, password_hashes, demo_company) -> Home:
    config = tmp_path / "config.yaml"
    write_config(config, password_hashes)
    warehouse = tmp_path / "warehouse.duckdb"
    write_exceptions(warehouse, Sage100Reader.for_sqlite(demo_company), date.today())
    add_sale_and_refund(warehouse)
    request_id = add_refund_request(warehouse, REQUESTER)
    environ = {"SAGE_PAYTRACE_CONFIG": str(config), "SAGE_PAYTRACE_WAREHOUSE": str(warehouse),
               "SAGE100_DATABASE": str(demo_company), "SAGE_PAYTRACE_CONSOLE_SECRET": "s" * 40,
               "SAGE_PAYTRACE_CONSOLE_DATABASE": f"sqlite:///{tmp_path / 'console.sqlite3'}"}
    return Home(config, warehouse, demo_company, environ, request_id)


@pytest.fixture
def client(home) -> TestClient:
    return TestClient(app_from_environment(home.environ), follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token (read from a page, as a browser would)."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": name, "password": password, "csrf": token})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/exceptions").text)
