"""Malformed statements are refused whole, with the file, the line and what to fix."""

import pytest

from sage_paytrace_pipeline.banking import StatementError, read_statement
from sage_paytrace_pipeline_tests.banking.samples import SAMPLES


def _swap(old, new):
    def transform(text):
        assert old in text, old
        return text.replace(old, new, 1)
    return transform


def _drop_last_lines(count):
    return lambda text: "\n".join(text.splitlines()[:-count]) + "\n"


CASES = {
    "bai2 unknown record code": ("bai2", _swap("16,455", "17,455"), 10, "does not start with a BAI2 record code"),
    "bai2 wrong account control total": ("bai2", _swap("49,77740", "49,77741"), 12, "account control total"),
    "bai2 wrong file control total": ("bai2", _swap("99,592606", "99,592605"), 14, "file control total"),
    "bai2 wrong record count": ("bai2", _swap("49,514866,3/", "49,514866,4/"), 5, "number of records"),
    "bai2 truncated": ("bai2", _drop_last_lines(1), 13, "99 file trailer"),
    "bai2 amount not a number": ("bai2", _swap("16,165,75240", "16,165,752.40"), 9, "16 transaction detail"),
    "bai2 unsupported type code": ("bai2", _swap("16,165,75240", "16,999,75240"), 9, "Type code '999'"),
    "bai2 bad as-of date": ("bai2", _swap("260304,2400", "261304,2400"), 7, "02 group header"),
    "bai2 no type code": ("bai2", _swap("16,165,75240", "16,,75240"), 9, "no type code"),
    "bai2 unknown currency": ("bai2", _swap("03,000123456789,USD", "03,000123456789,ABC"), 3, "unknown currency 'ABC'"),
    "ofx truncated": ("ofx_v2_xml", _drop_last_lines(3), 14, "truncated"),
    "ofx amount not a number": ("ofx_v1_sgml", _swap("752.40", "75x.40"), 19, "not a number"),
    "ofx more than two decimals": ("ofx_v2_xml", _swap("752.40", "752.405"), 11, "more than two decimals"),
    "ofx bad posted date": ("ofx_v2_xml", _swap("<DTPOSTED>20260304", "<DTPOSTED>20261304"), 11, "dtposted"),
    "ofx without header": ("ofx_v2_xml", lambda text: text.split("?>", 2)[2], 1, "no valid OFX header"),
    "ofx unknown currency": ("ofx_v1_sgml", _swap("<CURDEF>USD", "<CURDEF>ABC"), 11, "curdef"),
    "csv bad date": ("csv_amount", _swap("03/04/2026", "2026-03-04"), 3, "does not match '%m/%d/%Y'"),
    "csv bad amount": ("csv_amount", _swap("$752.40", "$75x.40"), 3, "is not an amount"),
    "csv more than two decimals": ("csv_amount", _swap("$752.40", "$752.405"), 3, "more than two decimals"),
    "csv missing column": ("csv_amount", _swap("Reference", "Ref"), 1, "'Reference' not in the header"),
    "csv no amount": ("csv_amount", _swap("$752.40", ""), 3, "no amount in column 'Amount'"),
    "csv extra field": ("csv_credit_debit", _swap(";2095513148;", ";2095513148;x;"), 6, "row has 7 fields"),
    "csv neither credit nor debit": ("csv_credit_debit", _swap("752.40;;", ";;"), 6, "neither 'Credit' nor 'Debit'"),
    "csv no account": ("csv_credit_debit", _swap(";2095513148;000123456789", ";2095513148;"), 6,
                       "no account in column 'Acct'"),
    "csv header beyond the end": ("csv_credit_debit", _drop_last_lines(6), 3, "no header row"),
}


@pytest.mark.parametrize("case", CASES)
def test_malformed_input_names_file_line_and_fix(tmp_path, case):
    name, transform, line, phrase = CASES[case]
    sample = SAMPLES[name]
    path = tmp_path / sample.file_name
    path.write_text(transform(sample.content))
    with pytest.raises(StatementError) as caught:
        read_statement(path, csv_format=sample.layout)
    error = caught.value
    assert (error.path, error.line) == (path, line), str(error)
    assert phrase in error.problem, str(error)
    assert str(error).startswith(f"{path.name}:{line}: ") and ". Fix: " in str(error) and error.fix
    assert_speaks_config(error.fix)


def assert_speaks_config(fix: str) -> None:
    """A fix names what an operator sets in the YAML, never a Python class or argument."""
    for python in ("CsvFormat", "FeeStatementFormat", "csv_format", "pass ", "("+")"):
        assert python not in fix, fix


def test_a_csv_needs_its_layout(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(SAMPLES["csv_amount"].content)
    with pytest.raises(StatementError, match=r"export.csv:1: .*no bank.csv layout") as caught:
        read_statement(path)
    assert "under bank.csv in the config" in caught.value.fix
    assert_speaks_config(caught.value.fix)


def test_csv_in_the_wrong_encoding_names_the_line(tmp_path):
    sample = SAMPLES["csv_amount"]
    path = tmp_path / sample.file_name
    path.write_bytes(sample.content.replace("AMEX", "AMEX caf\xe9").encode("cp1252"))
    with pytest.raises(StatementError) as caught:
        read_statement(path, csv_format=sample.layout)
    assert caught.value.line == 3 and "set bank.csv.encoding in the config" in caught.value.fix
    cp1252 = sample.layout.model_copy(update={"encoding": "cp1252"})
    assert read_statement(path, csv_format=cp1252).transactions["description"][1].endswith("café")
