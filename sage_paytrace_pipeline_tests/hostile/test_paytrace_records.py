"""Each hostile PayTrace export case through the real client: a named rejection, a masked record, or a
specific error; the well-formed record beside it always loads, and no card number survives."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.paytrace import PayTraceClient, RetryPolicy
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.frames import rejected_records_frame, transactions_frame
from sage_paytrace_pipeline_tests.hostile.corpus import GOOD_ID, Case, body_text, case_id, paytrace_cases
from sage_paytrace_pipeline_tests.hostile.hostile_paytrace import export_transport

DAY = __import__("datetime").date(2026, 3, 4)


def client_for(case: Case) -> PayTraceClient:
    return PayTraceClient("https://api.paytrace.com", username="corpus", password="corpus-password",
                          transport=export_transport(body_text(case)), sleep=lambda _: None,
                          retry=RetryPolicy(max_attempts=2, base_delay=0, jitter=False))


def read(case: Case):
    with client_for(case) as client:
        return client.read_transactions(DAY, DAY)


def card_numbers_in(frame) -> list[str]:
    """Card numbers in any one cell (cells are scanned one by one: neighbours may not form one)."""
    return [found for cell in frame.astype(str).to_numpy().ravel() for found in find_card_numbers(cell)]


def value_at(record: Any, path: str) -> Any:
    """`billing_address.name`, `card.brand` or `description.length` of a parsed Transaction."""
    *parents, leaf = path.split(".")
    for name in parents:
        record = getattr(record, name)
    if leaf == "length":
        return len(record)
    value = getattr(record, leaf)
    return str(value) if isinstance(value, Decimal) else value


@pytest.mark.parametrize("case", paytrace_cases("rejected"), ids=str)
def test_a_malformed_record_is_rejected_naming_the_field_and_the_rest_loads(case):
    export = read(case)
    assert [t.transaction_id for t in export.transactions] == [GOOD_ID]
    assert len(export.rejected) == 1
    rejected = export.rejected[0]
    expect = case.expect
    assert rejected.field == expect["field"], rejected.describe()
    assert expect["says"] in rejected.problem, rejected.describe()
    assert rejected.transaction_id == expect.get("id", case_id(case))
    rows = rejected_records_frame(export.rejected, DAY)
    assert rows["kind"].tolist() == ["malformed_paytrace_record"]
    assert expect["field"] in rows["source_ids"][0] and expect["field"] in rows["problem"][0]
    assert "PayTrace Virtual Terminal" in rows["action"][0]
    assert card_numbers_in(rows) == []


@pytest.mark.parametrize("case", paytrace_cases("kept"), ids=str)
def test_an_odd_but_usable_record_is_kept_with_its_text_masked(case):
    export = read(case)
    assert export.rejected == []
    kept = {t.transaction_id: t for t in export.transactions}
    assert set(kept) == {GOOD_ID, case_id(case)}
    for path, wanted in case.expect["stored"].items():
        assert value_at(kept[case_id(case)], path) == wanted, path
    frame = transactions_frame(export.transactions, DAY)
    assert card_numbers_in(frame) == []


@pytest.mark.parametrize("case", paytrace_cases("duplicate"), ids=str)
def test_a_repeated_transaction_id_keeps_the_first_record_and_reports_the_other(case):
    export = read(case)
    assert sorted(t.transaction_id for t in export.transactions) == [GOOD_ID, case_id(case)]
    for path, wanted in case.expect.get("stored", {}).items():
        assert value_at(next(t for t in export.transactions if t.transaction_id == case_id(case)), path) == wanted
    rows = rejected_records_frame(export.rejected, DAY)
    assert rows[["kind", "severity"]].values.tolist() == [["duplicate_paytrace_record", case.expect["severity"]]]
    assert rows["transaction_id"].tolist() == [case_id(case)]


@pytest.mark.parametrize("case", paytrace_cases("error"), ids=str)
def test_an_unusable_answer_fails_the_read_with_a_specific_error(case):
    with pytest.raises(PayTraceError) as caught:
        read(case)
    assert type(caught.value).__name__ == case.expect["error"]
    assert case.expect["says"] in str(caught.value)


@pytest.mark.parametrize("case", paytrace_cases("rejected", "duplicate"), ids=str)
def test_the_strict_export_refuses_malformed_records_by_name(case):
    with client_for(case) as client:
        if case.expect["outcome"] == "duplicate" and case.expect["severity"] == "info":
            assert len(client.export_transactions(DAY, DAY)) == 2  # an exact repeat is harmless
            return
        with pytest.raises(PayTraceError) as caught:
            client.export_transactions(DAY, DAY)
    message = str(caught.value)
    assert "malformed transactions record" in message and not find_card_numbers(message)
