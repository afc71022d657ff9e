"""The refund log's one-commit block (a day's intents in one warehouse commit, made before Sage's)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from sage_paytrace_pipeline.refunds.posting_log import RefundIntent, RefundLog


def _intent(refund_id: int) -> RefundIntent:
    return RefundIntent(transaction_id=refund_id, kind="refund", sale_transaction_id=5001, division="01",
                        customer_no="ABF", amount_cents=1000, business_date=date(2026, 3, 2),
                        allocations={"IN:0000001": 1000})


def test_one_commit_shows_the_rows_inside_and_commits_them_at_the_end(tmp_path):
    path = str(tmp_path / "warehouse.duckdb")
    connection = duckdb.connect(path)
    log = RefundLog(connection, "run")
    other = duckdb.connect(path)  # another connection sees committed rows only
    with log.one_commit():
        log.record_intent(_intent(7001))
        log.record_intent(_intent(7002))
        assert log.linked_refunds()["refund_id"].tolist() == [7001, 7002]  # later plans of the day count them
        assert RefundLog(other, "reader").entries().empty
    assert RefundLog(other, "reader").entries()["transaction_id"].tolist() == [7001, 7002]


def test_an_error_in_one_commit_leaves_no_row(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    log = RefundLog(connection, "run")
    with pytest.raises(RuntimeError), log.one_commit():
        log.record_intent(_intent(7001))
        raise RuntimeError("Sage went away")  # the writer's block rolls its documents back too
    assert log.entries().empty
    log.record_intent(_intent(7001))  # the connection is usable again, outside any transaction
    assert log.state_of(7001, "refund") == "intent"
