"""`sage-paytrace customers sync --dry-run | link | unlink` against the sandbox and a demo company."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.customers.state_store import SyncStateStore
from sage_paytrace_pipeline.paytrace import Address, CardInput, PayTraceClient

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


@pytest.fixture
def operator(tmp_path, monkeypatch, sync_company_template, paytrace_sandbox) -> Path:
    company = tmp_path / "company.db"
    shutil.copy(sync_company_template, company)
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text().replace("customers:\n", "customers:\n  sync: {}\n", 1))
    for name, value in {"SAGE100_DATABASE": str(company), "SAGE_PAYTRACE_CONFIG": str(config),
                        "SAGE_PAYTRACE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
                        "PAYTRACE_API_URL": paytrace_sandbox.base_url, "PAYTRACE_USERNAME": paytrace_sandbox.username,
                        "PAYTRACE_PASSWORD": paytrace_sandbox.password}.items():
        monkeypatch.setenv(name, value)
    with PayTraceClient(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                        password=paytrace_sandbox.password) as client:
        client.create_customer("blue-heron-1", CardInput(number="4012000098765439", expiration_month=12,
                                                         expiration_year=2030),
                               billing_address=Address(name="Blue Heron Dental Group", zip="97701"),
                               email="ap@blueherondentalgroup.example")
    return config


def test_a_dry_run_prints_the_plan_and_writes_nothing(operator, capsys, tmp_path):
    before = (tmp_path / "company.db").read_bytes()
    assert main(["customers", "sync", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "sage cards to save: 1" in out
    assert "01  BLUE0011  blue-heron-1  VISA  5439  12  2030  insert" in out
    assert "4012000098765439" not in out
    assert (tmp_path / "company.db").read_bytes() == before


def test_link_is_link_add_and_unlink_removes_both_links(operator, capsys, tmp_path):
    assert main(["customers", "link", "blue-heron-1", "01-blue0012"]) == 0
    assert load_config(operator).customer_links == {"blue-heron-1": "01-BLUE0012"}
    assert main(["customers", "sync"]) == 0
    assert "blue-heron-1" in capsys.readouterr().out
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        assert SyncStateStore(connection).load().links.values.tolist() == [["blue-heron-1", "01", "BLUE0012"]]
    assert main(["customers", "unlink", "blue-heron-1"]) == 0
    assert "the operator's link to 01-BLUE0012 and the sync's link to 01-BLUE0012" in capsys.readouterr().out
    assert load_config(operator).customer_links == {}
    assert main(["customers", "unlink", "blue-heron-1"]) == 1
    assert "has no link" in capsys.readouterr().err
