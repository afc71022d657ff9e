"""`sage-paytrace disputes list`: the cases from the warehouse, filtered by status and deadline, safe as CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.disputes.case_store import build_cases, save
from sage_paytrace_pipeline.domain.disputes.linking import approved_sales
from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat, read_report
from sage_paytrace_pipeline_tests.domain.disputes import samples

FORMULA = samples.RETRIEVAL.replace("R100", "=HYPERLINK(1)")


def _warehouse(tmp_path, monkeypatch) -> None:
    path = tmp_path / "warehouse.duckdb"
    rows = read_report(Path("r.csv"), samples.report(samples.RETRIEVAL, samples.CHARGEBACK, samples.WON,
                                                     samples.PRE_ARB, samples.LOST_CB, FORMULA),
                       DisputeReportFormat()).rows
    sales = approved_sales(pd.DataFrame({
        "transaction_id": [501], "transaction_type": ["SALE"], "status": ["SETTLED"], "business_date": ["2026-10-28"],
        "amount_cents": [12_000], "card_last4": ["1111"], "approval_code": ["A1B2C3"], "invoice_id": ["INV-1001"]}))
    connection = duckdb.connect(str(path))
    save(connection, *build_cases(rows, sales))
    connection.close()
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(path))


def test_open_cases_due_within_days_as_csv(tmp_path, monkeypatch, capsys):
    _warehouse(tmp_path, monkeypatch)
    assert main(["disputes", "list", "--open", "--due-within", "10", "--today", "2026-11-18", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # open: R100 (due 11/20), the formula case (11/20), C400 (11/28), P300 (12/31: too far); C200 is won
    assert sorted(r["case_number"] for r in rows) == ["'=HYPERLINK(1)", "C400", "R100"]
    r100 = next(r for r in rows if r["case_number"] == "R100")
    assert (r100["days_left"], r100["sale_transaction_id"], r100["amount"]) == ("2", "501", "$120.00")
    assert r100["evidence"].startswith("a copy of the sale's receipt")


def test_table_and_json(tmp_path, monkeypatch, capsys):
    _warehouse(tmp_path, monkeypatch)
    assert main(["disputes", "list", "--today", "2026-11-18"]) == 0
    table = capsys.readouterr().out
    assert table.rstrip().endswith("5 cases")
    assert "C200           won" in table and "stages:  chargeback > won" in table
    assert "send:    nothing: the case is won" in table
    assert main(["disputes", "list", "--format", "json", "--today", "2026-11-18"]) == 0
    records = {r["case_number"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["C200"]["status"] == "won" and records["P300"]["merchant_due_date"] == "2026-12-31"
