"""Resources for tests that hand every resource to `dg.materialize` explicitly, and the parts of a
folder world (demo company, warehouse, config, bank statements) the code location runs on."""

import shutil
from pathlib import Path

import pytest

from sage_paytrace_pipeline.defs.settings import PipelineSettings
from sage_paytrace_pipeline.sandbox.bank.funding import FundingProfile
from sage_paytrace_pipeline.sandbox.bank.statements import generate_bank_statements, sandbox_batches
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def example_settings() -> PipelineSettings:
    """The documented example config, without the environment check (the test passes connections itself)."""
    return PipelineSettings(config_path=str(EXAMPLE_CONFIG), check_environment=False)


def statements_in_bank_folder(engine, path: Path, seed: int):
    """The sandbox's batches funded as BAI2 statements, dropped into `path / "bank_statements"`; the bank's truth."""
    truth = generate_bank_statements(sandbox_batches(engine), FundingProfile(seed=seed), path / "bank",
                                     formats=("bai2",))
    (path / "bank_statements").mkdir()
    for statement in (path / "bank" / "bai2").iterdir():
        shutil.copy(statement, path / "bank_statements" / statement.name)
    return truth


def point_at_folder(monkeypatch: pytest.MonkeyPatch, base_url: str, path: Path) -> None:
    """The code location's variables: the served sandbox, and `path`'s company, warehouse and config."""
    for name, value in {
        "PAYTRACE_API_URL": base_url, "PAYTRACE_USERNAME": DEFAULT_USERNAME, "PAYTRACE_PASSWORD": DEFAULT_PASSWORD,
        "SAGE100_DATABASE": str(path / "sage.sqlite3"), "SAGE_PAYTRACE_WAREHOUSE": str(path / "warehouse.duckdb"),
        "SAGE_PAYTRACE_CONFIG": str(path / "config.yaml"),
    }.items():
        monkeypatch.setenv(name, value)
