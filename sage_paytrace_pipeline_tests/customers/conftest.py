"""A demo company, the PayTrace sandbox over a socket and a warehouse file, and one sync run against them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.customers.snapshot import read_inputs
from sage_paytrace_pipeline.customers.state_store import SyncStateStore
from sage_paytrace_pipeline.customers.sync import SyncOutcome, sync_customers, sync_policy
from sage_paytrace_pipeline.paytrace import PayTraceClient, RetryPolicy
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TODAY = date(2026, 3, 2)


@pytest.fixture(scope="session")
def sync_company_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("customers") / "template.db"
    create_demo_company(path, seed=7, customers=40, today=TODAY)
    return path


@dataclass
class SyncWorld:
    company: Path
    warehouse: Path
    client: PayTraceClient
    clock: list[datetime]

    def config(self, **sync) -> PipelineConfig:
        return PipelineConfig.model_validate({"customers": {"auto_create": sync.pop("auto_create", True),
                                                            "sync": sync}})

    def run(self, *, dry_run: bool = False, links: dict[str, str] | None = None, **sync) -> SyncOutcome:
        config = self.config(**sync)
        self.tick()
        reader = Sage100Reader.for_sqlite(self.company)
        with duckdb.connect(str(self.warehouse)) as connection:
            return sync_customers(
                read=lambda: read_inputs(self.client, reader, links or {}, TODAY),
                store=SyncStateStore(connection), policy=sync_policy(config),
                writer=DemoCompanyWriter(self.company, clock=lambda: self.clock[0]), client=self.client,
                terms_code=config.customers.terms_code, dry_run=dry_run)

    def clerk(self) -> DemoCompanyWriter:
        """Someone editing customers in Sage (another UserUpdatedKey), a little later."""
        self.tick()
        return DemoCompanyWriter(self.company, user="CLERK", clock=lambda: self.clock[0])

    def tick(self) -> None:
        self.clock[0] += timedelta(minutes=5)

    def reader(self) -> Sage100Reader:
        return Sage100Reader.for_sqlite(self.company)


@pytest.fixture
def world(sync_company_template, paytrace_sandbox, tmp_path):
    company = tmp_path / "company.db"
    shutil.copy(sync_company_template, company)
    client = PayTraceClient(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                            password=paytrace_sandbox.password, sleep=lambda s: None,
                            retry=RetryPolicy(jitter=False, base_delay=0.0))
    yield SyncWorld(company, tmp_path / "warehouse.duckdb", client, [datetime(2026, 3, 2, 9, 0)])
    client.close()
