"""Journal entries: balanced, clearing back to zero per brand, held or quarantined when they must be."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.ledger import JournalEntry
from sage_paytrace_pipeline.domain.settlement import (
    GlAccountMap,
    JournalPlan,
    RefundFlow,
    SettlementPolicy,
    deposit_reference,
    journal_entries,
    missing_deposits_booked,
    owed_by_processor,
    parked_sales,
    reconcile,
    short_deposits_booked,
    to_journal_entries,
)
from sage_paytrace_pipeline.sage100.writer import check_journal_balanced
from sage_paytrace_pipeline_tests.domain.settlement.builders import (
    CLEARING,
    MON,
    NEXT_MON,
    THU,
    TUE,
    WED,
    Scenario,
    gl_accounts,
)

DAILY = SettlementPolicy(discount_method="daily")
MONTHLY = SettlementPolicy(discount_method="monthly")


def plan_for(scenario: Scenario, policy: SettlementPolicy = MONTHLY, accounts: GlAccountMap | None = None,
             refund_flow: RefundFlow | None = None, short_owed: pd.DataFrame | None = None,
             **options) -> tuple[object, JournalPlan]:
    recon = reconcile(*scenario.frames(), policy=policy, as_of=NEXT_MON, refund_flow=refund_flow,
                      short_owed=short_owed)
    return recon, journal_entries(recon, accounts=accounts or gl_accounts(), **options)


def lines_by_account(plan: JournalPlan, reference: str) -> dict[str, int]:
    """Signed cents per account (debit positive) of one entry."""
    lines = plan.lines_of(reference)
    signed = lines["debit_cents"] - lines["credit_cents"]
    return signed.groupby(lines["account"]).sum().to_dict()


def busy_day() -> Scenario:
    """Two batches, four brands, refunds, AMEX separate, fee and chargeback debits."""
    scenario = Scenario().batch(1, MON).batch(2, TUE)
    for brand, cents in (("VISA", 12_345), ("VISA", 6_789), ("MASTERCARD", 4_321), ("DISCOVER", 2_500),
                         ("AMEX", 9_999)):
        scenario.sale(1, brand, cents)
    scenario.refund(1, "VISA", 1_000)
    scenario.refund(1, "AMEX", 999)
    for brand, cents in (("VISA", 3_000), ("MASTERCARD", 7_000), ("AMEX", 1_234)):
        scenario.sale(2, brand, cents)
    # batch 1 CARDS: 25,955 - 1,000 = 24,955; daily fee 749 -> 24,206
    scenario.deposit(TUE, 24_206)
    scenario.deposit(WED, 8_700, "AMEX SETTLEMENT")  # batch 1 AMEX: 9,000 gross, fee 300
    scenario.deposit(WED, 9_700)  # batch 2 CARDS: 10,000 gross, fee 300
    scenario.deposit(THU, 1_200, "AMEX SETTLEMENT")  # batch 2 AMEX: 1,234 gross, fee 34
    scenario.deposit(THU, -4_000, "MERCHANT BANKCARD FEES")
    scenario.deposit(THU, -2_000, "CHARGEBACK CASE 1")
    return scenario


# -------------------------------------------------------------------------------------- entries


def test_monthly_deposit_entry():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "MASTERCARD", 5_000)
    scenario.sale(1, "DISCOVER", 1_000)
    scenario.refund(1, "VISA", 2_000)
    _, plan = plan_for(scenario.deposit(TUE, 14_000))
    reference = "PT-B1-260302-CARDS"
    assert list(plan.entries["reference"]) == [reference]
    entry = plan.entries.iloc[0]
    assert (entry["kind"], entry["posting_date"], entry["debit_cents"], entry["credit_cents"]) == (
        "deposit", TUE, 16_000, 16_000)
    assert lines_by_account(plan, reference) == {"1010-00": 14_000, "4950-00": 2_000, "1060-00": -15_000,
                                                 "1061-00": -1_000}
    assert list(plan.lines_of(reference)["role"]) == ["bank", "refunds", "clearing", "clearing", "clearing"]


def test_daily_discount_entry_books_the_fee():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(TUE, 9_710), DAILY)
    assert lines_by_account(plan, "PT-B1-260302-CARDS") == {"1010-00": 9_710, "6150-00": 290, "1060-00": -10_000}


def test_tolerated_rounding_goes_to_merchant_fees_either_way():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 20_000)
    scenario.deposit(TUE, 9_998).deposit(TUE, 20_003)
    _, plan = plan_for(scenario, MONTHLY.model_copy(update={"variance_tolerance_cents": 5}))
    assert lines_by_account(plan, "PT-B1-260302-CARDS")["6150-00"] == 2
    assert lines_by_account(plan, "PT-B2-260302-CARDS")["6150-00"] == -3


@pytest.mark.parametrize("policy", [DAILY, MONTHLY], ids=["daily", "monthly"])
def test_netted_chargeback_gets_a_chargeback_line(policy):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(TUE, 7_000, "BANKCARD DEP NET OF CHARGEBACK"), policy)
    lines = plan.lines_of("PT-B1-260302-CARDS")
    assert lines_by_account(plan, "PT-B1-260302-CARDS") == {"1010-00": 7_000, "6160-00": 3_000, "1060-00": -10_000}
    assert "chargeback" in lines.loc[lines["role"] == "chargebacks", "comment"].iloc[0].lower()


def test_fee_and_chargeback_debits_get_their_own_entries_with_stable_references():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 10_000).deposit(WED, -4_523, "MERCHANT BANKCARD FEES").deposit(WED, -2_000, "CHARGEBACK 1")
    _, plan = plan_for(scenario)
    fees = plan.entries[plan.entries["kind"] == "monthly_fees"].iloc[0]
    chargeback = plan.entries[plan.entries["kind"] == "chargeback"].iloc[0]
    assert fees["reference"].startswith("PT-FEE-260304-") and chargeback["reference"].startswith("PT-CB-260304-")
    assert lines_by_account(plan, fees["reference"]) == {"6150-00": 4_523, "1010-00": -4_523}
    assert lines_by_account(plan, chargeback["reference"]) == {"6160-00": 2_000, "1010-00": -2_000}
    assert fees["posting_date"] == WED and pd.isna(fees["batch_number"])

    # The same statement delivered again under another file name gives the same keys.
    again = Scenario(transactions=scenario.transactions, closed=scenario.closed, receipts=scenario.receipts)
    for row in scenario.bank:
        again.deposit(row["posted_date"], row["amount_cents"], row["description"], reference=row["bank_reference"],
                      source_file="redelivered.bai")
    _, replay = plan_for(again)
    assert sorted(replay.entries["reference"]) == sorted(plan.entries["reference"])


def test_a_chargeback_given_back_clears_the_processor_receivable():
    """A won case's credit: the dispute flow's won entry debited the processor receivable (what the
    processor owes); the credit's entry credits it, so it nets to zero. Not an unmatched credit."""
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 10_000).deposit(THU, 2_000, "MERCH BNKCD CHGBK REVERSAL CASE 77")
    recon, plan = plan_for(scenario, accounts=gl_accounts(processor_receivable="1260-00"))
    given_back = plan.entries[plan.entries["kind"] == "chargeback_reversal"].iloc[0]
    assert given_back["reference"].startswith("PT-CR-260305-") and given_back["posting_date"] == THU
    assert lines_by_account(plan, given_back["reference"]) == {"1010-00": 2_000, "1260-00": -2_000}
    assert "unmatched_bank_credit" not in set(recon.exceptions["kind"])
    # Without a processor receivable the credit goes back where the chargeback debit went.
    _, plain = plan_for(scenario, accounts=gl_accounts(processor_receivable=None))
    reference = plain.entries.loc[plain.entries["kind"] == "chargeback_reversal", "reference"].iloc[0]
    assert lines_by_account(plain, reference) == {"1010-00": 2_000, "6160-00": -2_000}


