"""Fixtures of the Sage 100 tests: a generated demo company (made once), copied fresh per test."""

import shutil
from pathlib import Path

import pytest

from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.sage100.writer_support import NOW, TODAY


@pytest.fixture(scope="session")
def company_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sage100") / "template.db"
    create_demo_company(path, seed=7, customers=40, today=TODAY)
    return path


@pytest.fixture
def company(company_template, tmp_path) -> Path:
    path = tmp_path / "company.db"
    shutil.copy(company_template, path)
    return path


@pytest.fixture
def writer(company) -> DemoCompanyWriter:
    return DemoCompanyWriter(company, clock=lambda: NOW)
