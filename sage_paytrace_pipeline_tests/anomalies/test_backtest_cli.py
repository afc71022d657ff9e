"""`sage-paytrace anomalies backtest`: the rules replayed over a stored warehouse, each day against its history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline_tests.domain.anomalies.crafted import START, frame, tx

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
DAY_ONE, DAY_TWO = START, START + timedelta(days=1)


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    """A warehouse with two stored days: a quiet one, then a duplicate charge and a card-testing burst."""
    stored = frame([tx(1, 5_000, customer_id="C1", at=DAY_ONE), tx(2, 6_000, customer_id="C2", at=DAY_ONE),
                    tx(3, 5_000, customer_id="C1", at=DAY_ONE + timedelta(days=1, minutes=-60)),
                    *[tx(10 + i, 100 + i, last4="4242", minutes=i * 3, at=DAY_TWO,
                         status="DECLINED" if i % 2 else "SETTLED") for i in range(5)]])
    stored["business_date"] = pd.to_datetime(stored["created_at"]).dt.tz_convert("America/Los_Angeles").dt.date
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA pipeline")
        connection.register("stored", stored)
        connection.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM stored")
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(path))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(EXAMPLE))
    return path


def test_backtest_prints_each_rule_with_what_it_would_have_flagged(warehouse, capsys):
    assert main(["anomalies", "backtest", "--start", str(DAY_ONE.date()), "--end", str(DAY_TWO.date())]) == 0
    out = capsys.readouterr().out
    assert "2 stored day(s), 6 flag(s)" in out
    assert "duplicate_charge: 1 flag(s)" in out and "Transaction 3 charges the same customer $50.00" in out
    assert "card_testing: 5 flag(s)" in out and "amount_outlier: 0 flag(s)" in out
    assert f"{DAY_TWO.date()} [error] Transaction 10 ($1.00) is one of 5 small charges" in out


def test_a_rule_turned_off_is_reported_off_and_flags_nothing(warehouse, tmp_path, capsys, monkeypatch):
    config = tmp_path / "off.yaml"
    config.write_text(EXAMPLE.read_text() + "\nanomalies:\n  card_testing:\n    enabled: false\n")
    assert main(["anomalies", "backtest", "--start", str(DAY_ONE.date()), "--end", str(DAY_TWO.date()),
                 "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "card_testing: off" in out and "1 flag(s)\n" in out.splitlines()[0] + "\n"


def test_a_day_range_without_stored_days_and_a_reversed_range(warehouse, capsys):
    assert main(["anomalies", "backtest", "--start", "2025-01-01", "--end", "2025-01-31"]) == 0
    assert "0 stored day(s), 0 flag(s)" in capsys.readouterr().out
    assert main(["anomalies", "backtest", "--start", "2026-03-05", "--end", "2026-03-01"]) == 1
    assert "--end 2026-03-01 is before --start 2026-03-05" in capsys.readouterr().err