def test_the_rest_of_a_short_deposit_arriving_later_clears_the_receivable_once():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 9_650)  # short by 3.50: booked to the processor receivable
    accounts = gl_accounts(processor_receivable="1260-00")
    _, plan = plan_for(scenario, accounts=accounts)
    owed_line = plan.lines_of("PT-B1-260302-CARDS").query("role == 'processor_receivable'")
    assert owed_line["comment"].tolist() == ["Short batch 1 CARDS"]
    booked = short_deposits_booked([*owed_line["comment"], "Short batch 9 X", "other"],
                                   [*owed_line["debit_cents"], 0, 350], [TUE, TUE, TUE])
    assert booked[["batch_number", "funding_group", "owed_cents"]].values.tolist() == [[1, "CARDS", 350]]

    recon, paid = plan_for(scenario.deposit(THU, 350, "MERCH BNKCD DEP ADJ"), accounts=accounts, short_owed=booked)
    entry = paid.entries[paid.entries["kind"] == "short_deposit_paid"].iloc[0]
    assert entry["reference"].startswith("PT-SP-260305-")
    assert lines_by_account(paid, entry["reference"]) == {"1010-00": 350, "1260-00": -350}
    assert "Short batch 1 CARDS paid" in paid.lines_of(entry["reference"])["comment"].tolist()
    assert "unmatched_bank_credit" not in set(recon.exceptions["kind"])
    # two credits that could be the rest: neither is assumed to be
    twice = Scenario(transactions=scenario.transactions, closed=scenario.closed, receipts=scenario.receipts)
    for row in [*scenario.bank, {"posted_date": THU, "amount_cents": 350, "description": "MERCH BNKCD DEP ADJ 2"}]:
        twice.deposit(row["posted_date"], row["amount_cents"], row["description"])
    recon_twice, unpaired = plan_for(twice, accounts=accounts, short_owed=booked)
    assert "short_deposit_paid" not in set(unpaired.entries["kind"])
    assert (recon_twice.exceptions["kind"] == "unmatched_bank_credit").sum() == 2


