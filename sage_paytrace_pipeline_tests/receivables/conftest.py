"""Fixtures of the receivables tests: frames as the pipeline builds them, a demo company, a posting log.

The Sage fixtures are the Sage 100 tests' own (a generated demo company made once per session,
copied fresh per test), the template here already carrying the writer's UDF columns so that each
copy's writer starts at once; the posting log is a real DuckDB file per test.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.config import SageSettings
from sage_paytrace_pipeline.domain.matching.invoices import APPLICATION_COLUMNS
from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.sage100.conftest import company, writer  # noqa: F401 (fixtures)
from sage_paytrace_pipeline_tests.sage100.writer_support import TODAY

DAY = date(2026, 3, 2)


def payments(*rows: dict) -> pd.DataFrame:
    """PayTrace transactions typed as `paytrace.frames.TRANSACTION_COLUMNS`; rows state what matters."""
    defaults = {"business_date": DAY, "transaction_type": "SALE", "status": "SETTLED", "amount_cents": 10000,
                "card_brand": "VISA", "card_last4": "1111", "card_expiration_month": 4, "card_expiration_year": 2028,
                "approval_code": "TAS521", "billing_name": "Ana Chen", "customer_id": None}
    frame = pd.DataFrame([{**defaults, "transaction_id": 5000 + i, **row} for i, row in enumerate(rows)])
    for column in TRANSACTION_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame.loc[:, list(TRANSACTION_COLUMNS)]
    frame[["created_at", "settled_at"]] = frame[["created_at", "settled_at"]].apply(pd.to_datetime, utc=True)
    return frame.astype({k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def applications(*rows: dict) -> pd.DataFrame:
    """Matching's applications (`APPLICATION_COLUMNS`); rows give transaction_id, customer, invoice, cents."""
    defaults = {"division": "01", "invoice_type": "IN", "method": "invoice_id_exact", "score": 100.0,
                "explanation": "invoice id on the payment"}
    frame = pd.DataFrame([{**defaults, **row} for row in rows], columns=list(APPLICATION_COLUMNS))
    return frame.astype({"transaction_id": "int64", "amount_cents": "int64", "score": "float64"})


@pytest.fixture(scope="session")
def company_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("receivables-sage100") / "template.db"
    create_demo_company(path, seed=7, customers=40, today=TODAY)
    DemoCompanyWriter(path)  # adds the UDF columns once, not on every copy
    return path


@pytest.fixture
def settings() -> SageSettings:
    return SageSettings()


@pytest.fixture
def warehouse(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def log(warehouse) -> PostingLog:
    return PostingLog(warehouse, "run-1")


@pytest.fixture
def reader(company) -> Sage100Reader:  # noqa: F811 (the fixture)
    return Sage100Reader.for_sqlite(company)
