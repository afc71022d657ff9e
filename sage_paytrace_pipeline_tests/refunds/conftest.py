"""Fixtures of the refund flow tests: a demo company per test (the Sage tests' template) and a DuckDB warehouse."""

from __future__ import annotations

import duckdb
import pytest

from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)


@pytest.fixture
def warehouse(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def reader(company) -> Sage100Reader:  # noqa: F811 (the fixture)
    return Sage100Reader.for_sqlite(company)