def test_refunds_equal_to_sales_clear_without_a_bank_line():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 5_000)
    scenario.refund(1, "VISA", 5_000)
    _, plan = plan_for(scenario)
    entry = plan.entries.iloc[0]
    assert entry["posting_date"] == MON
    assert lines_by_account(plan, entry["reference"]) == {"4950-00": 5_000, "1060-00": -5_000}


def test_refunds_above_sales_credit_the_bank():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 2_000)
    scenario.refund(1, "VISA", 5_000)
    _, plan = plan_for(scenario.deposit(TUE, -3_000, "BANKCARD SETTLEMENT"))
    assert lines_by_account(plan, "PT-B1-260302-CARDS") == {"1010-00": -3_000, "4950-00": 5_000, "1060-00": -2_000}


@pytest.mark.parametrize(("rule", "posting_date"), [("deposit_date", WED), ("closed_date", MON)])
def test_posting_date_rule(rule, posting_date):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(WED, 10_000), posting_date_rule=rule)
    assert plan.entries["posting_date"].iloc[0] == posting_date


def test_unknown_posting_date_rule_is_refused():
    recon = reconcile(*Scenario().frames(), policy=MONTHLY, as_of=NEXT_MON)
    with pytest.raises(ValueError, match="posting_date_rule"):
        journal_entries(recon, accounts=gl_accounts(), posting_date_rule="today")


def test_reference_format_and_length():
    assert deposit_reference(571, MON, "CARDS") == "PT-B571-260302-CARDS"
    assert len(deposit_reference(9_999_999_999, MON, "CARDS")) <= 30


# ------------------------------------------------------------------------------ held, quarantined


def test_unposted_sale_holds_only_its_batch():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 7_000, state="written")
    scenario.deposit(TUE, 10_000).deposit(TUE, 7_000)
    recon, plan = plan_for(scenario)
    assert list(plan.entries["reference"]) == ["PT-B1-260302-CARDS"]
    held = plan.held.set_index("reference")
    assert "sales not confirmed in Sage" in held.loc["PT-B2-260302-CARDS", "reason"]
    assert plan.exceptions.empty  # the reconciliation's exception already says why
    assert "batch_transactions_not_posted" in set(recon.exceptions["kind"])


SUSPENSE = "2350-00"


def batch_with_unposted_sales() -> tuple[Scenario, int, int]:
    """Batch 1: a confirmed VISA sale, a VISA sale still being written, a MASTERCARD sale with no
    receipt (an open receivable exception); deposited gross."""
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    written = scenario.sale(1, "VISA", 2_500, state="written")
    missing = scenario.sale(1, "MASTERCARD", 1_000, state=None)
    scenario.deposit(TUE, 13_500)
    return scenario, written, missing


def gl_detail(plans: list[JournalPlan], receipts: pd.DataFrame) -> pd.DataFrame:
    """What Sage's GL holds after posting each plan's entries once (by reference) and the receipts
    (Dr the brand's clearing account): account, signed cents (debit positive), comment."""
    posted, rows = set(), []
    for plan in plans:
        for reference in plan.entries["reference"]:
            if reference not in posted:
                posted.add(reference)
                lines = plan.lines_of(reference)
                rows += list(zip(lines["account"], lines["debit_cents"] - lines["credit_cents"], lines["comment"]))
    rows += [(CLEARING[brand], cents, "receipt")
             for brand, cents in zip(receipts["card_brand"], receipts["amount_cents"])]
    return pd.DataFrame(rows, columns=["account", "cents", "comment"])


def confirmed_receipts(scenario: Scenario) -> pd.DataFrame:
    receipts = scenario.receipts_frame()
    receipts = receipts[receipts["state"] == "confirmed"]
    return receipts.merge(scenario.transactions_frame()[["transaction_id", "card_brand"]], on="transaction_id")


