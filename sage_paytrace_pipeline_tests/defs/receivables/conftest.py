"""A merchant world for the daily job: the PayTrace sandbox with generated days, a Sage demo company
sharing its customers and invoices, a config file and the environment the code location reads."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    generate_activity,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

REPO = Path(__file__).resolve().parents[3]
FIRST_DAY, SECOND_DAY = date(2026, 3, 2), date(2026, 3, 3)
SAGE_TABLES = ("AR_CashReceiptsDeposit", "AR_CashReceiptsHeader", "AR_CashReceiptsDetail", "AR_CashReceiptsHistory",
               "AR_OpenInvoice", "AR_Customer", "AR_TransactionPaymentHistory", "GL_DetailPosting")


def set_pipeline_environment(monkeypatch, paytrace_sandbox, folder: Path) -> dict[str, str]:
    """The variables the code location reads: the sandbox, `folder`'s demo company and warehouse, the
    example config."""
    environment = {
        "PAYTRACE_API_URL": paytrace_sandbox.base_url,
        "PAYTRACE_USERNAME": paytrace_sandbox.username,
        "PAYTRACE_PASSWORD": paytrace_sandbox.password,
        "PAYTRACE_INTEGRATOR_ID": "SPPTEST00001",
        "SAGE100_DATABASE": str(folder / "sage100.sqlite3"),
        "SAGE_PAYTRACE_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "SAGE_PAYTRACE_CONFIG": str(REPO / "config" / "example.yaml"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@dataclass(frozen=True)
class World:
    handle: object
    sage_db: Path
    warehouse: Path
    company: object
    environment: dict[str, str]

    def client(self) -> PayTraceClient:
        return PayTraceClient(self.handle.base_url, username=self.handle.username, password=self.handle.password,
                              integrator_id="SPPTEST00001", time_zone="America/Los_Angeles")

    def reader(self) -> Sage100Reader:
        return Sage100Reader.for_sqlite(self.sage_db)

    def run_day(self, day: date, instance: dg.DagsterInstance | None = None, **tags: str) -> dg.ExecuteInProcessResult:
        job = defs().resolve_job_def("paytrace_daily_job")
        with dg.DagsterInstance.ephemeral() if instance is None else _kept(instance) as used:
            return job.execute_in_process(partition_key=day.isoformat(), instance=used, tags=tags or None,
                                          raise_on_error=False)

    def sage_rows(self) -> dict[str, list[tuple]]:
        """Every row of the tables a receipt touches, sorted, for before/after comparisons."""
        with sqlite3.connect(self.sage_db) as connection:
            return {table: sorted(map(tuple, connection.execute(f'SELECT * FROM "{table}"').fetchall()), key=repr)
                    for table in SAGE_TABLES}


class _kept:
    def __init__(self, instance):
        self.instance = instance

    def __enter__(self):
        return self.instance

    def __exit__(self, *exc):
        return False


@pytest.fixture
def world(paytrace_sandbox, tmp_path, monkeypatch) -> World:
    plan, summary = generate_activity(FIRST_DAY, SECOND_DAY, seed=5, profile=MerchantProfile(customers=12))
    assert apply_plan(paytrace_sandbox.engine, plan).failures == []
    company = create_demo_company(tmp_path / "sage100.sqlite3", seed=5, activity=summary, customers=40)
    environment = set_pipeline_environment(monkeypatch, paytrace_sandbox, tmp_path)
    return World(paytrace_sandbox, tmp_path / "sage100.sqlite3", tmp_path / "warehouse.duckdb", company, environment)
