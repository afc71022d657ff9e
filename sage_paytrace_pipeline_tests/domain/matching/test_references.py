from __future__ import annotations

import pytest

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, extract_invoice_references
from sage_paytrace_pipeline_tests.domain.matching.builders import payments


def refs(invoice_id: str | None = "", description: str | None = "") -> list[tuple[str, str]]:
    frame = extract_invoice_references(payments({"invoice_id": invoice_id, "description": description}))
    assert list(frame["position"]) == list(range(len(frame)))
    return list(zip(frame["invoice_no"], frame["source"]))


@pytest.mark.parametrize(
    ("invoice_id", "expected"),
    [
        ("INV-0001234", ["0001234"]),
        ("inv0001234", ["0001234"]),
        ("Inv # 1234", ["0001234"]),
        ("#1234", ["0001234"]),
        ("1234", ["0001234"]),
        ("0001234", ["0001234"]),
        (" 0001234 ", ["0001234"]),
        ("0001234, 0001235", ["0001234", "0001235"]),
        ("1234/1235 & 1236", ["0001234", "0001235", "0001236"]),
        ("1234 1235", ["0001234", "0001235"]),
        ("INV-1234; INV-1235", ["0001234", "0001235"]),
        ("No. 77", ["0000077"]),
        ("1234, 1234", ["0001234"]),  # named twice, counted once
        ("12345678", []),  # eight digits: not a Sage invoice number
        ("", []),
        (None, []),
    ],
)
def test_invoice_id_forms(invoice_id, expected):
    assert refs(invoice_id) == [(number, "invoice_id") for number in expected]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Payment for invoice 0001234", ["0001234"]),
        ("inv 1234 and 1235", ["0001234", "0001235"]),
        ("Invoices #12, 13", ["0000012", "0000013"]),
        ("paying 0100234 today", ["0100234"]),
        ("Invoice payment", []),
        ("Order 5 items", []),  # small bare numbers in prose are not invoices
        ("card 4012 0000 3333 0026 for inv 1234", ["0001234"]),
        ("card 4012000033330026", []),
        ("paid 12.34 and $1,234.56", []),
        ("on 3/2/2026 and 2026-03-02", []),
        ("visa xxxx1234, card ending in 4321", []),
        ("call 509-555-1234", []),
        ("PO 55555 order 123456", []),
        ("payment 2026", []),  # a bare year
    ],
)
def test_description_forms(description, expected):
    assert refs("", description) == [(number, "description") for number in expected]


def test_invoice_id_comes_before_description_and_is_not_repeated():
    assert refs("INV-0001234", "inv 1234 and 1235") == [("0001234", "invoice_id"), ("0001235", "description")]


def test_padding_follows_policy():
    frame = extract_invoice_references(payments({"invoice_id": "#42"}), MatchingPolicy(invoice_no_length=10))
    assert list(frame["invoice_no"]) == ["0000000042"]


def test_many_payments_keep_their_own_ids():
    frame = extract_invoice_references(payments({"invoice_id": "1"}, {"invoice_id": ""}, {"description": "inv 3"}))
    assert list(zip(frame["transaction_id"], frame["invoice_no"])) == [(1000, "0000001"), (1002, "0000003")]


def test_a_list_continued_in_the_description_counts_when_its_head_does():
    assert refs("1", ",1234") == [("0000001", "invoice_id"), ("0001234", "description")]
    assert refs(",1234") == []  # no head at all


def test_a_continuation_never_borrows_another_payments_head():
    found = extract_invoice_references(payments({"invoice_id": "#5"}, {"description": ",1234"}))
    assert list(zip(found["transaction_id"], found["invoice_no"])) == [(1000, "0000005")]