def test_with_an_unposted_sales_account_the_deposit_entry_parks_the_sales_not_in_sage():
    scenario, written, missing = batch_with_unposted_sales()
    recon, plan = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE))

    assert plan.held.empty and plan.exceptions.empty
    assert "batch_transactions_not_posted" in set(recon.exceptions["kind"])  # still reported
    reference = "PT-B1-260302-CARDS"
    assert lines_by_account(plan, reference) == {"1010-00": 13_500, "1060-00": -10_000, SUSPENSE: -3_500}
    parked = plan.lines_of(reference).query("role == 'unposted_sales'")
    assert parked["comment"].tolist() == [f"Not yet in AR: sale {missing}", f"Not yet in AR: sale {written}"]
    assert parked["brand"].tolist() == ["MASTERCARD", "VISA"]
    # Clearing holds only what receipts debited: it nets to zero for the batch right away.
    detail = gl_detail([plan], confirmed_receipts(scenario))
    assert detail.groupby("account")["cents"].sum().to_dict() == {"1010-00": 13_500, "1060-00": 0, SUSPENSE: -3_500}


def test_a_parked_sale_moves_to_clearing_once_its_receipt_is_in_sage():
    scenario, written, missing = batch_with_unposted_sales()
    _, first = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE))
    deposit_lines = first.lines_of("PT-B1-260302-CARDS")
    parked = parked_sales([*deposit_lines["comment"], "Now in AR: sale 1", "other"],
                          [*deposit_lines["credit_cents"], 500, 700])
    assert parked.values.tolist() == [[written, 2_500], [missing, 1_000]]

    next(row for row in scenario.receipts if row["transaction_id"] == written)["state"] = "confirmed"
    _, second = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE), parked=parked)

    reclass = second.entries.set_index("reference").loc[f"PT-S{written}"]
    assert (reclass["kind"], reclass["batch_number"], reclass["posting_date"]) == (
        "unposted_sale_reclass", 1, NEXT_MON)
    assert lines_by_account(second, f"PT-S{written}") == {SUSPENSE: 2_500, "1060-00": -2_500}
    assert f"PT-S{missing}" not in set(second.entries["reference"])  # still not in Sage: stays parked
    detail = gl_detail([first, second], confirmed_receipts(scenario))
    assert detail.groupby("account")["cents"].sum().to_dict() == {"1010-00": 13_500, "1060-00": 0, SUSPENSE: -1_000}

    scenario.receipts.append({"transaction_id": missing, "amount_cents": 1_000, "payment_type": "MAST",
                              "state": "confirmed"})
    _, third = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE), parked=parked)
    assert {f"PT-S{written}", f"PT-S{missing}"} <= set(third.entries["reference"])  # the same entries, again
    detail = gl_detail([first, second, third], confirmed_receipts(scenario))
    assert detail.groupby("account")["cents"].sum().to_dict() == {"1010-00": 13_500, "1060-00": 0, SUSPENSE: 0}


def test_an_inactive_unposted_sales_account_quarantines_the_entry():
    scenario, _, _ = batch_with_unposted_sales()
    accounts = gl_accounts(unposted_sales=SUSPENSE, active_accounts={"1010-00", "1060-00", "6150-00"})
    _, plan = plan_for(scenario, accounts=accounts)
    assert plan.entries.empty
    assert "gl_accounts.unposted_sales" in plan.exceptions.iloc[0]["action"]



@pytest.mark.parametrize(("first_open", "expected"), [(None, WED), (THU, THU)])
def test_a_reclass_is_dated_its_receipts_posting_date_or_the_first_open_day(first_open, expected):
    scenario, written, _ = batch_with_unposted_sales()
    _, first = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE))
    deposit_lines = first.lines_of("PT-B1-260302-CARDS")
    parked = parked_sales(deposit_lines["comment"], deposit_lines["credit_cents"])
    next(row for row in scenario.receipts if row["transaction_id"] == written)["state"] = "confirmed"
    policy = SettlementPolicy(discount_method="monthly", first_open_date=first_open)
    receipt_dates = pd.DataFrame({"transaction_id": [written], "posting_date": [WED]})
    _, second = plan_for(scenario, policy=policy, accounts=gl_accounts(unposted_sales=SUSPENSE), parked=parked,
                         receipt_dates=receipt_dates)
    # WED: the receipt's posting date, not the run's as_of (NEXT_MON); a closed period moves it to the open one
    assert second.entries.set_index("reference").loc[f"PT-S{written}", "posting_date"] == expected


