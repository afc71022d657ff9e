"""Hostile bank statement lines: refused whole with the file's line and what is wrong, or loaded with
the text kept literally and card numbers masked."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.banking import StatementError, read_statement
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline_tests.banking.samples import SAMPLES
from sage_paytrace_pipeline_tests.hostile.corpus import load

CASES = load("bank_statements.json")


def statement_file(case, folder):
    sample = SAMPLES[case.data["sample"]]
    old, new = case.data["replace"]
    assert old in sample.content, old
    path = folder / sample.file_name
    path.write_text(sample.content.replace(old, new, 1), encoding="utf-8")
    return path, sample.layout


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_hostile_statement_line_is_refused_or_stored_safely(case, tmp_path):
    path, layout = statement_file(case, tmp_path)
    expect = case.expect
    if expect["outcome"] == "refused":
        with pytest.raises(StatementError) as caught:
            read_statement(path, csv_format=layout)
        assert caught.value.line == expect["line"], str(caught.value)
        assert expect["says"] in caught.value.problem, str(caught.value)
        assert caught.value.fix
        return
    rows = read_statement(path, csv_format=layout).transactions
    for column, wanted in expect["values"].items():
        assert rows[column][expect["row"]] == wanted
    assert [n for cell in rows.astype(str).to_numpy().ravel() for n in find_card_numbers(cell)] == []
