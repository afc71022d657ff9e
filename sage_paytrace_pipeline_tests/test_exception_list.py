"""`sage-paytrace exceptions list`: every flow's exceptions across days, from a warehouse the I/O manager wrote."""

import csv
import io
import json
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager
from sage_paytrace_pipeline.domain.matching.exceptions import TRANSACTION_EXCEPTIONS
from sage_paytrace_pipeline.domain.settlement.frames import BATCH_EXCEPTIONS
from sage_paytrace_pipeline.exception_list import list_exceptions

DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")
PARTITIONED = {"partition_expr": "business_date"}
FIRST, SECOND = "2026-11-02", "2026-11-03"
RESOLVED_ON_RERUN: set[str] = set()  # days whose receivables re-run found the customer


def _dated(frame: pd.DataFrame, day: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "business_date", date.fromisoformat(day))
    return frame


@dg.asset(partitions_def=DAYS, metadata=PARTITIONED)
def receivable_exceptions(context: dg.AssetExecutionContext) -> pd.DataFrame:
    day = context.partition_key
    frames = [TRANSACTION_EXCEPTIONS.rows(
        "awaiting_sage_import", "info", [int(day[-2:]) * 1000 + 1], source_ids="paytrace:1",
        problem="the receipt waits for Sage's import", action="nothing: the next run confirms it")]
    if day not in RESOLVED_ON_RERUN:
        frames.append(TRANSACTION_EXCEPTIONS.rows(
            "unknown_customer", "error", [int(day[-2:]) * 1000 + 2], source_ids=f"paytrace:{day[-2:]}02",
            problem="=HYPERLINK(\"http://x\") paid, no Sage customer has the card or the e-mail",
            action="link the payer to a Sage customer: sage-paytrace link add VAULT 01-BAYV0067, then re-run the day"))
    return _dated(TRANSACTION_EXCEPTIONS.concat(frames), day)


@dg.asset(partitions_def=DAYS, metadata=PARTITIONED)
def settlement_exceptions(context: dg.AssetExecutionContext) -> pd.DataFrame:
    # the deposit of batch 77 is missing on every day of its window: one exception, reported daily
    return _dated(BATCH_EXCEPTIONS.rows(
        "deposit_missing", "error", [77], source_ids="batch:77", problem="no bank deposit for batch 77",
        action="ask the bank, or add the statement file to the bank.statement_folder"), context.partition_key)


def _materialize(warehouse, instance, day, assets=(receivable_exceptions, settlement_exceptions)):
    result = dg.materialize(list(assets), partition_key=day, instance=instance,
                            resources={"io_manager": WarehouseIOManager(database=str(warehouse), schema="pipeline")})
    assert result.success


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    path = tmp_path / "warehouse.duckdb"
    RESOLVED_ON_RERUN.clear()
    with dg.instance_for_test() as instance:
        _materialize(path, instance, FIRST)
        _materialize(path, instance, SECOND)
        RESOLVED_ON_RERUN.add(FIRST)  # the operator linked the payer and re-ran the first day
        _materialize(path, instance, FIRST, assets=(receivable_exceptions,))
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(path))
    return path


def test_every_table_the_warehouse_has_is_listed_newest_day_first(warehouse):
    rows = list_exceptions(warehouse)
    listed = list(zip(rows["business_day"], rows["area"], rows["kind"], strict=True))
    assert listed == [
        (SECOND, "receivables", "unknown_customer"), (SECOND, "settlement", "deposit_missing"),
        (SECOND, "receivables", "awaiting_sage_import"),
        (FIRST, "settlement", "deposit_missing"), (FIRST, "receivables", "awaiting_sage_import"),
    ], "the re-run's resolved exception is gone; tables the warehouse does not have are simply empty"
    assert rows.loc[0, "source_ids"] == "paytrace:0302"
    assert rows.loc[0, "action"].endswith("then re-run the day")


def test_open_leaves_out_info_rows_and_shows_a_repeated_exception_once(warehouse):
    rows = list_exceptions(warehouse, open_only=True)
    assert list(zip(rows["business_day"], rows["kind"], strict=True)) == [
        (SECOND, "unknown_customer"), (SECOND, "deposit_missing")]


def test_kind_and_since_filter(warehouse):
    assert list(list_exceptions(warehouse, kind="deposit_missing")["business_day"]) == [SECOND, FIRST]
    assert set(list_exceptions(warehouse, since=date.fromisoformat(SECOND))["business_day"]) == {SECOND}


def test_csv_is_formula_safe_and_json_is_a_list(warehouse, capsys):
    assert main(["exceptions", "list", "--open", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["kind"] for row in table] == ["unknown_customer", "deposit_missing"]
    assert table[0]["problem"].startswith("'=HYPERLINK")
    assert main(["exceptions", "list", "--kind", "unknown_customer", "--format", "json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["business_day"] == SECOND and record["severity"] == "error"
    assert record["problem"].startswith("=HYPERLINK"), "JSON is data, not a sheet: kept as stored"


def test_the_table_keeps_the_action_whole(warehouse, capsys):
    assert main(["exceptions", "list", "--since", SECOND]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["business_day", "area", "kind", "severity", "source_ids"]
    assert "    action:  link the payer to a Sage customer: sage-paytrace link add VAULT 01-BAYV0067, then re-run " \
           "the day" in out
    assert out.rstrip().endswith("3 exceptions")


def test_no_warehouse_yet_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(tmp_path / "none.duckdb"))
    assert main(["exceptions", "list"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "none.duckdb").exists()
