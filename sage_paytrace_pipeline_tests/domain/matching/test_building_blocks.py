"""The integer-array joins and the message templates the matching stages are built on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching.arrays import (
    digit_values,
    join_codes,
    join_values,
    position_in_run,
    sorted_positions,
    stable_code_order,
)
from sage_paytrace_pipeline.domain.matching.open_invoices import index_open_invoices
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.text import Cents, join_runs, render, where_text
from sage_paytrace_pipeline.domain.money import format_cents


@pytest.mark.parametrize("seed", range(5))
def test_joins_give_pandas_inner_merge_rows_in_its_order(seed):
    rng = np.random.default_rng(seed)
    left, right = rng.integers(-1, 8, 40), rng.integers(-1, 8, 30)  # repeats on both sides, -1 never matches
    merged = pd.DataFrame({"k": left, "l": np.arange(40)}).merge(pd.DataFrame({"k": right, "r": np.arange(30)}), on="k")
    merged = merged[merged["k"] >= 0]
    assert list(zip(*join_codes(left, right))) == list(zip(merged["l"], merged["r"]))
    assert list(zip(*join_values(left * 7, right * 7 - (right < 0)))) == list(zip(merged["l"], merged["r"]))


@pytest.mark.parametrize("top", [1, 250, 2**16, 300_000, 2**32, 2**40])
def test_stable_code_order_is_numpys_stable_argsort(top):
    codes = np.random.default_rng(top).integers(0, top, 5_000)
    assert np.array_equal(stable_code_order(codes), np.argsort(codes, kind="stable"))
    assert np.array_equal(stable_code_order(codes - 1), np.argsort(codes - 1, kind="stable"))  # negatives too


def test_join_values_on_unique_ids_and_on_text():
    assert [list(a) for a in join_values(np.array([5, 9, 7, 5]), np.array([7, 5, 1]))] == [[0, 2, 3], [1, 0, 1]]
    left, right = np.array(["b", None, "a"], dtype=object), np.array(["a", None, "b", "b"], dtype=object)
    assert [list(a) for a in join_values(left, right)] == [[0, 0, 2], [2, 3, 0]]  # missing never matches


def test_digit_values_are_the_numbers_of_width_ascii_digits_only():
    texts = ["0001234", "0000000", "9999999", "123", "12345678", "000123a",
             "\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "000123\x00", "", " 001234"]
    assert digit_values(np.array(texts, dtype=object), 7).tolist() == [1234, 0, 9999999] + [-1] * 7
    mixed = np.array(["0001234", None, 1234567, float("nan"), "0000042"], dtype=object)
    assert digit_values(mixed, 7).tolist() == [1234, -1, -1, -1, 42]  # only a str equals a str


def test_the_open_invoice_index_finds_every_kind_of_number_as_text():
    numbers = ["0001234", "INV-9", "12345", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "0001234", "0000042"]
    invoices = pd.DataFrame({"division": "01", "customer_no": ["A", "B", "B", "C", "C", "A"], "invoice_no": numbers,
                             "invoice_type": "IN", "balance_cents": 100}).astype({"balance_cents": "int64"})
    index = index_open_invoices(invoices, MatchingPolicy())
    asked = np.array([*numbers, "1234", "0000043", "INV-8"], dtype=object)
    code = index.invoice_key_of(asked)
    assert index.invoice_nos[code[:6]].tolist() == numbers and code[4] == code[0]
    assert code[6:].tolist() == [-1, -1, -1]
    assert len(index.invoice_nos) == 5 and list(index.invoice_nos) == sorted(set(numbers), key=numbers.index)


def test_positions_and_sorted_pieces():
    assert list(position_in_run(np.array([3, 3, 1, 4, 4, 4]))) == [0, 1, 0, 0, 1, 2]
    first, second = sorted_positions([np.array([5, 1]), np.array([3, 1])], kind="stable")
    assert (list(first), list(second)) == ([3, 0], [2, 1])  # ties: the earlier piece first


def test_render_fills_each_row_and_ignores_unused_fields():
    assert render("{tid}: {who} owes {what}", tid=np.array([7, 8]), who=["A", "B"], what="it", unused=[1, 2]) == [
        "7: A owes it", "8: B owes it"]
    assert render("it's {x!r} {{literal}}", x=pd.Series(["a"])) == ["it's 'a' {literal}"]
    with pytest.raises(ValueError):
        render("{missing}", present=["a"])
    with pytest.raises(ValueError):
        render("{x}", x="only constants")


def test_text_helpers():
    assert list(where_text(np.array([True, False, True]), ["a", "c"])) == ["a", "", "c"]
    assert join_runs(np.array([1, 1, 2, 3, 3]), ["a", "b", "c", "d", "e"]) == ["a, b", "c", "d, e"]


def test_amounts_render_as_format_cents_writes_them():
    cents = np.array([0, 1, 5, 99, 100, 123456, -1, -99, -100, -123456, 2**62, -(2**62)], dtype="int64")
    assert render("{tid}: {amount} of {total}{{x}}", tid=np.arange(len(cents)), amount=Cents(cents),
                  total=Cents(pd.Series(cents[::-1]))) == [
        f"{tid}: {amount} of {total}{{x}}" for tid, amount, total in
        zip(range(len(cents)), format_cents(cents), format_cents(cents[::-1]))]
    assert render("{amount}", amount=Cents(np.zeros(0, dtype="int64"))) == []
    with pytest.raises(ValueError):
        render("{amount:>10}", amount=Cents(cents))


def test_long_columns_render_in_chunks_as_one(monkeypatch):
    rows = 10
    fields = {"tid": np.arange(rows), "who": [f"c{i}" for i in range(rows)], "at": pd.Series(np.arange(rows) * 1.5),
              "ix": pd.Index(range(rows)), "amount": Cents(np.arange(rows) * 101 - 300), "what": "it"}
    template = "{tid} {who} {at} {ix} {amount} {what}"
    whole = render(template, **fields)
    monkeypatch.setattr("sage_paytrace_pipeline.domain.matching.text._CHUNK_ROWS", 3)
    assert render(template, **fields) == whole
    assert whole[0] == "0 c0 0.0 0 -$3.00 it"


def test_prepayment_numbers_are_p_and_the_ids_last_six_digits():
    from sage_paytrace_pipeline.domain.matching.invoices import prepayment_numbers

    ids = np.array([0, 5, 123456, 1234567, 100_000_000, 999_999, 2**62], dtype="int64")
    assert prepayment_numbers(ids) == ["P" + str(tid)[-6:].zfill(6) for tid in ids.tolist()]
    assert prepayment_numbers(np.array([-5, 7])) == ["P-00005", "P000007"]  # as the text of the id reads