@pytest.mark.parametrize(("deposit", "reason"), [
    (10_700, "deposit differs from the batch"),  # over
    (9_500, "deposit differs from the batch"),  # short, no explanation
    (None, "no deposit matched"),
])
def test_without_a_processor_receivable_deposits_that_differ_or_are_missing_are_held(deposit, reason):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    if deposit is not None:
        scenario.deposit(TUE, deposit)
    _, plan = plan_for(scenario)
    assert plan.entries.empty
    assert plan.held["reason"].iloc[0] == reason


RECEIVABLE = "1260-00"


def test_a_short_deposit_books_the_cash_that_arrived_and_the_difference_as_owed_by_the_processor():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 6_000)
    scenario.sale(1, "DISCOVER", 4_000)
    recon, plan = plan_for(scenario.deposit(TUE, 9_500), accounts=gl_accounts(processor_receivable=RECEIVABLE))
    assert plan.held.empty and plan.exceptions.empty
    assert list(plan.entries["reference"]) == ["PT-B1-260302-CARDS"]
    entry = plan.entries.iloc[0]
    assert entry["debit_cents"] == entry["credit_cents"] == 10_000
    assert entry["posting_date"] == TUE
    assert lines_by_account(plan, "PT-B1-260302-CARDS") == {"1010-00": 9_500, RECEIVABLE: 500,
                                                             "1060-00": -6_000, "1061-00": -4_000}
    [document] = to_journal_entries(plan)
    check_journal_balanced(document)
    # the reconciliation still reports the variance; the action says what is booked and how to clear it
    [variance] = owed_by_processor(recon.exceptions, plan).query("kind == 'deposit_variance'").to_dict("records")
    assert variance["severity"] == "error"
    assert "$5.00 is in the processor receivable (entry PT-B1-260302-CARDS)" in variance["action"]
    assert "held" not in variance["action"]


def test_an_over_deposit_is_still_held_with_a_processor_receivable():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(TUE, 10_700), accounts=gl_accounts(processor_receivable=RECEIVABLE))
    assert plan.entries.empty and plan.held["reason"].tolist() == ["deposit differs from the batch"]


def test_a_deposit_missing_after_its_window_moves_the_batch_from_clearing_to_the_processor_receivable():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 7_000)
    scenario.refund(1, "VISA", 1_000)
    accounts = gl_accounts(processor_receivable=RECEIVABLE)
    waiting = reconcile(*scenario.frames(), policy=MONTHLY, as_of=TUE)
    assert waiting.expected["deposit_status"].tolist() == ["pending"]
    assert journal_entries(waiting, accounts=accounts).entries.empty  # within its window: nothing booked yet

    recon, plan = plan_for(scenario, accounts=accounts)
    assert recon.expected["deposit_status"].tolist() == ["missing"]
    assert plan.held.empty
    entry = plan.entries.iloc[0]
    assert (entry["reference"], entry["kind"], entry["posting_date"]) == ("PT-M1-260302-CARDS", "missing_deposit", MON)
    assert "no deposit" in entry["source_ids"]
    assert lines_by_account(plan, "PT-M1-260302-CARDS") == {RECEIVABLE: 6_000, "4950-00": 1_000, "1060-00": -7_000}
    [missing] = owed_by_processor(recon.exceptions, plan).query("kind == 'deposit_missing'").to_dict("records")
    assert "$60.00 is in the processor receivable" in missing["action"]

    # The statement with the deposit is loaded late: its entry clears the receivable, not clearing again.
    lines = plan.lines_of("PT-M1-260302-CARDS")
    booked = missing_deposits_booked([*lines["comment"], "Missing batch x", "other"], [*lines["debit_cents"], 5, 5])
    assert booked.values.tolist() == [[1, "CARDS"]]
    late_recon, late = plan_for(scenario.deposit(TUE, 6_000), accounts=accounts, missing_booked=booked)
    assert late_recon.expected["deposit_status"].tolist() == ["matched"]
    assert list(late.entries["reference"]) == ["PT-B1-260302-CARDS"]
    assert lines_by_account(late, "PT-B1-260302-CARDS") == {"1010-00": 6_000, RECEIVABLE: -6_000}


def test_an_inactive_processor_receivable_quarantines_the_short_deposit_entry():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    accounts = gl_accounts(processor_receivable=RECEIVABLE, active_accounts={"1010-00", "1060-00", "6150-00"})
    _, plan = plan_for(scenario.deposit(TUE, 9_500), accounts=accounts)
    assert plan.entries.empty
    assert "gl_accounts.processor_receivable" in plan.exceptions.iloc[0]["action"]


