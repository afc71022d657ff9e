"""The monthly fee reconciliation asset: fee statement + loaded bank statement -> one Sage entry, once."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import yaml
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.banking import read_statement
from sage_paytrace_pipeline.banking.store import StatementStore
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.settlement.fees import (
    build_fee_assets,
    build_monthly_fees_schedule,
)
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.sandbox.bank import generate_bank_statements
from sage_paytrace_pipeline.sandbox.bank.fee_statement import write_fee_statement
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.defs.conftest import EXAMPLE_CONFIG
from sage_paytrace_pipeline_tests.sandbox.bank.test_fee_statement import (
    BATCHES,
    PROFILE,
)

MARCH = "2026-03-01"
[monthly_fee_reconciliation] = build_fee_assets()
monthly_fees_schedule = build_monthly_fees_schedule(load_time_config())


def setup(tmp_path):
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["settlement"].update(discount_method="monthly", fee_debits_from_statement=True)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    statement = write_fee_statement(BATCHES, PROFILE, date(2026, 3, 1), tmp_path / "fee_statements" / "march.csv")
    truth = generate_bank_statements(BATCHES, PROFILE, tmp_path / "bank", formats=("bai2",))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        store = StatementStore(connection)
        for name in truth.files["bai2"]:
            store.add(read_statement(tmp_path / "bank" / name), "test")
    create_demo_company(tmp_path / "sage.sqlite3", seed=2, customers=10, today=date(2026, 3, 2))
    resources = {
        "settings": PipelineSettings(config_path=str(tmp_path / "config.yaml"), check_environment=False),
        "sage100": Sage100Resource(database=str(tmp_path / "sage.sqlite3")),
        "warehouse": DuckDBResource(database=str(tmp_path / "warehouse.duckdb")),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "warehouse.duckdb"), schema="pipeline"),
    }
    debit = next(e for e in truth.entries if e.kind == "monthly_fees" and e.memo.endswith("2026-03"))
    return statement, debit, resources


def gl_rows(tmp_path):
    with sqlite3.connect(tmp_path / "sage.sqlite3") as connection:
        return connection.execute(
            "SELECT a.Account, d.DebitAmount, d.CreditAmount FROM GL_DetailPosting d JOIN GL_Account a "
            "ON a.AccountKey = d.AccountKey WHERE d.SourceJournal = 'GJ' AND d.DocumentNo IN "
            "(SELECT EntryNo FROM GL_GeneralJournalHistory WHERE UDF_PAYTRACE_REF = 'PT-FEESTMT-202603')").fetchall()


def gl_count(tmp_path):
    with sqlite3.connect(tmp_path / "sage.sqlite3") as connection:
        return connection.execute("SELECT count(*) FROM GL_DetailPosting").fetchone()[0]


def summary(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        row = connection.execute("SELECT status, reference, created, typeof(month), bank_amount_cents "
                                 f"FROM pipeline.fee_statement_reconciliation WHERE month = DATE '{MARCH}'").fetchall()
        kinds = [k for (k,) in connection.execute("SELECT kind FROM pipeline.fee_statement_exceptions "
                                                  f"WHERE month = DATE '{MARCH}'").fetchall()]
    return row, kinds


def test_a_matching_fee_debit_is_posted_once_per_brand_line(tmp_path):
    _, debit, resources = setup(tmp_path)
    result = dg.materialize([monthly_fee_reconciliation], resources=resources)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [check.check_name for check in checks] == ["fee_entry_balances"] and checks[0].passed
    rows = gl_rows(tmp_path)
    fees = [row for row in rows if row[0] == "6150-00"]
    bank = [row for row in rows if row[0] == "1010-00"]
    assert len(fees) > 1 and len(bank) == 1 and len(rows) == len(fees) + len(bank)

    def cents(value):
        return round(float(value or 0) * 100)

    assert sum(cents(d) for _, d, _ in fees) == cents(bank[0][2]) == debit.fees_cents
    assert sum(cents(d) - cents(c) for _, d, c in rows) == 0
    assert summary(tmp_path) == ([("matched", "PT-FEESTMT-202603", True, "DATE", -debit.fees_cents)], [])

    again = dg.materialize([monthly_fee_reconciliation], resources=resources)
    assert again.success and gl_rows(tmp_path) == rows
    assert summary(tmp_path)[0][0][2] is False  # the entry existed: nothing new was posted


def test_a_fee_debit_that_differs_is_an_exception_and_nothing_is_posted(tmp_path):
    statement, _, resources = setup(tmp_path)
    # The processor's statement says 0.50 more than it debited.
    statement.write_text(statement.read_text() + "2026-03,VISA,Statement fee,0.50\n")
    before = gl_count(tmp_path)
    result = dg.materialize([monthly_fee_reconciliation], resources=resources)
    assert result.success and gl_count(tmp_path) == before
    rows, kinds = summary(tmp_path)
    assert rows[0][:3] == ("variance", "", False) and kinds == ["fee_statement_variance"]


def test_the_schedule_runs_the_previous_month_on_the_tenth():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 4, 10, 8, tzinfo=ZoneInfo(
        "America/Los_Angeles")))
    request = monthly_fees_schedule(context)
    assert request.partition_key is None and request.run_key == "fees:2026-03:2026-04-10"
