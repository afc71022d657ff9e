"""The bank statement folder sensor and the morning settlement schedule."""

from __future__ import annotations

import json
from datetime import date, datetime

import dagster as dg

from sage_paytrace_pipeline.defs.settings import load_time_config
from sage_paytrace_pipeline.defs.settlement.automation import (
    build_bank_statement_sensor,
    build_settlement_schedule,
    settlement_days,
)

bank_statement_sensor = build_bank_statement_sensor(load_time_config())
settlement_schedule = build_settlement_schedule(load_time_config())


def test_a_new_statement_file_requests_one_load_and_the_same_file_never_again(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text("bank:\n  statement_folder: statements\n")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(tmp_path / "config.yaml"))
    folder = tmp_path / "statements"
    folder.mkdir()
    (folder / "2026-03-03.bai").write_text("01,first\n")
    first = bank_statement_sensor(dg.build_sensor_context())
    assert len(first.run_requests) == 1 and first.run_requests[0].run_key.startswith("bank:")
    again = bank_statement_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)
    (folder / "copy-of-the-same.bai").write_text("01,first\n")  # same content: not new
    assert isinstance(bank_statement_sensor(dg.build_sensor_context(cursor=first.cursor)), dg.SkipReason)
    (folder / "2026-03-04.bai").write_text("01,second\n")
    second = bank_statement_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert len(second.run_requests) == 1 and len(json.loads(second.cursor)["hashes"]) == 2


def test_without_a_config_the_sensor_skips(monkeypatch):
    monkeypatch.delenv("SAGE_PAYTRACE_CONFIG", raising=False)
    assert isinstance(bank_statement_sensor(dg.build_sensor_context()), dg.SkipReason)


def test_the_morning_schedule_reconciles_every_day_whose_deposits_may_still_arrive():
    assert settlement_days(date(2026, 3, 10), 2, date(2026, 1, 1)) == [
        date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)]
    assert settlement_days(date(2026, 1, 2), 5, date(2026, 1, 1)) == [date(2026, 1, 1)]
    requests = settlement_schedule(dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 10, 7, 0)))
    keys = [request.partition_key for request in requests]
    assert keys[-1] == "2026-03-09" and len(keys) == len(set(keys)) > 3
    assert all(request.run_key == f"settle:{request.partition_key}:2026-03-10" for request in requests)
