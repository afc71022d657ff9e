"""Fixtures of the dispute flow tests: a demo company per test (the Sage tests' template) and a DuckDB warehouse
holding the PayTrace sales the sample report's cases dispute."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)


@pytest.fixture
def warehouse(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    sales = pd.DataFrame({  # noqa: F841 (registered by name below)
        "business_date": [date(2026, 10, 28), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2),
                          date(2026, 11, 2)],
        "transaction_id": [501, 502, 503, 505, 506],
        "transaction_type": ["SALE"] * 5,
        "status": ["SETTLED"] * 5,
        "amount_cents": [12_000, 125_000, 8_000, 7_700, 7_700],
        "card_last4": ["1111", "2222", "3333", "5555", "5555"],
        "approval_code": ["A1B2C3", "Z9Y8X7", "", "", ""],
        "invoice_id": ["INV-1001", "", "INV-1004", "", ""],
    })
    connection.execute("CREATE SCHEMA pipeline")
    connection.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM sales")
    yield connection
    connection.close()


@pytest.fixture
def config() -> PipelineConfig:
    return PipelineConfig.model_validate({"disputes": {"chargeback_account": "1250-00", "loss_account": "6170-00",
                                                       "case_fee": "15.00", "warn_days_before_due": 5}})
