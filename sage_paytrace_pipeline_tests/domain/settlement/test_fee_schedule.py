"""Daily discount with the merchant's pricing: the expected deposit is exact, so a netted chargeback is
told apart from fees; a printed adjustment amount splits the shortfall even without a schedule."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pandas as pd
import pytest
from pydantic import ValidationError

from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.domain.settlement import (
    BrandFeeRate,
    SettlementPolicy,
    journal_entries,
    reconcile,
)
from sage_paytrace_pipeline.domain.settlement.reconcile import printed_adjustments
from sage_paytrace_pipeline.paytrace.models import Batch, BrandTotals
from sage_paytrace_pipeline.sandbox.bank.funding import (
    GROUP_CARDS,
    BrandFee,
    FundingProfile,
    brand_fee_cents,
    plan_bank_entries,
)
from sage_paytrace_pipeline_tests.domain.settlement.builders import (
    CLEARING,
    MON,
    NEXT_MON,
    TUE,
    WED,
    Scenario,
    gl_accounts,
)

CARDS_RATE = BrandFeeRate(rate_bps=250, per_item_cents=10)
AMEX_RATE = BrandFeeRate(rate_bps=350, per_item_cents=15)
SCHEDULE = {"VISA": CARDS_RATE, "MASTERCARD": CARDS_RATE, "DISCOVER": CARDS_RATE, "AMEX": AMEX_RATE}
DAILY = SettlementPolicy(discount_method="daily")
SCHEDULED = SettlementPolicy(discount_method="daily", fee_schedule=SCHEDULE)
MONTHLY = SettlementPolicy(discount_method="monthly")

# one_batch(): VISA 1000.00 + MC 500.00 sales, a 200.00 VISA refund -> gross 1300.00, fee window 90.00.
# Scheduled fee: VISA 25.00 + 2 items 0.20, MC 12.50 + 1 item 0.10 = 37.80 -> expected net 1262.20.
GROSS, FEE, NET = 130_000, 3_780, 126_220
REF = "PT-B1-260302-CARDS"


def one_batch(closed: date = MON) -> Scenario:
    scenario = Scenario().batch(1, closed)
    scenario.sale(1, "VISA", 100_000)
    scenario.sale(1, "MASTERCARD", 50_000)
    scenario.refund(1, "VISA", 20_000)
    return scenario


def run(scenario: Scenario, policy: SettlementPolicy = SCHEDULED, as_of: date = NEXT_MON):
    recon = reconcile(*scenario.frames(), policy=policy, as_of=as_of)
    return recon, journal_entries(recon, accounts=gl_accounts())


def match_of(recon, batch: int = 1, group: str = "CARDS") -> pd.Series:
    rows = recon.matches[(recon.matches["batch_number"] == batch) & (recon.matches["funding_group"] == group)]
    assert len(rows) == 1, recon.matches
    return rows.iloc[0]


def split(match: pd.Series) -> tuple:
    return (match["method"], match["status"], match["fee_cents"], match["adjustment_cents"], match["rounding_cents"])


def lines_by_account(plan, reference: str = REF) -> dict[str, int]:
    lines = plan.lines_of(reference)
    return (lines["debit_cents"] - lines["credit_cents"]).groupby(lines["account"]).sum().to_dict()


def kinds(recon) -> list[str]:
    return sorted(recon.exceptions["kind"])


# ----------------------------------------------------------------------------------- the policy


def test_refund_item_fee_defaults_to_the_item_fee_and_brands_are_normalized():
    assert BrandFeeRate(rate_bps=250, per_item_cents=10).per_refund_item_cents == 10
    assert BrandFeeRate(rate_bps=250, per_item_cents=10, per_refund_item_cents=0).per_refund_item_cents == 0
    policy = SettlementPolicy(discount_method="daily", fee_schedule={
        "mc": {"rate_bps": 250, "per_item_cents": 10}, "American Express": {"rate_bps": 350}})
    assert set(policy.fee_schedule) == {"MASTERCARD", "AMEX"}
    assert policy.fee_schedule["AMEX"] == BrandFeeRate(rate_bps=350, per_item_cents=0, per_refund_item_cents=0)
    with pytest.raises(ValidationError, match="named twice"):
        SettlementPolicy(discount_method="daily", fee_schedule={"MC": CARDS_RATE, "MASTERCARD": CARDS_RATE})
    with pytest.raises(ValidationError):
        BrandFeeRate(rate_bps=-1)


def test_the_scheduled_fee_is_the_sandbox_fee_rounded_half_up_per_brand_per_batch():
    # Amounts around every half cent of 2.5% and 3.5%, with and without refunds.
    scenario = Scenario()
    cases = []
    for number, cents in enumerate(range(10_000, 10_100, 3), start=1):
        scenario.batch(number, MON)
        refunds = number % 3
        scenario.sale(number, "VISA", cents)
        scenario.sale(number, "AMEX", cents + 7)
        for _ in range(refunds):
            scenario.refund(number, "VISA", 100)
        visa = BrandTotals(sales_count=1, sales_amount=cents_to_decimal(cents), refund_count=refunds,
                           refund_amount=cents_to_decimal(100 * refunds))
        amex = BrandTotals(sales_count=1, sales_amount=cents_to_decimal(cents + 7))
        cases.append((number, brand_fee_cents(visa, BrandFee(rate_bps=250, per_item_cents=10)),
                      brand_fee_cents(amex, BrandFee(rate_bps=350, per_item_cents=15))))
    recon = reconcile(*scenario.frames(), policy=SCHEDULED, as_of=NEXT_MON)
    fees = recon.expected.set_index(["batch_number", "funding_group"])["expected_fee_cents"]
    assert [(n, fees[(n, "CARDS")], fees[(n, "AMEX")]) for n, _, _ in cases] == cases
    assert str(recon.expected["expected_fee_cents"].dtype) == "Int64"


# ------------------------------------------------------------------------------ schedule tiers


def test_schedule_exact_match_books_the_scheduled_fee():
    recon, plan = run(one_batch().deposit(TUE, NET))
    match = match_of(recon)
    assert split(match) == ("net_of_scheduled_fees", "matched", FEE, 0, 0)
    assert (match["expected_cents"], match["variance_cents"]) == (NET, 0)
    assert recon.expected["expected_fee_cents"].iloc[0] == FEE
    assert kinds(recon) == []
    assert lines_by_account(plan) == {"1010-00": NET, "6150-00": FEE, "4950-00": 20_000, "1060-00": -150_000}


def test_without_a_schedule_nothing_changes():
    recon, _ = run(one_batch().deposit(TUE, NET), DAILY)
    assert split(match_of(recon)) == ("net_of_daily_fees", "matched", FEE, 0, 0)
    assert pd.isna(recon.expected["expected_fee_cents"].iloc[0])
    recon, _ = run(one_batch().deposit(TUE, GROSS), SCHEDULED.model_copy(update={"discount_method": "monthly"}))
    assert split(match_of(recon)) == ("exact_gross", "matched", 0, 0, 0)


@pytest.mark.parametrize(("deposit", "rounding"), [(NET - 3, 3), (NET + 2, -2)])
def test_schedule_within_tolerance_books_the_difference_as_rounding(deposit, rounding):
    policy = SCHEDULED.model_copy(update={"variance_tolerance_cents": 5})
    recon, plan = run(one_batch().deposit(TUE, deposit), policy)
    match = match_of(recon)
    assert split(match) == ("within_tolerance", "matched", FEE, 0, rounding)
    assert match["variance_cents"] == -rounding
    assert lines_by_account(plan)["6150-00"] == FEE + rounding
    assert kinds(recon) == []


@pytest.mark.parametrize("description", ["DEPOSIT BATCH 1 VISA/MC/DISC CHGBK ADJ -25.00", "BANKCARD DEP CHGBK NET"])
def test_schedule_short_with_adjustment_words_is_a_netted_adjustment(description):
    recon, plan = run(one_batch().deposit(TUE, NET - 2_500, description))
    match = match_of(recon)
    assert split(match) == ("netted_adjustment", "short", FEE, 2_500, 0)
    assert recon.expected["hold_reason"].iloc[0] == ""
    rows = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"]
    assert list(rows["severity"]) == ["warning"]
    problem = rows["problem"].iloc[0]
    assert "expected $1262.20" in problem and "scheduled fees $37.80" in problem
    printed = "the amount it prints" if "25.00" in description else "the shortfall"
    assert f"$25.00 ({printed}) is booked to chargebacks (and to merchant fees, the fee $37.80)" in problem
    assert lines_by_account(plan) == {"1010-00": NET - 2_500, "6150-00": FEE, "6160-00": 2_500, "4950-00": 20_000,
                                      "1060-00": -150_000}
    assert plan.lines_of(REF).set_index("role").loc["chargebacks", "comment"] == "Netted chargeback/adjustment"


def test_the_same_short_deposit_without_a_schedule_was_absorbed_into_fees():
    recon, _ = run(one_batch().deposit(TUE, NET - 2_500, "BANKCARD DEPOSIT"), DAILY)
    assert split(match_of(recon)) == ("net_of_daily_fees", "matched", FEE + 2_500, 0, 0)


def test_schedule_short_without_words_is_a_held_short_deposit():
    recon, plan = run(one_batch().deposit(TUE, NET - 2_500, "BANKCARD DEPOSIT"))
    match = match_of(recon)
    assert split(match) == ("short_deposit", "short", 0, 0, 0)
    assert match["variance_cents"] == -2_500
    assert recon.expected["hold_reason"].iloc[0] == "deposit differs from the batch"
    row = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"].iloc[0]
    assert row["severity"] == "error"
    assert "expected $1262.20" in row["problem"] and "got $1237.20" in row["problem"]
    assert plan.entries.empty and list(plan.held["reference"]) == [REF]


@pytest.mark.parametrize(("deposit", "method"), [(NET + 100, "over_deposit"), (GROSS, "over_deposit")])
def test_schedule_over_deposit_is_held(deposit, method):
    recon, plan = run(one_batch().deposit(TUE, deposit))
    assert match_of(recon)["method"] == method and plan.entries.empty


def test_schedule_printed_amount_that_does_not_explain_the_shortfall_is_held():
    recon, plan = run(one_batch().deposit(TUE, NET - 3_000, "BANKCARD CHGBK ADJ -25.00"))
    assert match_of(recon)["method"] == "short_deposit"
    row = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"].iloc[0]
    assert row["severity"] == "error" and "prints an adjustment of $25.00" in row["problem"]
    assert plan.entries.empty


def test_schedule_missing_deposit_says_the_expected_net():
    recon, _ = run(one_batch())
    row = recon.exceptions[recon.exceptions["kind"] == "deposit_missing"].iloc[0]
    assert "expected $1262.20 (sales $1500.00 - refunds $200.00 - scheduled fees $37.80)" in row["problem"]


# ----------------------------------------------------------------------- printed adjustment amounts


@pytest.mark.parametrize(("description", "cents"), [
    ("DEPOSIT BATCH 5 VISA/MC/DISC CHGBK ADJ -25.00", 2_500),
    ("MERCH DEP ADJ 25.00", 2_500),
    ("BANKCARD CHARGEBACK $125.40", 12_540),
    ("CHGBK CASE 8812 AMT $1,125.40", 112_540),
    ("chargeback - 0.99", 99),
    ("BANKCARD DEP LESS CHARGEBACK CB-77", -1),  # a case number is not money
    ("CHGBK 03.02.26", -1),  # nor is a date
    ("DEPOSIT 125.40", -1),  # an amount without adjustment words
    ("", -1),
])
def test_printed_adjustment_amounts_are_parsed_exactly(description, cents):
    assert printed_adjustments(pd.Series([description]), DAILY).tolist() == [cents]


@pytest.mark.parametrize("description", ["DEPOSIT BATCH 1 VISA/MC/DISC CHGBK ADJ -25.00", "MERCH DEP ADJ 25.00",
                                         "BANKCARD CHARGEBACK $25.00"])
def test_printed_amount_splits_the_shortfall_without_a_schedule(description):
    recon, plan = run(one_batch().deposit(TUE, NET - 2_500, description), DAILY)
    match = match_of(recon)
    assert split(match) == ("netted_adjustment", "short", FEE, 2_500, 0)
    row = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"].iloc[0]
    assert row["severity"] == "warning"
    assert ("$25.00 (the amount it prints) is booked to chargebacks (and to merchant fees, the fee $37.80)"
            in row["problem"])
    assert lines_by_account(plan) == {"1010-00": NET - 2_500, "6150-00": FEE, "6160-00": 2_500, "4950-00": 20_000,
                                      "1060-00": -150_000}


def test_printed_amount_below_the_fee_window_splits_too():
    # 103.00 short of 1300.00: more than the 90.00 fee window, 100.00 of it printed as a chargeback.
    recon, _ = run(one_batch().deposit(TUE, GROSS - 10_000 - 300, "BANKCARD CHARGEBACK $100.00"), DAILY)
    assert split(match_of(recon)) == ("netted_adjustment", "short", 300, 10_000, 0)


def test_printed_amount_under_monthly_discount_must_explain_the_whole_shortfall():
    recon, _ = run(one_batch().deposit(TUE, GROSS - 2_500, "ADJ 25.00"), MONTHLY)
    assert split(match_of(recon)) == ("netted_adjustment", "short", 0, 2_500, 0)
    recon, plan = run(one_batch().deposit(TUE, GROSS - 2_600, "ADJ 25.00"), MONTHLY)
    assert match_of(recon)["method"] == "short_deposit" and plan.entries.empty
    tolerant = MONTHLY.model_copy(update={"variance_tolerance_cents": 100})
    recon, plan = run(one_batch().deposit(TUE, GROSS - 2_600, "ADJ 25.00"), tolerant)
    assert split(match_of(recon)) == ("netted_adjustment", "short", 0, 2_500, 100)
    assert lines_by_account(plan)["6150-00"] == 100


def test_printed_amount_leaving_more_than_the_fee_window_is_held():
    # 120.00 short, 2.00 printed: the other 118.00 is more than the 90.00 fee window (6% of 1500.00 sales).
    recon, plan = run(one_batch().deposit(TUE, GROSS - 12_000, "CHGBK ADJ -2.00"), DAILY)
    assert match_of(recon)["method"] == "short_deposit"
    assert "prints an adjustment of $2.00" in recon.exceptions.set_index("kind").loc["deposit_variance", "problem"]
    assert plan.entries.empty


# -------------------------------------------------------------------------------- brands and shapes


def test_amex_group_has_its_own_rate():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "AMEX", 4_000)
    scenario.deposit(TUE, 9_740, "BANKCARD DEPOSIT").deposit(WED, 3_845, "AMEX SETTLEMENT")
    recon, plan = run(scenario)
    assert split(match_of(recon, group="CARDS")) == ("net_of_scheduled_fees", "matched", 260, 0, 0)
    assert split(match_of(recon, group="AMEX")) == ("net_of_scheduled_fees", "matched", 155, 0, 0)
    assert lines_by_account(plan, "PT-B1-260302-AMEX") == {"1010-00": 3_845, "6150-00": 155, "1065-00": -4_000}

    together = SCHEDULED.model_copy(update={"amex_funds_separately": False})
    scenario.bank = []
    recon, _ = run(scenario.deposit(TUE, 13_585), together)
    assert split(match_of(recon)) == ("net_of_scheduled_fees", "matched", 415, 0, 0)


@pytest.mark.parametrize(("refund", "deposit", "fee"), [
    (5_000, -3_070, 70),  # 2.5% of 20.00 + 2 items
    (2_000, -70, 70),  # refunds equal sales: the fee is still debited
])
def test_refunds_exceeding_sales_still_pay_the_fee(refund, deposit, fee):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 2_000)
    scenario.refund(1, "VISA", refund)
    recon, plan = run(scenario.deposit(TUE, deposit, "BANKCARD SETTLEMENT"))
    assert split(match_of(recon)) == ("net_of_scheduled_fees", "matched", fee, 0, 0)
    assert lines_by_account(plan) == {"1010-00": deposit, "6150-00": fee, "4950-00": refund, "1060-00": -2_000}
    assert kinds(recon) == [] and recon.bank_items.empty


def test_refunds_and_fee_equal_to_sales_need_no_deposit_but_book_the_fee():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.refund(1, "VISA", 9_730)  # 100.00 - 97.30 = 2.70 = 2.50 + 2 items
    recon, plan = run(scenario)
    assert split(match_of(recon)) == ("nothing_to_deposit", "matched", 270, 0, 0)
    assert lines_by_account(plan) == {"6150-00": 270, "4950-00": 9_730, "1060-00": -10_000}


def test_a_brand_without_a_rate_keeps_the_fee_window_and_says_so():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "JCB", 1_000)
    scenario.deposit(TUE, 10_700)
    visa_only = SettlementPolicy(discount_method="daily", fee_schedule={"VISA": CARDS_RATE})
    recon, _ = run(scenario, visa_only)
    assert split(match_of(recon)) == ("net_of_daily_fees", "matched", 300, 0, 0)
    row = recon.exceptions.iloc[0]
    assert (row["kind"], row["severity"]) == ("fee_schedule_missing_brand", "warning") and "JCB" in row["problem"]
    assert pd.isna(recon.expected["expected_fee_cents"].iloc[0])

    other = visa_only.model_copy(update={"other_brand_fee": BrandFeeRate(rate_bps=300, per_item_cents=0)})
    scenario.bank = []
    recon, _ = run(scenario.deposit(TUE, 11_000 - 260 - 30), other)
    assert split(match_of(recon)) == ("net_of_scheduled_fees", "matched", 290, 0, 0)
    assert kinds(recon) == []


# ----------------------------------------------------------------------- the sandbox bank, end to end


def _batch(number: int, day: date, brands: dict[str, tuple[int, int, int, int]]) -> Batch:
    """brands: brand -> (sales count, sales cents, refund count, refund cents)."""
    totals = {brand: BrandTotals(sales_count=sc, sales_amount=cents_to_decimal(s), refund_count=rc,
                                 refund_amount=cents_to_decimal(r)) for brand, (sc, s, rc, r) in brands.items()}
    return Batch(number=number, created_at=datetime.combine(day, time(22, 0)),
                 sales_count=sum(v[0] for v in brands.values()), refund_count=sum(v[2] for v in brands.values()),
                 sales_amount=sum((t.sales_amount for t in totals.values()), Decimal("0.00")),
                 refund_amount=sum((t.refund_amount for t in totals.values()), Decimal("0.00")), brands=totals)


def _pieces(count: int, cents: int) -> list[int]:
    return [cents // count + (1 if i < cents % count else 0) for i in range(count)] if count else []


def test_the_sandbox_banks_deposits_reconcile_exactly_with_the_equivalent_schedule():
    days = [date(2026, 3, day) for day in (2, 3, 4, 5, 6, 7, 9)]
    batches = [
        _batch(101, days[0], {"VISA": (3, 41_003, 0, 0), "MASTERCARD": (2, 12_345, 1, 2_000),
                              "AMEX": (1, 9_999, 0, 0)}),
        _batch(102, days[1], {"VISA": (4, 80_020, 1, 5_000), "DISCOVER": (1, 7_777, 0, 0), "JCB": (1, 3_330, 0, 0)}),
        _batch(103, days[2], {"VISA": (2, 55_555, 0, 0), "AMEX": (2, 20_002, 1, 1_000)}),
        _batch(104, days[3], {"VISA": (1, 2_000, 1, 5_000)}),  # refunds above sales: a debit
        _batch(105, days[4], {"MASTERCARD": (5, 123_456, 2, 3_456), "VISA": (3, 66_666, 0, 0)}),
        _batch(106, days[5], {"VISA": (2, 30_030, 0, 0), "AMEX": (1, 15_015, 0, 0)}),  # Saturday
        _batch(107, days[6], {"VISA": (3, 45_045, 0, 0), "DISCOVER": (2, 9_999, 1, 999)}),
    ]
    profile = FundingProfile()
    truth = plan_bank_entries(batches, profile)
    planted = {problem: entry for entry in truth for problem in entry.problems if problem != "amex_separate"}
    assert set(planted) == {"missing", "short"}

    scenario = Scenario()
    for batch in batches:
        scenario.batch(batch.number, batch.created_at.date())
        for brand, totals in batch.brands.items():
            for cents in _pieces(totals.sales_count, int(totals.sales_amount * 100)):
                scenario.sale(batch.number, brand, cents)
            for cents in _pieces(totals.refund_count, int(totals.refund_amount * 100)):
                scenario.refund(batch.number, brand, cents)
    for entry in truth:
        if entry.amount_cents is not None:
            scenario.deposit(entry.posted_date, entry.amount_cents, entry.description,
                             reference=entry.bank_reference, account=entry.account_id)

    def rate(fee: BrandFee) -> BrandFeeRate:
        return BrandFeeRate(rate_bps=fee.rate_bps, per_item_cents=fee.per_item_cents)

    policy = SettlementPolicy(discount_method="daily", fee_schedule={b: rate(f) for b, f in profile.fees.items()},
                              other_brand_fee=rate(profile.other_brand_fee))
    recon = reconcile(*scenario.frames(), policy=policy, as_of=date(2026, 3, 31))
    matches = recon.matches.set_index(["batch_number", "funding_group"])
    status = recon.expected.set_index(["batch_number", "funding_group"])["deposit_status"]
    for entry in truth:
        key = (entry.batch_numbers[0], "CARDS" if entry.brand_group == GROUP_CARDS else "AMEX")
        if "missing" in entry.problems:
            assert status[key] == "missing"
            continue
        match = matches.loc[key]
        assert match["deposit_cents"] == entry.amount_cents and match["fee_cents"] == entry.fees_cents, key
        if "short" in entry.problems:
            assert (match["method"], match["adjustment_cents"]) == ("netted_adjustment", 2_500), key
        else:
            assert (match["method"], match["adjustment_cents"], match["rounding_cents"]) == (
                "net_of_scheduled_fees", 0, 0), key
    assert len(recon.matches) == len(truth) - 1
    assert set(recon.exceptions["kind"]) == {"deposit_missing", "deposit_variance"}
    assert list(recon.exceptions.loc[recon.exceptions["kind"] == "deposit_variance", "severity"]) == ["warning"]

    plan = journal_entries(recon, accounts=gl_accounts(clearing_by_brand={**CLEARING, "JCB": "1061-00"}))
    assert plan.exceptions.empty and list(plan.held["reason"]) == ["no deposit matched"]
    # Every posted entry credits each brand's clearing with exactly its sales (the missing CARDS deposit is held).
    missing_batch = planted["missing"].batch_numbers[0]
    clearing = plan.lines[plan.lines["role"] == "clearing"]
    sold: dict[str, int] = {}
    for batch in batches:
        for brand, totals in batch.brands.items():
            if batch.number != missing_batch or brand == "AMEX":
                sold[brand] = sold.get(brand, 0) + int(totals.sales_amount * 100)
    assert clearing.groupby("brand")["credit_cents"].sum().to_dict() == sold
