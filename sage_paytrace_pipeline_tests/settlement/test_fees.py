"""Which fee statements and months a run reconciles (the posting is covered by the asset's tests)."""

from datetime import date

from sage_paytrace_pipeline.banking.fee_statement import FeeStatementFormat
from sage_paytrace_pipeline.sandbox.bank.fee_statement import write_fee_statement
from sage_paytrace_pipeline.settlement.fees import (
    fee_statements,
    months_to_reconcile,
    previous_month,
)
from sage_paytrace_pipeline_tests.sandbox.bank.test_fee_statement import (
    BATCHES,
    PROFILE,
)


def test_previous_month_crosses_the_year():
    assert previous_month(date(2026, 1, 10)) == date(2025, 12, 1)
    assert previous_month(date(2026, 3, 31)) == date(2026, 2, 1)


def test_each_statement_once_by_content_and_unreadable_files_named(tmp_path):
    path = write_fee_statement(BATCHES, PROFILE, date(2026, 3, 1), tmp_path / "march.csv")
    (tmp_path / "march-copy.csv").write_bytes(path.read_bytes())
    (tmp_path / "broken.csv").write_text("Month,Amount\n2026-03,1.00\n")
    (tmp_path / ".hidden.csv").write_text("ignored")
    statements, errors = fee_statements(tmp_path, FeeStatementFormat())
    assert [statement.month for statement in statements] == [date(2026, 3, 1)]
    assert [error.path.name for error in errors] == ["broken.csv"]
    assert fee_statements(tmp_path / "missing", FeeStatementFormat()) == ([], [])


def test_monthly_discount_also_reconciles_the_month_just_closed_never_before_the_first_day(tmp_path):
    statements, _ = fee_statements(tmp_path, FeeStatementFormat())
    assert months_to_reconcile(statements, date(2026, 4, 10), "monthly", date(2026, 1, 15)) == [date(2026, 3, 1)]
    assert months_to_reconcile(statements, date(2026, 4, 10), "daily", date(2026, 1, 15)) == []
    assert months_to_reconcile(statements, date(2026, 1, 10), "monthly", date(2026, 1, 15)) == []
