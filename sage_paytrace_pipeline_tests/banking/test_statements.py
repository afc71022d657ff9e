"""Every format reads the same deposits into the same frame: exact cents, bank dates, masked cards."""

import pickle
from datetime import date

import pandas as pd
import pytest
from pydantic import ValidationError

from sage_paytrace_pipeline.banking import (
    BANK_TRANSACTION_COLUMNS,
    CsvFormat,
    StatementError,
    parse_amount_cents,
    read_statement,
    read_statement_folder,
)
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline_tests.banking.samples import (
    ACCOUNT,
    BAI2,
    EXPECTED,
    OFX_V2,
    SAMPLES,
)


def _write(tmp_path, name):
    sample = SAMPLES[name]
    path = tmp_path / sample.file_name
    path.write_text(sample.content)
    return path, sample.layout


@pytest.mark.parametrize("name", SAMPLES)
def test_each_format_reads_the_same_deposits(tmp_path, name):
    path, layout = _write(tmp_path, name)
    statement = read_statement(path, csv_format=layout)
    frame = statement.transactions
    assert statement.format == SAMPLES[name].format
    assert list(frame.columns) == list(BANK_TRANSACTION_COLUMNS)
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == BANK_TRANSACTION_COLUMNS
    assert all(type(day) is date for day in frame["posted_date"])
    pd.testing.assert_frame_equal(frame[list(EXPECTED.columns)], EXPECTED, check_dtype=False)
    assert frame["source_file"].tolist() == [path.name] * 3
    assert frame["source_line"].tolist() == SAMPLES[name].lines
    assert frame["type_code"].tolist() == SAMPLES[name].type_codes
    assert find_card_numbers(frame.to_json()) == []


def test_the_hash_is_of_the_bytes_whatever_the_name(tmp_path):
    first, _ = _write(tmp_path, "bai2")
    copy = tmp_path / "renamed.txt"
    copy.write_bytes(first.read_bytes())
    assert read_statement(first).sha256 == read_statement(copy).sha256
    assert len(read_statement(first).sha256) == 64


@pytest.mark.parametrize(("text", "cents"), [
    ("1,234.56", 123456), ("(12.00)", -1200), ("-12.00", -1200), ("$12.00", 1200), ("-$12.00", -1200),
    ("$-12.00", -1200), ("+3.1", 310), ("12", 1200), (" 0.07 ", 7), ("1,000,000.00", 100000000), ("($5.00)", -500),
])
def test_amounts_parse_to_exact_cents(text, cents):
    assert parse_amount_cents(text) == cents


@pytest.mark.parametrize("text", ["12.345", "12,34", "1,2345.00", "abc", "", "--1", "$", "1.2.3", "-(1.00)", "1e3"])
def test_amounts_that_are_not_money_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount_cents(text)


@pytest.mark.parametrize("fields", [
    dict(amount_column="A", credit_column="C", debit_column="D"),  # both ways
    dict(credit_column="C"),  # half a pair
    {},  # no amount at all
    dict(amount_column="A", account_id=None),  # no account
    dict(amount_column="A", currency="ABC"),
    dict(amount_column="A", colour="blue"),  # typo'd option
])
def test_csv_layouts_that_cannot_work_are_refused(fields):
    base = dict(date_column="D", description_column="X", account_id=ACCOUNT)
    with pytest.raises(ValidationError):
        CsvFormat(**{**base, **fields})


def test_statement_error_names_file_line_and_fix_and_survives_pickling(tmp_path):
    error = StatementError(tmp_path / "x.bai", 12, "bad total 4111111111111111", "ask the bank")
    assert str(error) == "x.bai:12: bad total xxxxxxxxxxxx1111. Fix: ask the bank"
    again = pickle.loads(pickle.dumps(error))
    assert (again.path, again.line, again.problem, again.fix, str(again)) == (
        error.path, 12, error.problem, "ask the bank", str(error))


def test_folder_scan_reads_each_content_once_and_keeps_going_past_a_bad_file(tmp_path):
    (tmp_path / "a_day1.bai").write_text(BAI2)
    (tmp_path / "b_day1_again.bai").write_text(BAI2)  # same bytes, other name: once
    (tmp_path / "c_broken.bai").write_text(BAI2.replace("49,514866", "49,514867"))
    (tmp_path / "d_download.ofx").write_text(OFX_V2)
    (tmp_path / ".hidden").write_text("not a statement")
    (tmp_path / "archive").mkdir()

    first = read_statement_folder(tmp_path, seen_hashes=set())
    assert [statement.path.name for statement in first.loaded] == ["a_day1.bai", "d_download.ofx"]
    assert [path.name for path in first.skipped] == ["b_day1_again.bai"]
    assert [(error.path.name, error.line) for error in first.errors] == [("c_broken.bai", 5)]

    seen = {statement.sha256 for statement in first.loaded}
    second = read_statement_folder(tmp_path, seen_hashes=seen)
    assert second.loaded == []
    assert [path.name for path in second.skipped] == ["a_day1.bai", "b_day1_again.bai", "d_download.ofx"]
    assert len(second.errors) == 1  # still refused until someone replaces it
    assert seen == {statement.sha256 for statement in first.loaded}  # the caller's set is not changed
