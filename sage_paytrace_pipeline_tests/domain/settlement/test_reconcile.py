"""Batch -> expected deposit -> bank line: amounts, windows, one-to-one assignment, exceptions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.settlement import (
    EXCEPTION_COLUMNS,
    SettlementPolicy,
    batch_tie_out,
    reconcile,
)
from sage_paytrace_pipeline.domain.settlement.reconcile import _assign
from sage_paytrace_pipeline_tests.domain.settlement.builders import (
    FRI,
    MON,
    NEXT_MON,
    NEXT_THU,
    NEXT_WED,
    SAT,
    THU,
    TUE,
    WED,
    Scenario,
)

DAILY = SettlementPolicy(discount_method="daily")
MONTHLY = SettlementPolicy(discount_method="monthly")


def run(scenario: Scenario, policy: SettlementPolicy = MONTHLY, as_of: date = NEXT_MON):
    return reconcile(*scenario.frames(), policy=policy, as_of=as_of)


def kinds(recon) -> list[str]:
    return sorted(recon.exceptions["kind"])


def one_batch(visa: int = 10_000, mastercard: int = 5_000, refund: int = 2_000, closed: date = MON) -> Scenario:
    scenario = Scenario().batch(1, closed)
    scenario.sale(1, "VISA", visa)
    scenario.sale(1, "MASTERCARD", mastercard)
    if refund:
        scenario.refund(1, "VISA", refund)
    return scenario


def match_of(recon, batch: int = 1, group: str = "CARDS") -> pd.Series:
    rows = recon.matches[(recon.matches["batch_number"] == batch) & (recon.matches["funding_group"] == group)]
    assert len(rows) == 1, recon.matches
    return rows.iloc[0]


# ------------------------------------------------------------------------------ expected deposits


def test_expected_deposit_is_sales_minus_refunds_per_funding_group():
    scenario = one_batch()
    scenario.sale(1, "AMEX", 4_000)
    recon = run(scenario)
    expected = recon.expected.set_index("funding_group")
    assert expected.loc["CARDS", "gross_cents"] == 13_000
    assert expected.loc["CARDS", "sales_cents"] == 15_000
    assert expected.loc["CARDS", "refund_cents"] == 2_000
    assert expected.loc["CARDS", "brands"] == "MASTERCARD,VISA"
    assert expected.loc["CARDS", "transaction_count"] == 3
    assert expected.loc["CARDS", "posted_count"] == 2 and expected.loc["CARDS", "posted_cents"] == 15_000
    assert expected.loc["AMEX", "gross_cents"] == 4_000
    assert expected.loc["CARDS", "closed_date"] == MON
    assert recon.tie_out["ties"].all()


def test_amex_in_the_card_deposit_when_it_does_not_fund_separately():
    scenario = one_batch()
    scenario.sale(1, "AMEX", 4_000)
    scenario.deposit(TUE, 17_000)
    recon = run(scenario, MONTHLY.model_copy(update={"amex_funds_separately": False}))
    assert list(recon.expected["funding_group"]) == ["CARDS"]
    assert match_of(recon)["method"] == "exact_gross"
    assert kinds(recon) == []


def test_amex_funds_separately_and_each_group_finds_its_own_deposit():
    scenario = one_batch(refund=0)
    scenario.sale(1, "AMEX", 4_000)
    scenario.deposit(TUE, 4_000, "AMERICAN EXPRESS SETTLEMENT").deposit(TUE, 15_000)
    recon = run(scenario)
    assert match_of(recon, group="AMEX")["deposit_cents"] == 4_000
    assert match_of(recon, group="CARDS")["deposit_cents"] == 15_000
    assert kinds(recon) == []


def test_description_decides_between_amex_and_cards_when_amounts_cannot():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "AMEX", 10_000)
    # Both credits fit both groups' fee windows; only the descriptions tell them apart.
    scenario.deposit(TUE, 9_650, "AMEX EPAYMENT SETTLEMENT").deposit(TUE, 9_750, "BANKCARD DEPOSIT")
    recon = run(scenario, DAILY)
    assert match_of(recon, group="AMEX")["fee_cents"] == 350
    assert match_of(recon, group="CARDS")["fee_cents"] == 250


# ------------------------------------------------------------------------------ discount methods


@pytest.mark.parametrize(("deposit", "method", "status", "fee", "variance"), [
    (13_000, "exact_gross", "matched", 0, 0),
    (12_610, "net_of_daily_fees", "matched", 390, 0),
    (12_100, "net_of_daily_fees", "matched", 900, 0),  # exactly 6% of the 15,000 sales
    (12_099, "short_deposit", "short", 0, -1),  # one cent past the fee window
    (13_050, "over_deposit", "over", 0, 50),
])
def test_daily_discount_fee_window(deposit, method, status, fee, variance):
    recon = run(one_batch().deposit(TUE, deposit), DAILY)
    match = match_of(recon)
    assert (match["method"], match["status"], match["fee_cents"], match["variance_cents"]) == (
        method, status, fee, variance)
    variance_rows = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"]
    assert len(variance_rows) == (status != "matched")
    if status != "matched":
        assert variance_rows["severity"].iloc[0] == "error"
        assert "expected $130.00" in variance_rows["problem"].iloc[0]
        assert f"got ${deposit / 100:.2f}" in variance_rows["problem"].iloc[0]


@pytest.mark.parametrize(("deposit", "tolerance", "method", "status", "rounding", "variance"), [
    (13_000, 0, "exact_gross", "matched", 0, 0),
    (12_999, 0, "short_deposit", "short", 0, -1),
    (12_999, 5, "within_tolerance", "matched", 1, -1),
    (13_004, 5, "within_tolerance", "matched", -4, 4),
    (13_500, 0, "over_deposit", "over", 0, 500),
])
def test_monthly_discount_expects_the_gross(deposit, tolerance, method, status, rounding, variance):
    policy = MONTHLY.model_copy(update={"variance_tolerance_cents": tolerance})
    match = match_of(run(one_batch().deposit(TUE, deposit), policy))
    assert (match["method"], match["status"], match["fee_cents"], match["rounding_cents"],
            match["variance_cents"]) == (method, status, 0, rounding, variance)


def test_monthly_discount_does_not_treat_a_short_deposit_as_fees():
    recon = run(one_batch().deposit(TUE, 12_610), MONTHLY)
    assert match_of(recon)["status"] == "short"
    assert recon.expected["hold_reason"].iloc[0] == "deposit differs from the batch"


def test_a_deposit_far_from_any_batch_is_not_forced_onto_one():
    recon = run(one_batch().deposit(TUE, 9_000), MONTHLY, as_of=TUE)
    assert recon.matches.empty
    assert kinds(recon) == ["deposit_pending", "unmatched_bank_credit"]


# ------------------------------------------------------------------------ adjustments, over, short


@pytest.mark.parametrize("policy", [DAILY, MONTHLY], ids=["daily", "monthly"])
@pytest.mark.parametrize("description", ["BANKCARD DEP LESS CHARGEBACK CB-77", "MERCH DEP ADJUSTMENT", "CHGBK NET"])
def test_short_deposit_naming_a_chargeback_is_a_netted_adjustment(policy, description):
    recon = run(one_batch().deposit(TUE, 10_500, description), policy)
    match = match_of(recon)
    assert (match["method"], match["status"], match["adjustment_cents"], match["fee_cents"]) == (
        "netted_adjustment", "short", 2_500, 0)
    variance = recon.exceptions[recon.exceptions["kind"] == "deposit_variance"]
    assert list(variance["severity"]) == ["warning"]
    assert "booked to chargebacks" in variance["problem"].iloc[0]
    assert recon.expected["hold_reason"].iloc[0] == ""


def test_a_small_adjustment_credit_is_not_a_batch_with_most_of_it_charged_back():
    recon = run(one_batch().deposit(TUE, 3_000, "MERCHANT ADJUSTMENT CREDIT"), MONTHLY, as_of=TUE)
    assert recon.matches.empty
    assert kinds(recon) == ["deposit_pending", "unmatched_bank_credit"]
    assert recon.exceptions.set_index("kind").loc["unmatched_bank_credit", "severity"] == "warning"


def test_short_deposit_without_an_explanation_is_held():
    recon = run(one_batch().deposit(TUE, 12_000, "BANKCARD DEPOSIT"), MONTHLY)
    assert match_of(recon)["method"] == "short_deposit"
    assert recon.expected["hold_reason"].iloc[0] == "deposit differs from the batch"


def test_over_deposit_is_matched_and_reported():
    recon = run(one_batch().deposit(TUE, 13_700), MONTHLY)
    match = match_of(recon)
    assert (match["status"], match["variance_cents"]) == ("over", 700)
    problem = recon.exceptions.loc[recon.exceptions["kind"] == "deposit_variance", "problem"].iloc[0]
    assert "expected $130.00" in problem and "got $137.00" in problem and "$7.00 outside" in problem


def test_exact_deposit_beats_a_closer_dated_variance():
    scenario = one_batch().deposit(TUE, 13_100).deposit(WED, 13_000)
    match = match_of(run(scenario, MONTHLY))
    assert (match["posted_date"], match["method"]) == (WED, "exact_gross")


# ----------------------------------------------------------------------------- windows and dates


@pytest.mark.parametrize(("closed", "posted", "matched"), [
    (MON, MON, False),  # same day: not yet funded
    (MON, TUE, True),
    (MON, THU, True),  # third business day
    (MON, FRI, False),
    (FRI, NEXT_MON, True),
    (FRI, NEXT_WED, True),  # Mon, Tue, Wed: the weekend does not count
    (FRI, NEXT_THU, False),
    (SAT, NEXT_WED, True),  # a batch closed on Saturday: Mon, Tue, Wed
    (SAT, NEXT_THU, False),
])
def test_deposit_window_counts_business_days(closed, posted, matched):
    recon = run(one_batch(closed=closed).deposit(posted, 13_000), MONTHLY, as_of=NEXT_THU + timedelta(days=7))
    assert (len(recon.matches) == 1) is matched
    if not matched:
        assert kinds(recon) == ["deposit_missing", "unmatched_bank_credit"]


def test_holidays_extend_the_window():
    policy = MONTHLY.model_copy(update={"holidays": (NEXT_MON,)})
    recon = run(one_batch(closed=FRI).deposit(NEXT_THU, 13_000), policy)
    assert match_of(recon)["posted_date"] == NEXT_THU
    assert recon.expected["window_end"].iloc[0] == NEXT_THU


@pytest.mark.parametrize(("as_of", "kind", "severity"), [
    (TUE, "deposit_pending", "info"),
    (THU, "deposit_pending", "info"),  # the last day of the window
    (FRI, "deposit_missing", "error"),
])
def test_missing_deposit_after_the_window_pending_before(as_of, kind, severity):
    recon = run(one_batch(), MONTHLY, as_of=as_of)
    assert list(recon.exceptions["kind"]) == [kind]
    assert list(recon.exceptions["severity"]) == [severity]
    assert recon.expected["deposit_status"].iloc[0] == kind.removeprefix("deposit_")
    assert "expected $130.00" in recon.exceptions["problem"].iloc[0]


# ----------------------------------------------------------------------------- one-to-one matching


@pytest.mark.parametrize("reverse", [False, True])
def test_two_batches_with_equal_amounts_take_one_deposit_each(reverse):
    scenario = Scenario().batch(1, MON).batch(2, TUE)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 10_000)
    deposits = [(WED, "R-WED"), (TUE, "R-TUE")] if reverse else [(TUE, "R-TUE"), (WED, "R-WED")]
    for posted, reference in deposits:
        scenario.deposit(posted, 10_000, reference=reference)
    recon = run(scenario, MONTHLY)
    assert match_of(recon, batch=1)["bank_reference"] == "R-TUE"
    assert match_of(recon, batch=2)["bank_reference"] == "R-WED"
    assert kinds(recon) == []


def test_one_credit_never_serves_two_batches():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 10_000)
    scenario.deposit(TUE, 10_000)
    recon = run(scenario, MONTHLY, as_of=TUE)
    assert len(recon.matches) == 1 and match_of(recon, batch=1)["source_line"] == 1
    assert kinds(recon) == ["deposit_pending"]


def test_daily_fees_earlier_batch_takes_the_earlier_credit():
    scenario = Scenario().batch(1, MON).batch(2, TUE)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 10_000)
    scenario.deposit(TUE, 9_700).deposit(WED, 9_750)  # the Wednesday credit has the smaller fee
    recon = run(scenario, DAILY)
    assert match_of(recon, batch=1)["fee_cents"] == 300
    assert match_of(recon, batch=2)["fee_cents"] == 250
    assert kinds(recon) == []


def test_swappable_daily_deposits_are_flagged_ambiguous():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 10_000)
    scenario.deposit(TUE, 9_700).deposit(TUE, 9_750)
    recon = run(scenario, DAILY)
    assert len(recon.matches) == 2
    assert kinds(recon) == ["deposit_match_ambiguous"]
    assert recon.exceptions["severity"].iloc[0] == "warning"


def test_matching_is_deterministic_under_row_order():
    scenario = Scenario().batch(1, MON).batch(2, TUE).batch(3, TUE)
    for batch, amount in ((1, 10_000), (2, 10_000), (3, 7_000)):
        scenario.sale(batch, "VISA", amount)
    for posted, amount in ((TUE, 9_700), (WED, 9_750), (WED, 6_800), (THU, 9_990)):
        scenario.deposit(posted, amount)
    batches, transactions, receipts, deposits = scenario.frames()
    first = reconcile(batches, transactions, receipts, deposits, policy=DAILY, as_of=NEXT_MON)
    shuffled = reconcile(batches.iloc[::-1], transactions.sample(frac=1, random_state=3), receipts.iloc[::-1],
                         deposits.sample(frac=1, random_state=5), policy=DAILY, as_of=NEXT_MON)
    pd.testing.assert_frame_equal(first.matches, shuffled.matches)
    pd.testing.assert_frame_equal(first.exceptions, shuffled.exceptions)


# ---------------------------------------------------------------------------- posting and tie-out


def test_unposted_sales_hold_the_batch_and_name_the_transactions():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    written = scenario.sale(1, "VISA", 2_500, state="written")
    missing = scenario.sale(1, "MASTERCARD", 1_000, state=None)
    scenario.deposit(TUE, 13_500)
    recon = run(scenario)
    expected = recon.expected.iloc[0]
    assert expected["unposted_transaction_ids"] == f"{written}, {missing}"
    assert (expected["posted_count"], expected["posted_cents"]) == (1, 10_000)
    assert "sales not confirmed in Sage" in expected["hold_reason"]
    row = recon.exceptions[recon.exceptions["kind"] == "batch_transactions_not_posted"].iloc[0]
    assert row["severity"] == "error" and row["batch_number"] == 1
    assert f"{written} (written $25.00)" in row["problem"] and f"{missing} (no receipt $10.00)" in row["problem"]
    assert "parks them in gl_accounts.unposted_sales" in row["action"] and "waits" in row["action"]
    assert match_of(recon)["status"] == "matched"  # the deposit itself is fine
    sales = recon.sales.set_index("transaction_id")
    assert sales.loc[[written, missing], "state"].fillna("none").tolist() == ["written", "none"]
    assert sales.loc[missing, "brand"] == "MASTERCARD"


def test_receipt_for_a_different_amount_holds_the_batch():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000, receipt_cents=9_000)
    recon = run(scenario.deposit(TUE, 10_000))
    assert kinds(recon) == ["receipt_amount_mismatch"]
    assert "receipt amounts differ" in recon.expected["hold_reason"].iloc[0]


@pytest.mark.parametrize(("change", "fragment"), [
    ({"sales_cents": 10_100}, "summary says 1 sales $101.00"),
    ({"sales_count": 2}, "summary says 2 sales $100.00"),
    ({"refund_cents": 500, "refund_count": 1}, "1 refunds $5.00"),
])
def test_batch_totals_mismatch_by_brand(change, fragment):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "MASTERCARD", 5_000)
    scenario.change_summary(1, "VISA", **change)
    recon = run(scenario)
    batches, transactions, _, _ = scenario.frames()  # the tie-out alone, as the batch reader computes it
    pd.testing.assert_frame_equal(batch_tie_out(batches, transactions, policy=MONTHLY), recon.tie_out)
    tie = recon.tie_out.set_index("brand")
    assert not tie.loc["VISA", "ties"] and tie.loc["MASTERCARD", "ties"]
    rows = recon.exceptions[recon.exceptions["kind"] == "batch_totals_mismatch"]
    assert len(rows) == 1 and fragment in rows["problem"].iloc[0] and "VISA" in rows["problem"].iloc[0]
    assert "batch totals do not tie out" in recon.expected["hold_reason"].iloc[0]


def test_transactions_of_a_batch_without_summary():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 3_000)
    batches, transactions, receipts, deposits = scenario.frames()
    recon = reconcile(batches[batches["batch_number"] == 1], transactions, receipts, deposits, policy=MONTHLY,
                      as_of=MON)
    pd.testing.assert_frame_equal(batch_tie_out(batches[batches["batch_number"] == 1], transactions, policy=MONTHLY),
                                  recon.tie_out)
    row = recon.exceptions[recon.exceptions["kind"] == "batch_totals_mismatch"].iloc[0]
    assert row["batch_number"] == 2 and "no batch summary was loaded" in row["problem"]
    assert list(recon.expected["batch_number"]) == [1]


def test_settled_sale_in_no_batch():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    loose = scenario.sale(None, "VISA", 777)
    recon = run(scenario.deposit(TUE, 10_000))
    rows = recon.exceptions[recon.exceptions["kind"] == "transaction_in_no_batch"]
    assert list(rows["source_ids"]) == [f"transaction {loose}"]
    assert rows["severity"].iloc[0] == "warning" and "$7.77" in rows["problem"].iloc[0]


def test_voided_transactions_do_not_count_and_unknown_types_are_reported():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "VISA", 5_000, status="VOIDED", state=None)
    odd = scenario.sale(1, "VISA", 100, kind="STORE", state=None)
    batches, transactions, receipts, _ = scenario.frames()
    batches["sales_count"], batches["sales_cents"] = 1, 10_000  # PayTrace's summary leaves both out
    recon = reconcile(batches, transactions, receipts, scenario.deposit(TUE, 10_000).deposits_frame(),
                      policy=MONTHLY, as_of=NEXT_MON)
    assert kinds(recon) == ["unknown_transaction_type"]
    assert f"transaction {odd}" in recon.exceptions["source_ids"].iloc[0]
    assert match_of(recon)["method"] == "exact_gross"


# ------------------------------------------------------------------------------------ bank lines


@pytest.mark.parametrize(("description", "severity"), [
    ("CUSTOMER WIRE ACME CO", "info"),
    ("BANKCARD DEPOSIT 4455", "warning"),
    ("AMEX SETTLEMENT", "warning"),
])
def test_bank_credit_nobody_explains(description, severity):
    scenario = one_batch().deposit(TUE, 13_000).deposit(WED, 4_242, description)
    recon = run(scenario)
    rows = recon.exceptions[recon.exceptions["kind"] == "unmatched_bank_credit"]
    assert list(rows["severity"]) == [severity]
    assert "$42.42" in rows["problem"].iloc[0] and "stmt.bai:2" in rows["source_ids"].iloc[0]


def test_unmatched_credit_names_the_batch_it_could_have_been():
    scenario = one_batch(refund=0).deposit(TUE, 15_000).deposit(TUE, 14_600)
    recon = run(scenario, DAILY)
    row = recon.exceptions[recon.exceptions["kind"] == "unmatched_bank_credit"].iloc[0]
    assert "candidate for batch 1 CARDS" in row["problem"]


def test_bank_account_filter():
    scenario = one_batch().deposit(TUE, 13_000, account="SAVINGS").deposit(WED, 13_000, account="CHK-1")
    recon = run(scenario, MONTHLY.model_copy(update={"bank_account_id": "CHK-1"}))
    assert match_of(recon)["account_id"] == "CHK-1"
    assert kinds(recon) == []


def test_fee_and_chargeback_debits_are_classified_the_bank_own_fee_is_not():
    scenario = one_batch().deposit(TUE, 13_000)
    scenario.deposit(WED, -4_523, "MERCHANT BANKCARD DISCOUNT FEE")
    scenario.deposit(WED, -2_500, "CHARGEBACK CASE 8812")
    scenario.deposit(WED, -1_500, "ACCOUNT SERVICE FEE")  # the bank's own: not the processor's
    scenario.deposit(WED, -900, "MERCHANT BANKCARD ADJ")  # the processor's, but what is it?
    recon = run(scenario)
    items = recon.bank_items.set_index("description")
    assert items.loc["MERCHANT BANKCARD DISCOUNT FEE", "kind"] == "monthly_fees"
    assert items.loc["CHARGEBACK CASE 8812", "kind"] == "chargeback"
    assert "ACCOUNT SERVICE FEE" not in items.index
    assert kinds(recon) == ["unmatched_processor_debit"]


def test_fee_type_codes_classify_regardless_of_description():
    scenario = one_batch().deposit(TUE, 13_000).deposit(WED, -4_523, "ACH DEBIT 0091", type_code="698")
    recon = run(scenario, MONTHLY.model_copy(update={"fee_type_codes": ("698",)}))
    assert list(recon.bank_items["kind"]) == ["monthly_fees"]


def test_the_same_bank_line_in_two_statement_files_counts_once():
    scenario = one_batch()
    scenario.deposit(TUE, 13_000, reference="DEP1", source_file="intraday.bai")
    scenario.deposit(TUE, 13_000, reference="DEP1", source_file="prior-day.bai")
    recon = run(scenario)
    assert match_of(recon)["source_file"] == "intraday.bai"
    assert kinds(recon) == ["duplicate_bank_line"]
    assert recon.exceptions["severity"].iloc[0] == "info"


def test_identical_lines_within_one_file_are_two_transactions():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 10_000)
    scenario.deposit(TUE, 10_000, reference="SAME").deposit(TUE, 10_000, reference="SAME")
    recon = run(scenario)
    assert len(recon.matches) == 2 and kinds(recon) == []


# ----------------------------------------------------------------------------------- edge shapes


def test_refunds_equal_to_sales_need_no_deposit():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 5_000)
    scenario.refund(1, "VISA", 5_000)
    recon = run(scenario)
    match = match_of(recon)
    assert (match["method"], match["status"], match["source_file"]) == ("nothing_to_deposit", "matched", "")
    assert kinds(recon) == []


def test_refunds_above_sales_match_a_debit():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 2_000)
    scenario.refund(1, "VISA", 5_000)
    recon = run(scenario.deposit(TUE, -3_000, "BANKCARD SETTLEMENT"))
    assert (match_of(recon)["method"], match_of(recon)["deposit_cents"]) == ("exact_gross", -3_000)
    assert kinds(recon) == [] and recon.bank_items.empty


def test_exception_frame_contract():
    recon = run(one_batch(), MONTHLY, as_of=NEXT_MON)
    assert tuple(recon.exceptions.columns) == EXCEPTION_COLUMNS
    assert str(recon.exceptions["batch_number"].dtype) == "Int64"
    assert recon.counts()["deposits_missing"] == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vector_rounds_give_exactly_the_sequential_greedy(seed):
    rng = np.random.default_rng(seed)
    pairs = pd.DataFrame({"e": rng.integers(0, 60, 400), "b": rng.integers(0, 60, 400)}).drop_duplicates(
        ignore_index=True)
    sequential = _assign(pairs, vector_rounds=0)
    assert sequential["e"].is_unique and sequential["b"].is_unique
    for rounds in (1, 8, 1_000):
        pd.testing.assert_frame_equal(_assign(pairs, vector_rounds=rounds), sequential)
