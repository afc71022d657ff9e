"""PCI guard: after a demo run with card numbers planted in free text, no store the project writes
holds a Luhn-valid card number, the PayTrace password or a bearer token.

Planted two ways: typed into sales through the sandbox (which masks before storing, as documented),
and sent verbatim by a hostile PayTrace (a proxy in front of the sandbox adds records whose
description, names, e-mail and invoice id carry full numbers) for one more day of the daily job.
Stores are scanned by value (every cell of every SQLite / DuckDB table, every line of every other
file): a raw byte scan would find "card numbers" made of neighbouring values.
"""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sage_paytrace_pipeline.demo import run_demo
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.paytrace import Address, CardInput, PayTraceClient
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME
from sage_paytrace_pipeline_tests.hostile.corpus import base_record, wire_json
from sage_paytrace_pipeline_tests.hostile.hostile_paytrace import HostileProxy, serve_proxy

ZONE = "America/Los_Angeles"
PLANTED = ["4111 1111 1111 1111", "5499-7400-0000-0057", "6011000993026909", "371449635398431"]
HEX_DIGEST = re.compile(r"^[0-9a-f]{32,128}$")  # payload hashes: digits among hex letters are no card number
# Dagster's run and event ids: "e0e0d938-6419-4520-8146-9e6f8f321bb9" holds 938-6419-4520-8146, which
# about one id in a few hundred makes Luhn-valid; an id is no card number.
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
TOKEN_SHAPE = re.compile(r"[0-9a-f]{32}:[0-9a-f]{32}:[A-Za-z0-9_-]{20,}")
DEMO_VARIABLES = ("PAYTRACE_API_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "PAYTRACE_INTEGRATOR_ID",
                  "SAGE_PAYTRACE_WAREHOUSE", "SAGE100_DATABASE", "SAGE_PAYTRACE_CONFIG", "DAGSTER_HOME")
# The launcher file for `dagster dev` holds the sandbox's public demo password by design (README).
PASSWORD_ALLOWED_IN = {"demo.env"}


def sqlite_values(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [_text(value) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')
                for value in row if value is not None]


def duckdb_values(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        return [_text(value) for schema, table in tables
                for row in connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                for value in row if value is not None]


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def values_of(path: Path) -> list[str]:
    head = path.read_bytes()[:16]
    if head.startswith(b"SQLite format 3"):
        return sqlite_values(path)
    if path.suffix == ".duckdb":
        return duckdb_values(path)
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def leaves(value: str) -> list[str]:
    """A value's own parts: a JSON document (Dagster's event records) as its strings and integers
    (a float's fraction digits are no card number); any other text as it is."""
    try:
        document = json.loads(value) if value[:1] in "{[" else None
    except ValueError:
        document = None
    if document is None:
        return [value]
    found, pending = [], [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, (str, int)) and not isinstance(item, bool):
            found += leaves(item) if isinstance(item, str) and item[:1] in "{[" else [str(item)]
    return found


def card_numbers(value: str) -> list[str]:
    return [number for leaf in leaves(value) if not HEX_DIGEST.match(leaf)
            for number in find_card_numbers(UUID.sub(" ", leaf))]


def stores(home: Path) -> list[Path]:
    """Every file the demo and the runs wrote (WAL side files are read through their database)."""
    return [path for path in sorted(home.rglob("*")) if path.is_file()
            and not path.name.endswith(("-wal", "-shm", ".wal", "-journal"))]


def plant_sales(base_url: str) -> list[int]:
    with PayTraceClient(base_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, time_zone=ZONE) as client:
        card = CardInput(number="4012000098765439", expiration_month=12, expiration_year=2030, csc="999")
        return [client.sale_keyed(card, Decimal("12.34") + n, description=f"my card is {pan}", email=f"{pan}@x.test",
                                  billing_address=Address(name=f"Payer {pan}"), customer_reference_id=pan
                                  ).transaction_id for n, pan in enumerate(PLANTED)], client.server_today()


def hostile_records(day) -> list[str]:
    at = f"{day.month}/{day.day}/{day.year} 9:30:00 AM"
    records = []
    for n, pan in enumerate(PLANTED):
        record = base_record(880_000 + n, at)
        record.update(description=f"card {pan}", invoice_id=pan.replace(" ", ""), email=f"{pan}@example.com",
                      receipt_emailed_to=pan, customer_reference_id=pan,
                      billing_address={"name": f"=1+1 {pan}", "zip": "97201"})
        records.append(wire_json(record))
    records.append(wire_json({**base_record(880_100, at), "transaction_id": int(PLANTED[2])}))  # a PAN as the id
    return records


@pytest.fixture
def demo_home(tmp_path, monkeypatch) -> Path:
    for name in DEMO_VARIABLES:  # run_demo sets them for its runs; restore them afterwards
        monkeypatch.setenv(name, "unset")
    home = tmp_path / "demo"
    report = run_demo(home, days=3, seed=3, time_zone=ZONE)
    assert report["success"], report["days"]
    app = create_app(home / "paytrace_sandbox.sqlite3", username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                     settings={"time_zone": ZONE})
    with serve_in_thread(app) as sandbox_url:
        _, day = plant_sales(sandbox_url)
        proxy = HostileProxy(sandbox_url, day.strftime("%m/%d/%Y"), hostile_records(day))
        with serve_proxy(proxy) as url:
            monkeypatch.setenv("PAYTRACE_API_URL", url)
            from sage_paytrace_pipeline.definitions import defs

            with dg.DagsterInstance.get() as instance:
                result = defs().resolve_job_def("paytrace_daily_job").execute_in_process(
                    partition_key=day.isoformat(), instance=instance, raise_on_error=False)
    assert result.success
    return home


@pytest.mark.slow
def test_no_store_holds_a_card_number_a_password_or_a_token(demo_home):
    files = stores(demo_home)
    names = {path.name for path in files}
    assert {"warehouse.duckdb", "paytrace_sandbox.sqlite3", "sage100_demo.sqlite3", "runs.db", "demo.env",
            "config.yaml"} <= names, names
    assert any(path.suffix == ".err" for path in files) and any(path.suffix == ".bai" for path in files)
    # The scanner itself: it sees a card number inside an event record, and not a float's fraction.
    assert card_numbers(json.dumps({"event": {"text": "paid 4111 1111 1111 1111"}})) == ["4111111111111111"]
    assert card_numbers(json.dumps({"duration_ms": 605.9850590000906})) == []
    assert card_numbers(json.dumps({"run": "runs/e0e0d938-6419-4520-8146-9e6f8f321bb9.db"})) == []
    found = []
    for path in files:
        for value in values_of(path):
            found += [(str(path.relative_to(demo_home)), number) for number in card_numbers(value)]
            if DEFAULT_PASSWORD in value and path.name not in PASSWORD_ALLOWED_IN:
                found.append((str(path.relative_to(demo_home)), "the PayTrace password"))
            if TOKEN_SHAPE.search(value):
                found.append((str(path.relative_to(demo_home)), "a bearer token"))
    assert found == []
    with duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True) as connection:
        rejected = connection.execute("SELECT problem FROM pipeline.receivable_exceptions "
                                      "WHERE kind = 'malformed_paytrace_record'").fetchall()
        masked = connection.execute("SELECT description FROM pipeline.paytrace_transactions "
                                    "WHERE transaction_id = 880000").fetchall()
    assert len(rejected) == 1 and "looks like a card number" in rejected[0][0]  # the PAN used as an id
    assert masked == [("card xxxxxxxxxxxx1111",)]
