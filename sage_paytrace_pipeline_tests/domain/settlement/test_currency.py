"""Settlement entries in Sage's currency: clearing at the receipts' amounts, the rest at the deposit
day's rate, the realized difference on its own line, every entry balanced; a missing rate holds."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.domain.currency import RateTable, convert_cents
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, journal_entries, reconcile
from sage_paytrace_pipeline.domain.settlement.currency import EXCHANGE_DIFFERENCE, journal_in_sage_currency
from sage_paytrace_pipeline_tests.domain.settlement.builders import MON, NEXT_MON, THU, TUE, WED, Scenario, gl_accounts

DAILY = SettlementPolicy(discount_method="daily")
RATES = {MON: Decimal("1.3000"), TUE: Decimal("1.3200"), WED: Decimal("1.3500"), THU: Decimal("1.3600")}
EXCHANGE = "7950-00"


def scenario() -> Scenario:
    scenario = Scenario().batch(1, MON).batch(2, TUE)
    for brand, cents in (("VISA", 12_345), ("VISA", 6_789), ("MASTERCARD", 4_321)):
        scenario.sale(1, brand, cents)
    scenario.sale(2, "VISA", 10_000)
    scenario.deposit(TUE, 22_781)  # batch 1: 23,455 gross, fee 674
    scenario.deposit(WED, 9_700)  # batch 2: 10,000 gross, fee 300
    return scenario


def converted(rates: dict, *, active: set[str] | None = None):
    built = scenario()
    recon = reconcile(*built.frames(), policy=DAILY, as_of=NEXT_MON)
    plan = journal_entries(recon, accounts=gl_accounts())
    closed = {row["transaction_id"]: built.closed[row["batch_number"]] for row in built.transactions}
    table = RateTable.from_rows(rates.items(), max_age_days=0, source="rates.csv")
    receipts = {tid: convert_cents(int(row["amount_cents"]), RATES[closed[tid]])
                for tid, row in ((row["transaction_id"], row) for row in built.transactions)}
    accounts = gl_accounts().active_accounts | {EXCHANGE} if active is None else active
    return recon, receipts, journal_in_sage_currency(plan, recon, receipt_cents=receipts, sale_dates=closed,
                                                     rates=table, exchange_account=EXCHANGE,
                                                     active_accounts=accounts)


def test_entries_balance_clearing_takes_the_receipts_and_the_difference_is_realized():
    _, receipts, plan = converted(RATES)
    assert len(plan.entries) == 2 and (plan.entries["debit_cents"] == plan.entries["credit_cents"]).all()
    lines = plan.lines
    clearing = lines[lines["role"] == "clearing"]
    assert clearing["credit_cents"].sum() == sum(receipts.values())  # clearing nets to zero against the receipts
    first = lines[lines["reference"].str.startswith("PT-B1-")]
    bank = first[first["role"] == "bank"].iloc[0]
    assert (bank["debit_cents"], bank["paytrace_debit_cents"], bank["fx_rate"]) == (
        convert_cents(22_781, RATES[TUE]), 22_781, "1.3200")
    difference = first[first["role"] == EXCHANGE_DIFFERENCE].iloc[0]
    assert difference["account"] == EXCHANGE and difference["credit_cents"] > 0  # the dollar rose: a gain
    signed = first["debit_cents"] - first["credit_cents"]
    assert signed.sum() == 0
    assert set(first.loc[first["role"] == "clearing", "fx_rate"]) == {"1.3000"}


def test_a_missing_deposit_day_rate_holds_the_entry_with_an_exception():
    rates = {day: rate for day, rate in RATES.items() if day != WED}
    _, _, plan = converted(rates)
    assert plan.entries["reference"].str.startswith("PT-B1-").all()
    held = plan.held[plan.held["reason"].str.contains("exchange rate missing")]
    assert held["batch_number"].tolist() == [2] and "2026-03-04" in held["reason"].iloc[0]
    problem = plan.exceptions[plan.exceptions["kind"] == "missing_exchange_rate"]
    assert problem["batch_number"].tolist() == [2] and "Add the rate of 2026-03-04" in problem["action"].iloc[0]


def test_an_inactive_exchange_account_holds_the_entry_rather_than_guessing():
    _, _, plan = converted(RATES, active=set(gl_accounts().active_accounts))
    assert plan.entries.empty or not plan.lines["role"].eq(EXCHANGE_DIFFERENCE).any()
    assert (plan.exceptions["kind"] == "gl_account_unmapped").any()
    assert pd.Series(plan.held["reason"]).str.contains("exchange_difference").any()
