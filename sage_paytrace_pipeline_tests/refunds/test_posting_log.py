"""The refund log's one-commit block (a day's intents in one warehouse commit, made before Sage's)."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
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


def _log_with_history(tmp_path) -> RefundLog:
    """A refund confirmed (7001), one rejected (7002), one reversed (7003), all of sale 5001."""
    log = RefundLog(duckdb.connect(str(tmp_path / "warehouse.duckdb")), "run")
    for refund_id in (7001, 7002, 7003):
        log.record_intent(_intent(refund_id))
    log.record_confirmed(7001, "refund")
    log.record_rejected(7002, "refund", "Sage said no")
    log.record_confirmed(7003, "refund")
    log.record_intent(RefundIntent(transaction_id=7003, kind="refund_reversal", sale_transaction_id=5001,
                                   division="01", customer_no="ABF", amount_cents=1000,
                                   business_date=date(2026, 3, 2), allocations={}))
    log.record_confirmed(7003, "refund_reversal")
    return log


def test_linked_refunds_in_one_commit_read_as_the_warehouse_reads_them_after_it(tmp_path):
    log = _log_with_history(tmp_path)
    intents = [_intent(7001), _intent(7002), _intent(7003), _intent(7004),  # 7001: confirmed, left as is
               RefundIntent(transaction_id=7005, kind="refund", sale_transaction_id=None, division="", customer_no="",
                            amount_cents=500, business_date=date(2026, 3, 2), allocations={})]
    changed = {**intents[1].allocations, "IN:0000002": 1}
    intents[1] = RefundIntent(**{**intents[1].__dict__, "allocations": changed})
    with log.one_commit():
        for intent in intents:
            log.record_intent(intent)
        inside = log.linked_refunds()
        log.record_rejected(7004, "refund", "Sage said no")  # sends the intents first: the row exists
        after_rejection = log.linked_refunds()
    pd.testing.assert_frame_equal(after_rejection, log.linked_refunds())
    assert inside["refund_id"].tolist() == [7001, 7002, 7004]
    assert after_rejection["refund_id"].tolist() == [7001, 7002]
    assert json.loads(inside.set_index("refund_id").loc[7002, "allocations_json"]) == changed
    assert log.state_of(7004, "refund") == "rejected" and log.state_of(7005, "refund") == "intent"


def test_linked_refunds_in_one_commit_equal_the_warehouse_after_it(tmp_path):
    log = _log_with_history(tmp_path)
    with log.one_commit():
        for refund_id in (7002, 7006, 7007):
            log.record_intent(_intent(refund_id))
        inside = log.linked_refunds()
    pd.testing.assert_frame_equal(inside, log.linked_refunds())


def _of_sale(frame: pd.DataFrame, sale_id: int) -> list[tuple]:
    rows = frame[frame["sale_transaction_id"] == sale_id]
    return [(int(r), int(s), int(c), str(a)) for r, s, c, a in rows.itertuples(index=False)]


def test_a_sales_linked_rows_in_one_commit_equal_its_rows_of_linked_refunds(tmp_path):
    """The by-sale read (sorted columns, states as arrays) answers as the frame does, intents held back or sent."""
    log = _log_with_history(tmp_path)
    for refund_id, sale_id in ((7010, 5003), (7008, 5002), (7011, 5002), (7009, 5003)):
        log.record_intent(RefundIntent(**{**_intent(refund_id).__dict__, "sale_transaction_id": sale_id,
                                          "amount_cents": refund_id - 7000}))
    log.record_confirmed(7011, "refund")
    log.record_rejected(7009, "refund", "Sage said no")
    sales = (5001, 5002, 5003, 5004)
    with log.one_commit():
        for refund_id, sale_id in ((7009, 5003), (7012, 5002), (7011, 5004), (7013, 5001), (7002, 5004)):
            log.record_intent(RefundIntent(**{**_intent(refund_id).__dict__, "sale_transaction_id": sale_id,
                                              "allocations": {"IN:0000009": refund_id}}))
            inside = log.linked_refunds()
            for sale_id in sales:
                assert [tuple(row) for row in log.linked_refunds_of_sale(sale_id)] == _of_sale(inside, sale_id)
    after = log.linked_refunds()
    pd.testing.assert_frame_equal(inside, after)
    for sale_id in sales:
        assert [tuple(row) for row in log.linked_refunds_of_sale(sale_id)] == _of_sale(after, sale_id)
    assert _of_sale(after, 5002) == [(7008, 5002, 8, '{"IN:0000001": 1000}'), (7011, 5002, 11, '{"IN:0000001": 1000}'),
                                     (7012, 5002, 1000, '{"IN:0000009": 7012}')]  # 7011 confirmed: kept as logged


def test_confirmed_ids_are_the_confirmed_rows_of_the_kind(tmp_path):
    log = _log_with_history(tmp_path)
    with log.one_commit():
        log.record_intent(_intent(7004))  # held back: sent before the read, an intent (not confirmed)
        assert sorted(log.confirmed_ids("refund").tolist()) == [7001, 7003]
    entries = log.entries(kind="refund")
    assert sorted(log.confirmed_ids("refund").tolist()) == entries.loc[entries["state"] == "confirmed",
                                                                          "transaction_id"].tolist()
    assert log.confirmed_ids("refund_reversal").tolist() == [7003]
    assert log.confirmed_ids("receipt_reversal").dtype == "int64"
