"""The posting log on a real DuckDB file: states, the no-reset rule, one row per transaction id."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.receivables.posting_log import (
    LOG_COLUMNS,
    TABLE,
    Confirmation,
    Intent,
    PostingLog,
    intents_of,
)
from sage_paytrace_pipeline_tests.receivables.conftest import DAY

NEXT_DAY = date(2026, 3, 3)


def intent(transaction_id: int = 5000, *, business_date: date = DAY, amount_cents: int = 104958, **extra) -> Intent:
    lines = [{"invoice_no": "0050082", "invoice_type": "IN", "amount_cents": amount_cents,
              "method": "invoice_id_exact", "score": 100.0, "explanation": "on the payment"}]
    return Intent(**{
        "transaction_id": transaction_id, "business_date": business_date, "division": "01",
        "customer_no": "COLU0036", "amount_cents": amount_cents, "payment_type": "VISA", "payload_sha256": "a" * 64,
        "applications_json": json.dumps(lines),
        "link_json": json.dumps({"method": "vault_id", "score": 100.0, "explanation": "vault id"}),
        **extra,
    })


def row(log: PostingLog, transaction_id: int = 5000) -> dict:
    rows = log.entries(transaction_ids=[transaction_id]).to_dict("records")
    assert len(rows) == 1
    return rows[0]


def test_intent_then_written_then_confirmed(log):
    log.record_intents([intent()])
    first = row(log)
    assert list(log.entries(business_date=DAY).columns) == list(LOG_COLUMNS)
    assert (first["state"], first["run_id"], first["amount_cents"], first["customer_no"]) == (
        "intent", "run-1", 104958, "COLU0036")
    assert first["deposit_no"] is None and pd.isna(first["confirmed_at"]) and not first["found_in_sage"]

    log.record_written(5000, {"DepositNo": "00012", "CreditCardEntryNo": "000003"})
    written = row(log)
    assert (written["state"], written["deposit_no"], written["entry_no"]) == ("written", "00012", "000003")
    assert json.loads(written["documents_json"]) == {"CreditCardEntryNo": "000003", "DepositNo": "00012"}
    assert written["updated_at"] >= first["updated_at"]

    PostingLog(log.connection, "run-2").record_confirmed(None, 5000, deposit_no="00012", entry_no="000003",
                                                         found_in_sage=False)
    confirmed = row(log)
    assert (confirmed["state"], confirmed["deposit_no"], confirmed["entry_no"]) == ("confirmed", "00012", "000003")
    assert confirmed["run_id"] == "run-2" and confirmed["confirmed_at"] >= written["updated_at"]
    assert confirmed["error"] is None and not confirmed["found_in_sage"]
    assert confirmed["amount_cents"] == 104958  # the intent's facts stay


def test_written_by_visual_integrator_has_no_sage_numbers_yet(log):
    log.record_intents([intent()])
    log.record_written(5000, {"File": "20260302T153000-0001-cash-receipts.csv", "Line": "3"})
    written = row(log)
    assert written["state"] == "written" and written["deposit_no"] is None and written["entry_no"] is None


@pytest.mark.parametrize("advance", ["written", "confirmed"])
def test_record_intents_never_resets_a_written_or_confirmed_row(log, advance):
    log.record_intents([intent()])
    log.record_written(5000, {"DepositNo": "00012", "CreditCardEntryNo": "000003"})
    if advance == "confirmed":
        log.record_confirmed(None, 5000, deposit_no="00012", entry_no="000003", found_in_sage=False)
    before = row(log)

    PostingLog(log.connection, "run-2").record_intents([intent(amount_cents=1, customer_no="OTHER",
                                                               payload_sha256="b" * 64)])

    after = row(log)
    assert after == before  # not even run_id or updated_at moved


def test_an_intent_is_replaced_by_the_next_runs_intent(log):
    log.record_intents([intent()])
    PostingLog(log.connection, "run-2").record_intents([intent(amount_cents=500, payload_sha256="b" * 64)])
    again = row(log)
    assert (again["state"], again["amount_cents"], again["payload_sha256"], again["run_id"]) == (
        "intent", 500, "b" * 64, "run-2")


def test_a_rejected_row_can_be_intended_again_once_fixed(log):
    log.record_intents([intent()])
    log.record_rejected(5000, "post_card_receipt 5000: lines: 10.00 is applied to invoice 0050082 ...")
    rejected = row(log)
    assert rejected["state"] == "rejected" and rejected["error"].startswith("post_card_receipt 5000")

    log.record_intents([intent(amount_cents=4950, payload_sha256="c" * 64)])

    retried = row(log)
    assert (retried["state"], retried["error"], retried["amount_cents"]) == ("intent", None, 4950)
    log.record_written(5000, {"DepositNo": "00013", "CreditCardEntryNo": "000001"})
    log.record_confirmed(None, 5000, deposit_no="00013", entry_no="000001", found_in_sage=False)
    assert row(log)["state"] == "confirmed"


def test_one_row_per_transaction_id(log):
    log.record_intents([intent(5000), intent(5001)])
    log.record_intents([intent(5000), intent(5001), intent(5002)])
    assert log.entries(business_date=DAY)["transaction_id"].tolist() == [5000, 5001, 5002]
    with pytest.raises(duckdb.ConstraintException):
        log.connection.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE transaction_id = 5000")
    with pytest.raises(duckdb.ConstraintException):  # the states are the four the module knows
        log.connection.execute(f"UPDATE {TABLE} SET state = 'posted' WHERE transaction_id = 5000")
    assert log.connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (3,)


def test_confirming_a_payment_the_log_never_saw_creates_its_row_first(log):
    log.record_confirmed(intent(5007), 5007, deposit_no="00012", entry_no="000004", found_in_sage=True)
    found = row(log, 5007)
    assert (found["state"], found["found_in_sage"], found["deposit_no"], found["entry_no"]) == (
        "confirmed", True, "00012", "000004")
    assert (found["customer_no"], found["amount_cents"]) == ("COLU0036", 104958)


def test_entries_by_day_and_by_ids(log):
    log.record_intents([intent(5002), intent(5000), intent(6000, business_date=NEXT_DAY), intent(5001)])

    assert log.entries(business_date=DAY)["transaction_id"].tolist() == [5000, 5001, 5002]
    assert log.entries(business_date=NEXT_DAY)["transaction_id"].tolist() == [6000]
    assert log.entries(business_date=date(2026, 3, 4)).empty
    by_ids = log.entries(transaction_ids=[6000, 5001, 999])
    assert by_ids["transaction_id"].tolist() == [5001, 6000]  # any day; unknown ids are simply absent
    empty = log.entries(transaction_ids=[])
    assert empty.empty and list(empty.columns) == list(LOG_COLUMNS)
    assert log.entries(transaction_ids=[5000])["transaction_id"].tolist() == [5000]  # "wanted_ids" unregistered


def test_intents_of_round_trips(log):
    intents = [intent(5000), intent(5001, business_date=NEXT_DAY, amount_cents=7, payment_type="MC",
                                     link_json="{}", applications_json="[]")]
    log.record_intents(intents)
    log.record_written(5001, {"DepositNo": "00012", "CreditCardEntryNo": "000003"})

    back = intents_of(log.entries(transaction_ids=[5000, 5001]))

    assert back == {5000: intents[0], 5001: intents[1]}
    assert type(back[5001].transaction_id) is int and type(back[5001].amount_cents) is int
    assert type(back[5001].business_date) is date
    assert intents_of(log.entries(transaction_ids=[])) == {}


def test_the_log_persists_in_the_duckdb_file(tmp_path):
    path = str(tmp_path / "log.duckdb")
    with duckdb.connect(path) as connection:
        PostingLog(connection, "run-1").record_intents([intent()])
    with duckdb.connect(path) as connection:
        log = PostingLog(connection, "run-2")  # the DDL is idempotent: the table and its rows stay
        assert intents_of(log.entries(business_date=DAY)) == {5000: intent()}


def test_record_intents_of_nothing_is_a_no_op(log):
    log.record_intents([])
    assert log.entries(business_date=DAY).empty
    assert replace(intent(), amount_cents=1).amount_cents == 1  # Intent is a plain frozen dataclass


def test_a_chunk_of_outcomes_is_logged_as_row_by_row_calls_log_it(warehouse):
    """`record_outcomes` / `record_confirmations` (one update a chunk) leave the rows the per-receipt
    calls leave, timestamps aside."""
    batched = PostingLog(warehouse, "run-1")
    other = duckdb.connect(":memory:")
    try:
        single = PostingLog(other, "run-1")
        ids = [5000, 5001, 5002, 5003]
        for log in (batched, single):
            log.record_intents([intent(tid) for tid in ids])
        documents = {5000: {"DepositNo": "00012", "CreditCardEntryNo": "000003"},
                     5002: {"File": "cash-receipts.csv", "Line": "3"}}
        batched.record_outcomes(documents, {5001: "refused: too much"})
        for tid, written in documents.items():
            single.record_written(tid, written)
        single.record_rejected(5001, "refused: too much")
        confirmations = [Confirmation(5000, "00012", "000003", found_in_sage=False),
                         Confirmation(5004, "00012", "000004", found_in_sage=True, intent=intent(5004))]
        batched.record_confirmations(confirmations)
        for confirmation in confirmations:
            single.record_confirmed(confirmation.intent, confirmation.transaction_id,
                                    deposit_no=confirmation.deposit_no, entry_no=confirmation.entry_no,
                                    found_in_sage=confirmation.found_in_sage)
        batched.record_outcomes({}, {})
        batched.record_confirmations([])

        def rows(log: PostingLog) -> list[dict]:
            frame = log.entries(business_date=DAY).drop(columns=["updated_at", "confirmed_at"])
            return frame.astype(object).where(frame.notna(), None).to_dict("records")

        assert rows(batched) == rows(single)
        assert [r["state"] for r in rows(batched)] == ["confirmed", "rejected", "written", "intent", "confirmed"]
        confirmed_at = batched.entries(business_date=DAY)["confirmed_at"]
        assert confirmed_at.notna().tolist() == [True, False, False, False, True]
    finally:
        other.close()
