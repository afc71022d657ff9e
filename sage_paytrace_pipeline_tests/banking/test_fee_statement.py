"""The processor's monthly fee statement CSV: one month, exact cents, card numbers masked, errors with lines."""

from __future__ import annotations

from datetime import date

import pytest

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.fee_statement import (
    FeeStatementFormat,
    read_fee_statement,
)

GOOD = """Month,Card Brand,Description,Amount
2026-03,VISA,VISA discount 2.50% on sales 1000.00,25.00
2026-03,VISA,VISA item fees 10 x 0.10,1.00
2026-03,AMEX,"Chargeback fee card 4111 1111 1111 1111",15.00

2026-03,,Fee refund,(2.50)
"""


def write(tmp_path, text: str, name: str = "fees.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_lines_in_cents_with_the_month_and_masked_descriptions(tmp_path):
    statement = read_fee_statement(write(tmp_path, GOOD), FeeStatementFormat())
    assert statement.month == date(2026, 3, 1) and statement.total_cents == 2_500 + 100 + 1_500 - 250
    lines = statement.lines
    assert lines["source_line"].tolist() == [2, 3, 4, 6]
    assert lines["brand"].tolist() == ["VISA", "VISA", "AMEX", ""]
    assert lines["amount_cents"].tolist() == [2_500, 100, 1_500, -250] and str(lines["amount_cents"].dtype) == "int64"
    assert "4111 1111 1111 1111" not in lines["description"].iloc[2] and "1111" in lines["description"].iloc[2]
    assert set(lines["source_file"]) == {"fees.csv"} and len(statement.sha256) == 64


def test_a_configured_layout_without_brand(tmp_path):
    fmt = FeeStatementFormat(month_column="Period", description_column="Item", amount_column="Fee",
                             brand_column=None, delimiter=";")
    statement = read_fee_statement(write(tmp_path, "Period;Item;Fee\n03/2026;Monthly fees;1,234.56\n"), fmt)
    assert (statement.month, statement.total_cents, statement.lines["brand"].tolist()) == (
        date(2026, 3, 1), 123_456, [""])


@pytest.mark.parametrize("text, line, words", [
    ("Month,Card Brand,Description,Amount\n2026-03,VISA,ok,1.00\n2026-04,VISA,next month,1.00\n", 3, "differs"),
    ("Month,Card Brand,Description,Amount\n2026-03,VISA,bad,12,34\n", 2, "fields"),
    ("Month,Card Brand,Description,Amount\n2026-03,VISA,bad,1.234\n", 2, "more than two decimals"),
    ("Month,Card Brand,Description,Amount\nMarch,VISA,bad,1.00\n", 2, "month 'March'"),
    ("Month,Description,Amount\n2026-03,x,1.00\n", 1, "'Card Brand'"),
    ("Month,Card Brand,Description,Amount\n", 1, "no fee lines"),
    ("", 1, "empty"),
])
def test_malformed_statements_name_the_file_and_line(tmp_path, text, line, words):
    with pytest.raises(StatementError) as caught:
        read_fee_statement(write(tmp_path, text), FeeStatementFormat())
    assert caught.value.line == line and words in caught.value.problem
    assert str(caught.value).startswith(f"fees.csv:{line}: ")


def test_the_format_refuses_unknown_keys():
    with pytest.raises(ValueError):
        FeeStatementFormat(month_colum="Month")