def test_batch_totals_mismatch_holds_the_entry():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.change_summary(1, "VISA", sales_cents=10_100)
    _, plan = plan_for(scenario.deposit(TUE, 10_100))
    assert plan.entries.empty and "tie out" in plan.held["reason"].iloc[0]


B1, B2 = "PT-B1-260302-CARDS", "PT-B2-260302-CARDS"


@pytest.mark.parametrize(("role", "override", "key", "quarantined"), [
    ("bank", {"bank": None}, "gl_accounts.bank", {B1, B2}),
    ("merchant_fees", {"merchant_fees": ""}, "gl_accounts.merchant_fees", {B2}),
    ("refunds", {"refunds": None}, "gl_accounts.refunds", {B1}),
    ("chargebacks", {"chargebacks": None}, "gl_accounts.chargebacks", {B1}),
    ("clearing", {"clearing_by_brand": {k: v for k, v in CLEARING.items() if k != "MASTERCARD"}},
     "gl_accounts.card_clearing", {B1}),
])
def test_unmapped_account_quarantines_the_entries_that_need_it(role, override, key, quarantined):
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "MASTERCARD", 5_000)
    scenario.refund(1, "VISA", 1_000)
    scenario.sale(2, "VISA", 3_000)
    scenario.deposit(TUE, 10_000, "BANKCARD DEP LESS CHARGEBACK")  # batch 1: 14,000 expected, 4,000 netted
    scenario.deposit(TUE, 2_910)  # batch 2: daily fee 90
    # batch 1 needs bank, chargebacks, refunds, VISA and MASTERCARD clearing; batch 2 bank, fees, VISA clearing.
    _, plan = plan_for(scenario, DAILY, accounts=gl_accounts(**override))
    rows = plan.exceptions
    assert set(rows["kind"]) == {"gl_account_unmapped"} and set(rows["severity"]) == {"error"}
    assert all(key in action for action in rows["action"])
    assert all(role in source for source in rows["source_ids"])
    assert set(rows["source_ids"].str.split(" ").str[0]) == quarantined
    assert set(plan.entries["reference"]) == {B1, B2} - quarantined
    held = plan.held.set_index("reference")["reason"]
    assert set(held.index) == quarantined and all("GL account unmapped" in reason for reason in held)
    if role == "clearing":
        assert "MASTERCARD" in rows["problem"].iloc[0]


def test_inactive_account_quarantines_and_says_so():
    accounts = gl_accounts(active_accounts={"1010-00", "4950-00", "6160-00", "1060-00", "1061-00", "1065-00"})
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(TUE, 9_700), DAILY, accounts=accounts)
    assert plan.entries.empty
    row = plan.exceptions.iloc[0]
    assert "6150-00 is not an active account" in row["problem"]
    assert "gl_accounts.merchant_fees" in row["action"] and row["batch_number"] == 1


def test_accounts_are_compared_as_sage_stores_them():
    accounts = GlAccountMap(bank=" 1010-00 ", merchant_fees="6150-00", refunds="4950-00", chargebacks="6160-00",
                            clearing_by_brand={"visa": "1060-00"}, active_accounts=["1010-00", "6150-00", "1060-00"])
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    _, plan = plan_for(scenario.deposit(TUE, 10_000), accounts=accounts)
    assert len(plan.entries) == 1 and plan.exceptions.empty


# ------------------------------------------------------------------------------ refund flow

LAST_FRI = date(2026, 2, 27)  # before the refund flow's start date (MON)


def card_refunds(scenario: Scenario, recorded: set[int]) -> pd.DataFrame:
    """The GL of the recorded refunds' card refunds in Sage: Cr the brand's clearing account."""
    refunds = scenario.transactions_frame()
    refunds = refunds[refunds["transaction_id"].isin(recorded)]
    return pd.DataFrame({"account": refunds["card_brand"].map(CLEARING), "cents": -refunds["amount_cents"],
                         "comment": "card refund"})


def clearing_balances(plans: list[JournalPlan], scenario: Scenario, recorded: set[int]) -> dict[str, int]:
    """Each clearing account after the receipts, the card refunds and each entry posted once."""
    detail = pd.concat([gl_detail(plans, confirmed_receipts(scenario)), card_refunds(scenario, recorded)])
    detail = detail[detail["account"].isin(set(CLEARING.values()))]
    return {account: int(cents) for account, cents in detail.groupby("account")["cents"].sum().items()}


