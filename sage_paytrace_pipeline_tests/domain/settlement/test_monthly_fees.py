"""Monthly fee statement vs the bank's one fee debit: the per-brand entry, variance, missing, unmapped."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.settlement import (
    JournalPlan,
    SettlementPolicy,
    journal_entries,
    reconcile,
    to_journal_entries,
)
from sage_paytrace_pipeline.domain.settlement.monthly_fees import (
    debit_deadline,
    reconcile_fee_statement,
)
from sage_paytrace_pipeline.sage100.writer import check_journal_balanced
from sage_paytrace_pipeline_tests.domain.settlement.builders import (
    MON,
    NEXT_MON,
    TUE,
    WED,
    Scenario,
    gl_accounts,
)

MARCH = date(2026, 3, 1)
POLICY = SettlementPolicy(discount_method="monthly", fee_debits_from_statement=True)
BANK_COLUMNS = ["source_file", "source_line", "account_id", "posted_date", "amount_cents", "type_code",
                "bank_reference", "description"]


def statement(*lines: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"source_file": "fees_2026-03.csv", "source_line": n + 2, "brand": brand,
                          "description": text, "amount_cents": cents} for n, (brand, text, cents) in enumerate(lines)])


STATEMENT = statement(("VISA", "VISA discount 2.50%", 2_500), ("VISA", "VISA item fees 10 x 0.10", 100),
                      ("AMEX", "AMEX discount 3.50%", 1_750), ("AMEX", "AMEX item fees 2 x 0.15", 30))
TOTAL = 2_500 + 100 + 1_750 + 30


def bank(*rows: tuple[date, int, str]) -> pd.DataFrame:
    return pd.DataFrame([{"source_file": "2026-04-03.bai", "source_line": n + 1, "account_id": "CHK-1",
                          "posted_date": day, "amount_cents": cents, "type_code": "455", "bank_reference": f"R{n}",
                          "description": text} for n, (day, cents, text) in enumerate(rows)], columns=BANK_COLUMNS)


def run(bank_lines: pd.DataFrame, *, policy=POLICY, accounts=None, as_of=date(2026, 4, 6), lines=STATEMENT):
    return reconcile_fee_statement(lines, bank_lines, month=MARCH, policy=policy, accounts=accounts or gl_accounts(),
                                   as_of=as_of)


def signed(result) -> dict[str, int]:
    lines = result.lines
    return (lines["debit_cents"] - lines["credit_cents"]).groupby(lines["account"]).sum().to_dict()


def test_matching_debit_books_each_statement_line_to_fees_and_the_total_out_of_the_bank():
    result = run(bank((date(2026, 3, 31), -TOTAL, "PAYTRACE MERCHANT FEES 2026-02"),  # wrong month
                      (date(2026, 4, 3), -TOTAL, "PAYTRACE MERCHANT FEES 2026-03"),
                      (date(2026, 4, 3), -TOTAL, "ACH BANK SERVICE FEE")))  # not the processor's
    assert result.status == "matched" and result.exceptions.empty and result.held.empty
    assert (result.match.source_line, result.match.posted_date, result.match.amount_cents) == (
        2, date(2026, 4, 3), -TOTAL)
    entry = result.entries.iloc[0]
    assert (entry["reference"], entry["kind"], entry["posting_date"]) == ("PT-FEESTMT-202603", "fee_statement",
                                                                          date(2026, 4, 3))
    assert entry["debit_cents"] == entry["credit_cents"] == TOTAL
    assert signed(result) == {"6150-00": TOTAL, "1010-00": -TOTAL}
    fees = result.lines[result.lines["role"] == "merchant_fees"]
    assert fees["debit_cents"].tolist() == [2_500, 100, 1_750, 30]
    assert fees["brand"].tolist() == ["VISA", "VISA", "AMEX", "AMEX"]
    assert fees["comment"].iloc[0] == "VISA VISA discount 2.50%"
    documents = to_journal_entries(result.plan)
    assert len(documents) == 1 and documents[0].reference == "PT-FEESTMT-202603"
    check_journal_balanced(documents[0])


def test_a_credit_line_reduces_fees_and_a_tolerated_difference_is_booked_as_rounding():
    lines = statement(("VISA", "VISA discount", 1_000), ("VISA", "Fee refund", -200))
    policy = POLICY.model_copy(update={"variance_tolerance_cents": 2})
    result = run(bank((date(2026, 4, 3), -801, "MERCHANT FEES BANKCARD")), policy=policy, lines=lines)
    assert result.status == "matched"
    assert signed(result) == {"6150-00": 801, "1010-00": -801}
    fees = result.lines[result.lines["role"] == "merchant_fees"]
    assert (fees["debit_cents"] - fees["credit_cents"]).tolist() == [1_000, -200, 1]
    assert fees["comment"].iloc[-1] == "Fee statement rounding"


def test_a_different_debit_is_a_variance_with_both_amounts_and_nothing_is_booked():
    result = run(bank((date(2026, 4, 3), -(TOTAL + 300), "PAYTRACE MERCHANT FEES 2026-03")))
    assert result.status == "variance" and result.entries.empty and result.lines.empty
    row = result.exceptions.iloc[0]
    assert (row["kind"], row["severity"]) == ("fee_statement_variance", "error") and pd.isna(row["batch_number"])
    assert "$43.80" in row["problem"] and "$46.80" in row["problem"]
    assert result.held["reference"].tolist() == ["PT-FEESTMT-202603"]


def test_a_missing_debit_is_a_warning_until_the_fee_day_plus_five_business_days_then_an_error():
    deadline = debit_deadline(MARCH, POLICY)
    assert deadline == date(2026, 4, 10)  # 3rd business day of April (Fri 3rd) + 5 business days
    early = run(bank(), as_of=deadline)
    late = run(bank((date(2026, 4, 3), -99_999, "PAYTRACE MERCHANT FEES")), as_of=date(2026, 4, 13))
    assert [(r.status, r.exceptions["kind"].iloc[0], r.exceptions["severity"].iloc[0]) for r in (early, late)] == [
        ("debit_missing", "fee_debit_missing", "warning"), ("debit_missing", "fee_debit_missing", "error")]
    assert early.entries.empty and "2026-04-10" in early.exceptions["action"].iloc[0]


@pytest.mark.parametrize("accounts, problem", [
    (gl_accounts(merchant_fees=None), "gl_accounts.merchant_fees is not set"),
    (gl_accounts(active_accounts={"6150-00"}), "1010-00 is not an active account"),
])
def test_an_unmapped_or_inactive_account_quarantines_the_entry(accounts, problem):
    result = run(bank((date(2026, 4, 3), -TOTAL, "PAYTRACE MERCHANT FEES")), accounts=accounts)
    assert result.entries.empty and result.held["reference"].tolist() == ["PT-FEESTMT-202603"]
    assert result.exceptions["kind"].tolist() == ["gl_account_unmapped"]
    assert problem in result.exceptions["problem"].iloc[0]


def test_no_statement_or_flag_off_books_nothing():
    missing = run(bank(), lines=statement().reindex(columns=["source_file", "source_line", "brand", "description",
                                                            "amount_cents"]))
    assert missing.status == "no_statement" and missing.exceptions["kind"].tolist() == ["fee_statement_missing"]
    off = run(bank((date(2026, 4, 3), -TOTAL, "PAYTRACE MERCHANT FEES")),
              policy=SettlementPolicy(discount_method="monthly"))
    assert off.status == "matched" and off.entries.empty
    assert off.exceptions["kind"].tolist() == ["fee_statement_not_booked"]


def test_fee_debits_from_statement_keeps_the_daily_journal_from_booking_fee_debits():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 10_000).deposit(WED, -4_523, "MERCHANT BANKCARD FEES").deposit(WED, -2_000, "CHARGEBACK 1")

    def kinds(policy: SettlementPolicy) -> list[str]:
        recon = reconcile(*scenario.frames(), policy=policy, as_of=NEXT_MON)
        plan: JournalPlan = journal_entries(recon, accounts=gl_accounts())
        return sorted(plan.entries["kind"])

    assert kinds(SettlementPolicy(discount_method="monthly")) == ["chargeback", "deposit", "monthly_fees"]
    assert kinds(POLICY) == ["chargeback", "deposit"]
