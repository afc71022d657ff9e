"""The console's decisions and audit store on SQLite and on PostgreSQL (a database of its own per test)."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from sage_paytrace_pipeline.console.store import ConsoleStore, Decision

PG = dict(host=os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"), port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
          user=os.environ.get("DAGSTER_PG_USER", "postgres"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"console_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL on {PG['host']}:{PG['port']}: {error}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[ConsoleStore]:
    url = (f"sqlite:///{tmp_path / 'console.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    opened = ConsoleStore(url)
    yield opened
    opened.close()


def test_a_decision_and_its_audit_row_are_kept_together(store):
    first = store.record(Decision("carl", "mark_reviewed", "k1", "settlement", "deposit_short", "batch:77",
                                  {"reason": "bank fee"}), before={"state": "open"}, after={"state": "reviewed"},
                         address="10.0.0.5")
    second = store.record(Decision("carl", "link_payer", "k1", "settlement", "deposit_short", "batch:77"),
                          before={"customer": None}, after={"customer": "01-ABF"})
    assert second > first
    latest = store.latest_decisions(["k1", "unknown"])
    assert set(latest) == {"k1"} and latest["k1"]["decision"] == "link_payer"
    rows = store.audit_rows()
    assert [row["action"] for row in rows] == ["link_payer", "mark_reviewed"], "newest first"
    assert rows[1]["before"] == '{"state": "open"}' and rows[1]["address"] == "10.0.0.5"


def test_the_csv_export_is_formula_safe_and_oldest_first(store):
    store.audit(actor="=cmd|' /C calc'!A0", action="login", subject="", outcome="refused", after="@SUM(1)")
    store.audit(actor="anna", action="approve_refund", subject="CM-01-1", outcome="done", after="+1")
    rows = list(csv.DictReader(io.StringIO(store.audit_csv())))
    assert [row["actor"] for row in rows] == ["'=cmd|' /C calc'!A0", "anna"]
    assert rows[0]["after"] == "'@SUM(1)" and rows[1]["after"] == "+1", "a plain number stays a number"


def test_many_keys_are_looked_up_in_bounded_queries(store):
    for number in range(3):
        store.record(Decision("carl", "mark_reviewed", f"k{number}"), before="", after="")
    keys = [f"k{number}" for number in range(1200)]  # three IN lists of at most 500
    assert set(store.latest_decisions(keys)) == {"k0", "k1", "k2"}