def test_refunds_recorded_in_sage_debit_clearing_instead_of_the_refunds_account():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(1, "DISCOVER", 5_000)
    visa = scenario.refund(1, "VISA", 2_000)
    discover = scenario.refund(1, "DISCOVER", 500)
    scenario.deposit(TUE, 12_500)

    recon, plan = plan_for(scenario, refund_flow=RefundFlow(recorded=frozenset({visa, discover})))

    reference = "PT-B1-260302-CARDS"
    assert plan.held.empty and plan.exceptions.empty and recon.exceptions.empty
    assert recon.refunds["treatment"].tolist() == ["through_clearing", "through_clearing"]
    assert lines_by_account(plan, reference) == {"1010-00": 12_500, "1060-00": -8_000, "1061-00": -4_500}
    lines = plan.lines_of(reference)
    assert "refunds" not in set(lines["role"])  # nothing expensed: the card refunds already booked them
    refund_lines = lines[(lines["role"] == "clearing") & (lines["debit_cents"] > 0)]
    assert refund_lines[["brand", "account", "debit_cents", "comment"]].values.tolist() == [
        ["DISCOVER", "1061-00", 500, "DISCOVER refunds batch 1"], ["VISA", "1060-00", 2_000, "VISA refunds batch 1"]]
    # Sales receipts Dr clearing, card refunds Cr clearing, the entry the rest: every clearing account nets to zero.
    assert clearing_balances([plan], scenario, {visa, discover}) == {"1060-00": 0, "1061-00": 0}
    for document in to_journal_entries(plan):
        check_journal_balanced(document)


def test_refunds_created_before_the_start_date_keep_being_expensed():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    old = scenario.refund(1, "VISA", 1_000, created=LAST_FRI)
    recorded = scenario.refund(1, "VISA", 2_000, created=MON)
    scenario.deposit(TUE, 7_000)

    recon, plan = plan_for(scenario, refund_flow=RefundFlow(recorded=frozenset({recorded}), start_date=MON))

    assert recon.refunds.set_index("transaction_id")["treatment"].to_dict() == {
        old: "expensed", recorded: "through_clearing"}
    assert lines_by_account(plan, "PT-B1-260302-CARDS") == {"1010-00": 7_000, "4950-00": 1_000, "1060-00": -8_000}
    assert clearing_balances([plan], scenario, {recorded}) == {"1060-00": 0}


def test_with_every_refund_before_the_start_date_the_entry_is_the_one_without_the_flow():
    scenario = busy_day()
    for tx in scenario.transactions:
        if tx["transaction_type"] == "REFUND":
            tx["created_date"] = LAST_FRI
    _, without = plan_for(scenario, DAILY)
    _, before_start = plan_for(scenario, DAILY, refund_flow=RefundFlow(start_date=MON))
    pd.testing.assert_frame_equal(before_start.entries, without.entries)
    pd.testing.assert_frame_equal(before_start.lines, without.lines)


def test_a_refund_not_recorded_in_sage_holds_its_batch_until_it_is():
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    waiting = scenario.refund(1, "VISA", 2_000, created=MON)
    scenario.sale(2, "MASTERCARD", 3_000)
    scenario.deposit(TUE, 8_000).deposit(TUE, 3_000)
    flow = RefundFlow(start_date=MON)

    recon, plan = plan_for(scenario, refund_flow=flow)

    assert list(plan.entries["reference"]) == ["PT-B2-260302-CARDS"]  # the other batch is not held
    held = plan.held.set_index("reference")
    assert held.loc["PT-B1-260302-CARDS", "reason"] == "refunds not recorded in Sage"
    problem = recon.exceptions[recon.exceptions["kind"] == "batch_refunds_not_in_sage"]
    assert problem[["severity", "batch_number", "source_ids"]].values.tolist() == [
        ["warning", 1, f"transaction {waiting}"]]
    assert (f"refund {waiting} (VISA $20.00) is not recorded in Sage yet; the batch's deposit entry posts once the "
            "refunds flow records it") in problem["problem"].iloc[0]
    assert "nothing to do while the refunds flow runs" in problem["action"].iloc[0]

    # A later run, once the refunds flow has recorded it: the entry posts, the refund through clearing.
    later_recon, later = plan_for(scenario, refund_flow=RefundFlow(recorded=frozenset({waiting}), start_date=MON))
    assert later_recon.exceptions.empty and later.held.empty
    assert lines_by_account(later, "PT-B1-260302-CARDS") == {"1010-00": 8_000, "1060-00": -8_000}
    assert clearing_balances([plan, later], scenario, {waiting}) == {"1060-00": 0}


