"""Sage snapshot assets: a day's customers, cards and open invoices from the demo company into DuckDB."""

from datetime import date

import dagster as dg
import duckdb
import pytest

from sage_paytrace_pipeline.defs.sage100.assets import build_sage100_assets
from sage_paytrace_pipeline.defs.sage100.resources import (
    Sage100Resource,
    is_odbc_connection_string,
)
from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.defs.conftest import example_settings

DAY = "2026-03-02"
sage_customers, sage_customer_cards, sage_open_invoices = build_sage100_assets(load_time_config())


@pytest.mark.parametrize(
    ("database", "odbc"),
    [("DSN=SOTAMAS90;UID=ops;PWD=x;COMPANY=ABC", True), ("Driver={MAS 90 4.0 ODBC Driver};Directory=M:\\MAS90", True),
     (".sage_paytrace/sage100_demo.sqlite3", False), ("/data/co=abc/demo.sqlite3", False)],
)
def test_database_setting_is_a_file_or_an_odbc_string(database, odbc):
    assert is_odbc_connection_string(database) is odbc


def test_snapshots_land_typed_and_complete(tmp_path):
    company = tmp_path / "sage.sqlite3"
    create_demo_company(company, seed=3, customers=30, today=date(2026, 3, 2))
    warehouse = tmp_path / "wh.duckdb"
    result = dg.materialize(
        [sage_customers, sage_customer_cards, sage_open_invoices], partition_key=DAY,
        resources={"settings": example_settings(), "sage100": Sage100Resource(database=str(company)),
                   "io_manager": WarehouseIOManager(database=str(warehouse), schema="pipeline")},
    )
    assert result.success
    reader = Sage100Reader.for_sqlite(company)
    expected_balance = sum(invoice.balance for invoice in reader.open_invoices())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        customers = con.execute("select count(*) from pipeline.sage_customers").fetchone()[0]
        balance_cents, day_type = con.execute(
            "select sum(balance_cents), typeof(any_value(business_date)) from pipeline.sage_open_invoices").fetchone()
    assert customers == len(reader.customers())
    assert balance_cents == int(expected_balance * 100) and day_type == "DATE"
