"""The demo month end to end (sage_paytrace_pipeline/demo.py) with the refund flow on.

A short month (8 days, a seed whose plan has a sale voided after an intraday run): refunds asked
from Sage (one within the demo's approval limit, one approved by a second person, one rejected),
PayTrace's own refunds and the voids. Afterwards every refund exists once in PayTrace and once in
Sage, no asset check failed (clearing nets to zero for every matched batch, no refund sent twice),
and running the same days again changes nothing in Sage nor in the requests. The month's dispute
reports (a chargeback netted in a deposit, a retrieval, won, lost, pre-arbitrated, unknown-sale cases
and a malformed file) are linked to their sales and booked once.
"""

import sqlite3
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sage_paytrace_pipeline.demo import DEMO_APPROVER, DEMO_CLERK, JobRunner, format_summary, run_demo
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

ZONE = "America/Los_Angeles"
DEMO_VARIABLES = ("PAYTRACE_API_URL", "PAYTRACE_USERNAME", "PAYTRACE_PASSWORD", "PAYTRACE_INTEGRATOR_ID",
                  "SAGE_PAYTRACE_WAREHOUSE", "SAGE100_DATABASE", "SAGE_PAYTRACE_CONFIG", "DAGSTER_HOME")


def sage_snapshot(database: Path) -> dict[str, list[tuple]]:
    """Every row of every table of the demo company, in a stable order."""
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
                for table in sorted(tables)}


def paytrace_money_refunds(state: Path) -> dict[int, int]:
    """The sandbox's refunds that moved money (pending or settled): id -> cents."""
    with sqlite3.connect(state) as connection:
        return dict(connection.execute("SELECT id, amount_cents FROM transactions WHERE type = 'REFUND' "
                                       "AND state IN ('pending', 'settled')").fetchall())


def request_rows(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute("SELECT request_id, state, action, paytrace_transaction_id, amount_cents "
                                  "FROM pipeline.refund_requests ORDER BY request_id").fetchall()


def settlement_problems(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return [row[0] for row in connection.execute("SELECT problem FROM pipeline.settlement_exceptions").fetchall()]


def dispute_postings(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute("SELECT reference, state, entry_no FROM pipeline.dispute_posting_log "
                                  "ORDER BY reference").fetchall()


@pytest.mark.slow
def test_demo_month_refunds_both_ways_once_and_a_second_run_changes_nothing(tmp_path, monkeypatch):
    for name in DEMO_VARIABLES:  # run_demo sets them for its runs; restore them afterwards
        monkeypatch.setenv(name, "unset")
    home = tmp_path / "demo"
    report = run_demo(home, days=8, seed=7, time_zone=ZONE)

    assert report["success"], report["days"]
    assert report["days"]["failed_checks"] == []  # clearing_nets_to_zero, no_refund_sent_twice, ...
    assert report["days"]["intraday_runs"], "the seed's plan must void a sale after an intraday run"
    refunds = report["refunds"]
    requests = {row["approved_by"] or row["state"]: row for row in refunds["requests"]["details"]
                if row["action"] != "void"}  # a same-day cancellation the demo may add is a void
    assert sorted(requests) == sorted(["auto", DEMO_APPROVER, "rejected"]), requests
    assert requests["auto"]["state"] == requests[DEMO_APPROVER]["state"] == "recorded"
    assert Decimal(requests["auto"]["amount"]) <= Decimal("100.00") < Decimal(requests[DEMO_APPROVER]["amount"])
    assert requests["rejected"]["paytrace_transaction_id"] is None
    assert {row["requested_by"] for row in refunds["requests"]["details"]} == {DEMO_CLERK}
    assert refunds["voids_reversed"]["count"] >= 1
    assert "refund_not_posted" not in report["exceptions"]["by_kind"]
    assert "Refunds: " in format_summary(report)

    # The chargebacks: the dispute reports' cases linked to their sales, the netted one named by settlement.
    disputes, reports = report["disputes"], report["dispute_reports"]
    assert reports["netted_cases"], "the seed's bank statements net a chargeback from a deposit"
    assert disputes["cases"] == reports["cases"] and disputes["unknown_sale"] == 1
    assert disputes["linked"] == disputes["cases"] - 1
    assert disputes["malformed"] == [reports["malformed"]]
    assert disputes["entries_posted"] >= 1 and disputes["stages_posted_twice"] == 0
    problems = settlement_problems(home / "warehouse.duckdb")
    assert any(f"dispute case {case}" in problem for case in reports["netted_cases"] for problem in problems), problems
    assert "  Disputes: " in format_summary(report)

    # Every refund that moved money: once in PayTrace (the sandbox), once in Sage, for the same amount.
    in_paytrace = paytrace_money_refunds(home / "paytrace_sandbox.sqlite3")
    sent = {row["paytrace_transaction_id"] for row in refunds["requests"]["details"] if row["action"] == "refund"}
    assert sent <= set(in_paytrace)
    assert set(refunds["paytrace_refunds_recorded"]["transaction_ids"]) | sent == set(in_paytrace)
    reader = Sage100Reader.for_sqlite(report["sage100"]["db"])
    recorded = reader.card_refunds_for_transaction_ids(str(i) for i in in_paytrace)
    assert sorted(int(r.transaction_id) for r in recorded) == sorted(in_paytrace)
    assert {int(r.transaction_id): r.amount for r in recorded} == {
        i: cents_to_decimal(cents) for i, cents in in_paytrace.items()}

    # The same days again: nothing new in Sage, no request moves, no check fails.
    before, requests_before = sage_snapshot(Path(report["sage100"]["db"])), request_rows(home / "warehouse.duckdb")
    postings_before = dispute_postings(home / "warehouse.duckdb")
    app = create_app(home / "paytrace_sandbox.sqlite3", username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                     settings={"time_zone": ZONE})
    first = date.fromisoformat(report["days"]["first"])
    days = [first + timedelta(days=offset) for offset in range(report["days"]["count"])]
    with serve_in_thread(app) as url:
        monkeypatch.setenv("PAYTRACE_API_URL", url)
        again = JobRunner().run([("paytrace_daily_job", day) for day in days]
                                + [("disputes_job", None)] + [("settlement_daily_job", day) for day in days])
    assert all(run["success"] and not run["failed_checks"] for run in again), again
    assert sage_snapshot(Path(report["sage100"]["db"])) == before
    assert request_rows(home / "warehouse.duckdb") == requests_before
    assert dispute_postings(home / "warehouse.duckdb") == postings_before  # no case posted again

