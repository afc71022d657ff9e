"""The sandbox processor's monthly fee statement totals exactly the month's fee debit on the bank statement."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from sage_paytrace_pipeline.banking.fee_statement import (
    FeeStatementFormat,
    read_fee_statement,
)
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy
from sage_paytrace_pipeline.domain.settlement.monthly_fees import (
    reconcile_fee_statement,
)
from sage_paytrace_pipeline.paytrace.models import Batch, BrandTotals
from sage_paytrace_pipeline.sandbox.bank import (
    FundingProfile,
    PlantedProblems,
    plan_bank_entries,
)
from sage_paytrace_pipeline.sandbox.bank.fee_statement import write_fee_statement
from sage_paytrace_pipeline_tests.domain.settlement.builders import gl_accounts


def batch(number: int, day: date, **brands: tuple[int, str, int, str]) -> Batch:
    totals = {brand: BrandTotals(sales_count=sc, sales_amount=Decimal(sa), refund_count=rc, refund_amount=Decimal(ra))
              for brand, (sc, sa, rc, ra) in brands.items()}
    return Batch(number=number, created_at=datetime.combine(day, datetime.min.time()).replace(hour=20), brands=totals)


BATCHES = [
    batch(1, date(2026, 2, 27), VISA=(3, "100.00", 0, "0")),  # February: not in March's statement
    batch(2, date(2026, 3, 2), VISA=(4, "123.47", 1, "10.00"), AMEX=(2, "99.99", 0, "0"), JCB=(1, "10.01", 0, "0")),
    batch(3, date(2026, 3, 31), MASTERCARD=(5, "333.33", 0, "0"), VISA=(1, "0.21", 1, "5.00")),
    batch(4, date(2026, 4, 1), VISA=(9, "900.00", 0, "0")),  # April
]
PROFILE = FundingProfile(discount_method="monthly", problems=PlantedProblems.none())


def test_the_statement_total_is_the_monthly_fee_debit_and_reconciles_to_it(tmp_path):
    path = write_fee_statement(BATCHES, PROFILE, date(2026, 3, 1), tmp_path / "fees_2026-03.csv")
    statement = read_fee_statement(path, FeeStatementFormat())
    debit = next(entry for entry in plan_bank_entries(BATCHES, PROFILE)
                 if entry.kind == "monthly_fees" and entry.memo.endswith("2026-03"))
    assert statement.month == date(2026, 3, 1)
    assert statement.total_cents == -debit.amount_cents == debit.fees_cents > 0
    lines = statement.lines
    assert sorted(set(lines["brand"])) == ["AMEX", "JCB", "MASTERCARD", "VISA"]
    visa = lines[lines["brand"] == "VISA"]["description"].tolist()
    assert len(visa) == 2 and "discount" in visa[0] and "item fees 7 x 0.10" in visa[1]

    bank = pd.DataFrame([{"source_file": "bank.bai", "source_line": n + 1, "account_id": entry.account_id,
                          "posted_date": entry.posted_date, "amount_cents": entry.amount_cents, "type_code": "455",
                          "bank_reference": entry.bank_reference, "description": entry.description}
                         for n, entry in enumerate(plan_bank_entries(BATCHES, PROFILE))])
    result = reconcile_fee_statement(statement.lines, bank, month=statement.month, as_of=date(2026, 4, 6),
                                     policy=SettlementPolicy(discount_method="monthly", fee_debits_from_statement=True),
                                     accounts=gl_accounts())
    assert result.status == "matched" and result.match.posted_date == debit.posted_date
    assert int(result.entries["debit_cents"].iloc[0]) == debit.fees_cents


def test_only_monthly_discount_has_a_fee_statement(tmp_path):
    with pytest.raises(ValueError, match="monthly"):
        write_fee_statement(BATCHES, FundingProfile(), date(2026, 3, 1), tmp_path / "fees.csv")