def test_an_unrecorded_refund_holds_the_entry_even_with_an_unposted_sales_account():
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000, state=None)  # would be parked
    scenario.refund(1, "VISA", 1_000)  # no created date: not known to be before the start date
    scenario.deposit(TUE, 9_000)
    recon, plan = plan_for(scenario, accounts=gl_accounts(unposted_sales=SUSPENSE),
                           refund_flow=RefundFlow(start_date=MON))
    assert plan.entries.empty
    assert plan.held["reason"].tolist() == ["sales not confirmed in Sage; refunds not recorded in Sage"]
    assert {"batch_transactions_not_posted", "batch_refunds_not_in_sage"} <= set(recon.exceptions["kind"])


def test_without_the_refund_flow_every_refund_is_expensed():
    scenario = busy_day()
    recon, plan = plan_for(scenario, DAILY)
    assert set(recon.refunds["treatment"]) == {"expensed"}
    refund_lines = plan.lines[plan.lines["role"] == "refunds"]
    assert refund_lines["debit_cents"].sum() == 1_999
    assert not ((plan.lines["role"] == "clearing") & (plan.lines["debit_cents"] > 0)).any()


# ------------------------------------------------------------------------------- the invariants


@pytest.mark.parametrize("policy", [DAILY, MONTHLY.model_copy(update={"variance_tolerance_cents": 1_000})],
                         ids=["daily", "monthly"])
def test_every_entry_balances_and_clearing_nets_to_zero_per_brand(policy):
    scenario = busy_day()
    if policy.discount_method == "monthly":  # the same day funded gross, fees within the wide tolerance
        for row in scenario.bank:
            row["amount_cents"] = {24_206: 24_955, 8_700: 9_000, 9_700: 10_000, 1_200: 1_234}.get(
                row["amount_cents"], row["amount_cents"])
    _, plan = plan_for(scenario, policy)
    assert plan.exceptions.empty and plan.held.empty, (plan.exceptions, plan.held)
    assert len(plan.entries[plan.entries["kind"] == "deposit"]) == 4

    documents = to_journal_entries(plan)
    assert [document.reference for document in documents] == list(plan.entries["reference"])
    for document in documents:
        assert isinstance(document, JournalEntry)
        check_journal_balanced(document)

    # Receipts debited each brand's clearing account; the deposit entries credit exactly that back.
    receipts = scenario.receipts_frame().merge(scenario.transactions_frame(), on="transaction_id",
                                               suffixes=("", "_tx"))
    receipt_debits = receipts.groupby(receipts["card_brand"].map(CLEARING))["amount_cents"].sum()
    clearing_lines = plan.lines[plan.lines["role"] == "clearing"]
    clearing_credits = (clearing_lines["credit_cents"] - clearing_lines["debit_cents"]).groupby(
        clearing_lines["account"]).sum()
    pd.testing.assert_series_equal(receipt_debits.sort_index(), clearing_credits.sort_index(), check_names=False)
    per_brand = clearing_lines.groupby("brand")["credit_cents"].sum()
    assert per_brand.to_dict() == receipts.groupby("card_brand")["amount_cents"].sum().to_dict()

    # And the bank account moves by exactly the statement's card lines.
    bank = plan.lines[plan.lines["account"] == "1010-00"]
    deposited = int(scenario.deposits_frame()["amount_cents"].sum())
    assert int((bank["debit_cents"] - bank["credit_cents"]).sum()) == deposited


def test_documents_carry_decimal_amounts_and_sage_limits():
    scenario = busy_day()
    _, plan = plan_for(scenario, DAILY)
    for document in to_journal_entries(plan):
        assert len(document.reference) <= 30 and len(document.comment) <= 30
        for line in document.lines:
            assert isinstance(line.debit, Decimal) and line.debit.as_tuple().exponent == -2
            assert (line.debit > 0) != (line.credit > 0)
    first = to_journal_entries(plan)[0]
    entry_lines = plan.lines_of(first.reference)
    assert [line.debit for line in first.lines] == [Decimal(c) / 100 for c in entry_lines["debit_cents"]]


def test_plan_is_the_same_on_a_rerun():
    _, plan_a = plan_for(busy_day(), DAILY)
    _, plan_b = plan_for(busy_day(), DAILY)
    pd.testing.assert_frame_equal(plan_a.entries, plan_b.entries)
    pd.testing.assert_frame_equal(plan_a.lines, plan_b.lines)


def test_empty_everything():
    recon, plan = plan_for(Scenario())
    assert recon.expected.empty and recon.matches.empty and recon.exceptions.empty and recon.tie_out.empty
    assert plan.entries.empty and plan.lines.empty and to_journal_entries(plan) == []
