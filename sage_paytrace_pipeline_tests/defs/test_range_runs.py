"""Range runs: many business days in one run give the books day-by-day runs give, and post nothing twice.

Two merchants generated from one seed: one is run the way the sensor and the schedule run it (one run
per day for the daily job, then one per day for settlement), the other backfilled in one run per job
over the same days. Every table of the two Sage companies and every per-day table of the two
warehouses must then hold the same rows, with two stated exceptions:
- Sage's running document numbers (card entry, journal register, posting reference) are a
  company-wide counter handed out in write order. A range run writes step by step (every day's
  receipts, then every day's refunds), day-by-day runs day by day, so a refund's credit memo takes a
  number after the range's receipts instead of between two days. Rows are compared with those
  numbers masked; the range's own numbers must still be unique per receipt.
- The Sage snapshots (`sage_customers`, `sage_customer_cards`, `sage_open_invoices`) and the vault's
  (`paytrace_customers`): a range run stores one, as it found Sage and the vault, dated its first
  day, and its later days load it as the snapshot they live under (`warehouse.AS_OF`); matching
  carries the range's own receipts forward (`receivables.day.after_receipts`), which the identical
  matching outputs below show.
- The customer sync's tables and the vault snapshot (`paytrace_customers`): the sync brings both
  sides to their current state, so a range run syncs once, as of its last day, where day-by-day
  runs sync every day and each later day reads the vault the earlier day's sync updated. The Sage
  books, which the sync also writes (cards, billing fields), must still be identical.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from benchmarks.backfill_world import World, build_world, run_job, serving

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 6)
DAYS = [FIRST + timedelta(days=offset) for offset in range((LAST - FIRST).days + 1)]
REPO = Path(__file__).resolve().parents[2]

# Columns that record when or by which run a row was written, not what the books say.
_RUN_COLUMNS = {"run_id", "recorded_at", "updated_at", "created_at", "confirmed_at", "logged_at", "loaded_at"}
# Sage columns stamped with the wall clock of the write (the demo company records them like Sage does).
_SAGE_CLOCK_COLUMNS = {"DateCreated", "TimeCreated", "DateUpdated", "TimeUpdated", "UserUpdatedKey"}
# Sage's running document numbers, and the columns that quote them (see the module docstring).
_NUMBER_COLUMNS = {"CreditCardEntryNo", "PaymentReference", "JournalRegisterNo", "JournalNoGLBatchNo",
                   "PostingReference", "DocumentNo", "entry_no"}
_QUOTING_COLUMNS = {"PostingComment", "documents_json"}
_SNAPSHOTS = {"pipeline.sage_customers", "pipeline.sage_customer_cards", "pipeline.sage_open_invoices",
              "pipeline.paytrace_customers", "pipeline.customer_sync_plan", "pipeline.customer_sync_decisions",
              "pipeline.customer_sync_exceptions", "pipeline.paytrace_customer_updates",
              "pipeline.sage_customer_updates"}
_DOCUMENT_NUMBER = re.compile(r"\b\d{5,6}\b")  # 000124, 00011 (transaction ids have nine digits)


def masked(name: str, value: object) -> object:
    if (name in _NUMBER_COLUMNS or name in _QUOTING_COLUMNS) and isinstance(value, str):
        return _DOCUMENT_NUMBER.sub("#", value)
    return value


def make_world(folder: Path) -> World:
    return build_world(folder, FIRST, LAST, seed=23, per_day=40, customers=30)


def sage_books(world: World) -> dict[str, list[tuple]]:
    """Every table of the demo company, clock columns left out, document numbers masked, rows sorted."""
    with sqlite3.connect(world.sage_db) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        books: dict[str, list[tuple]] = {}
        for table in sorted(tables):
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            names = [column[0] for column in cursor.description]
            kept = [(i, name) for i, name in enumerate(names) if name not in _SAGE_CLOCK_COLUMNS]
            books[table] = sorted((tuple(masked(name, row[i]) for i, name in kept) for row in cursor.fetchall()),
                                  key=repr)
        return books


def warehouse_outputs(world: World) -> dict[str, list[tuple]]:
    """Every per-day table of the warehouse (those with a business_date), run columns left out."""
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.columns WHERE column_name = "
            "'business_date' AND table_schema = 'pipeline' ORDER BY 1").fetchall()
        outputs = {}
        for (table,) in tables:
            if table in _SNAPSHOTS:
                continue
            columns = [row[0] for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall() if row[0] not in _RUN_COLUMNS]
            rows = connection.execute(f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)} "
                                      f"FROM {table}").fetchall()
            outputs[table] = sorted((tuple(masked(c, v) for c, v in zip(columns, row)) for row in rows), key=repr)
        return outputs


def entry_numbers(world: World) -> dict:
    """Posted card receipts: how many transactions, and the distinct card entry numbers they hold."""
    with sqlite3.connect(world.sage_db) as connection:
        rows = connection.execute("SELECT DISTINCT CreditCardTransactionID, CreditCardEntryNo FROM "
                                  "AR_CashReceiptsHistory WHERE CreditCardTransactionID <> ''").fetchall()
    return {"transactions": len({transaction for transaction, _ in rows}), "numbers": sorted({n for _, n in rows})}


def run_day_by_day(world: World) -> list[dg.ExecuteInProcessResult]:
    with serving(world), dg.DagsterInstance.ephemeral() as instance:
        runs = [run_job("paytrace_daily_job", instance, day=day) for day in DAYS]
        runs.append(run_job("bank_statements_job", instance))
        return runs + [run_job("settlement_daily_job", instance, day=day) for day in DAYS]


def run_as_ranges(world: World) -> list[dg.ExecuteInProcessResult]:
    with serving(world), dg.DagsterInstance.ephemeral() as instance:
        return [run_job("paytrace_daily_job", instance, days=(FIRST, LAST)),
                run_job("bank_statements_job", instance),
                run_job("settlement_daily_job", instance, days=(FIRST, LAST))]


def failed_checks(runs: list[dg.ExecuteInProcessResult]) -> list[str]:
    return [check.check_name for run in runs for check in run.get_asset_check_evaluations() if not check.passed]


def differences(left: dict[str, list[tuple]], right: dict[str, list[tuple]]) -> dict[str, int]:
    """Tables whose rows differ, with how many rows are in one and not the other."""
    return {table: len(set(left.get(table, [])) ^ set(right.get(table, [])))
            for table in sorted(set(left) | set(right)) if left.get(table) != right.get(table)}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # two merchants and a dozen runs: minutes on a busy two-core machine
def test_a_range_in_one_run_keeps_the_books_of_day_by_day_runs(tmp_path):
    daily, ranged = make_world(tmp_path / "daily"), make_world(tmp_path / "range")

    by_day = run_day_by_day(daily)
    as_range = run_as_ranges(ranged)

    assert all(run.success for run in by_day + as_range)
    assert failed_checks(by_day) == failed_checks(as_range) == []
    assert len(as_range) == 3 and len(by_day) == 2 * len(DAYS) + 1
    books = sage_books(ranged)
    assert sum(len(books[table]) for table in ("AR_CashReceiptsDetail", "GL_DetailPosting")) > 100  # books written
    assert differences(sage_books(daily), books) == {}
    numbers = entry_numbers(ranged)
    assert numbers["transactions"] == len(numbers["numbers"]) > 0  # the range's entry numbers: one per receipt
    outputs = warehouse_outputs(ranged)
    assert {row[0] for row in outputs["pipeline.sage_cash_receipts"]} == set(DAYS)  # every day has its rows
    assert differences(warehouse_outputs(daily), outputs) == {}


def materialize(command: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=False, env=variables, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # two merchants and a dozen runs: minutes on a busy two-core machine
def test_partition_range_on_the_command_line_runs_once_and_a_rerun_posts_nothing_twice(tmp_path):
    world = build_world(tmp_path / "world", FIRST, FIRST + timedelta(days=2), seed=29, per_day=25, customers=20)
    select = ("group:paytrace or group:sage100 or group:receivables or group:refunds or group:customers "
              "or group:anomalies")
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "sage_paytrace_pipeline.definitions",
               "--select", select, "--partition-range", f"{FIRST}...{FIRST + timedelta(days=2)}"]
    with serving(world) as environment:
        home = tmp_path / "dagster_home"
        home.mkdir()
        variables = {**environment, "DAGSTER_HOME": str(home), "PATH": "/usr/bin:/bin"}
        first = materialize(command, variables)
        assert first.returncode == 0, first.stderr[-3000:]
        books = sage_books(world)
        second = materialize(command, variables)
        assert second.returncode == 0, second.stderr[-3000:]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_run_records()
    assert len(runs) == 2  # one run per command, not one per day
    assert sage_books(world) == books  # the re-run posted nothing
    numbers = entry_numbers(world)
    assert numbers["transactions"] == len(numbers["numbers"]) > 0  # one receipt (entry) per transaction
