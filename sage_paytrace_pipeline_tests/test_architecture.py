"""The layering rules of docs/architecture.md, enforced by the import-linter contracts in pyproject.toml.

One test runs the contracts on the package as it is; the other plants each kind of forbidden import in
a copy of the package and checks that the contracts catch it, so a contract that silently matches
nothing (a renamed package, a typo in a module path) cannot pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "sage_paytrace_pipeline"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the pyproject.toml of `project`, importing the package found there first."""
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())", "--no-cache", str(project / "pyproject.toml")]
    return subprocess.run(command, cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                          capture_output=True, text=True, check=False, timeout=120)


def test_the_package_keeps_every_layering_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("domain/money.py", "import sage_paytrace_pipeline.sage100.schema", "domain is pure"),
        ("domain/money.py", "import duckdb", "domain is pure"),
        ("domain/cards.py", "import dagster", "domain is pure"),
        ("paytrace/errors.py", "import sage_paytrace_pipeline.sage100.errors", "adapters do not import each other"),
        ("defs/metadata.py", "import sage_paytrace_pipeline.sandbox.paytrace.engine",
         "production code imports no stand-in"),
        ("receivables/receipts.py", "import sage_paytrace_pipeline.sandbox.sage100.faults",
         "production code imports no stand-in"),
        ("sandbox/paytrace/engine.py", "import sage_paytrace_pipeline.paytrace.client",
         "stand-ins never use the production PayTrace client"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, planted: str, contract: str) -> None:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / PACKAGE, copy / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / PACKAGE / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{planted}  # planted by the test\n", encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode != 0, result.stdout
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
