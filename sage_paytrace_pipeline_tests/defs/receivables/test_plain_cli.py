"""A day through the plain Dagster CLI, every asset selected, as the README tells an operator to run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from sage_paytrace_pipeline_tests.defs.receivables.conftest import (
    FIRST_DAY,
    REPO,
    World,
)

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def materialize_everything(world: World, day, tmp_path: Path) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "sage_paytrace_pipeline.definitions", "--select", "*",
         "--partition", day.isoformat()],
        cwd=REPO, env={**os.environ, **world.environment, "DAGSTER_HOME": str(home)},
        capture_output=True, text=True, timeout=300, check=False)


def warehouse_rows(world: World, sql: str) -> list[tuple]:
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_asset_of_a_day_materializes_and_a_second_run_changes_nothing_in_sage(world, tmp_path):
    first = materialize_everything(world, FIRST_DAY, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    posted = warehouse_rows(world, "SELECT count(*) FROM pipeline.sage_cash_receipts")[0][0]
    assert posted > 0
    before = world.sage_rows()
    exceptions_list_reads_every_exception_the_assets_wrote(world)

    again = materialize_everything(world, FIRST_DAY, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert world.sage_rows() == before


def exceptions_list_reads_every_exception_the_assets_wrote(world: World) -> None:
    """`exceptions list` (a process of its own, as an operator runs it) shows what the real assets stored."""
    listed = subprocess.run(
        [sys.executable, "-m", "sage_paytrace_pipeline.cli", "exceptions", "list", "--format", "json"],
        cwd=REPO, env={**os.environ, **world.environment}, capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows, "the day's deposits are not in the bank folder: settlement lists them as missing"
    tables = {"receivables": "receivable_exceptions", "settlement": "settlement_exceptions"}
    for area, table in tables.items():
        stored = warehouse_rows(world, f"SELECT kind, problem FROM pipeline.{table}")
        assert sorted((r["kind"], r["problem"]) for r in rows if r["area"] == area) == sorted(stored)
    assert {r["business_day"] for r in rows if r["area"] in tables} <= {FIRST_DAY.isoformat()}
    assert all(r["action"] for r in rows if r["area"] in tables)


def test_without_a_settlement_section_receivables_post_and_settlement_says_what_to_set(world, tmp_path):
    config = yaml.safe_load((REPO / "config" / "example.yaml").read_text())
    del config["settlement"]
    path = tmp_path / "receivables_only.yaml"
    path.write_text(yaml.safe_dump(config))
    world.environment["SAGE_PAYTRACE_CONFIG"] = str(path)

    result = materialize_everything(world, FIRST_DAY, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert warehouse_rows(world, "SELECT count(*) FROM pipeline.sage_cash_receipts")[0][0] > 0
    (kind, action), = warehouse_rows(world, "SELECT kind, action FROM pipeline.settlement_exceptions")
    assert kind == "settlement_not_configured" and "settlement.discount_method" in action
    tables = {name for (name,) in warehouse_rows(world, "SELECT table_name FROM information_schema.tables")}
    assert "sage_gl_postings" not in tables  # nothing was posted to the GL
