"""Short and missing deposits posted to the demo company: the cash that arrived in the bank, the rest in
the processor receivable (gl_accounts.processor_receivable), each entry once however often it runs."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.config import GlAccounts
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, journal_entries, reconcile
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.day import post_journal_entries
from sage_paytrace_pipeline_tests.domain.settlement.builders import MON, NEXT_MON, TUE, Scenario, gl_accounts
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)

RECEIVABLE = GlAccounts().processor_receivable


def gl_journal_lines(scenario: Scenario, reader: Sage100Reader) -> pd.DataFrame:
    """The day's journal lines as the settlement asset hands them to `post_journal_entries`."""
    recon = reconcile(*scenario.frames(), policy=SettlementPolicy(discount_method="monthly"), as_of=NEXT_MON)
    active = {account.account for account in reader.gl_accounts() if account.active}
    accounts = gl_accounts(processor_receivable=RECEIVABLE, clearing_by_brand={"VISA": "1061-00"},
                           active_accounts=active)
    plan = journal_entries(recon, accounts=accounts)
    assert plan.held.empty and plan.exceptions.empty, (plan.held, plan.exceptions)
    return plan.lines.merge(plan.entries.drop(columns=["debit_cents", "credit_cents"]), on="reference", how="left")


def balances(reader: Sage100Reader, accounts: list[str]) -> dict[str, Decimal]:
    keys = {account.account: account.account_key for account in reader.gl_accounts()}
    result = {}
    for account in accounts:
        rows = reader.rows_where("GL_DetailPosting", "AccountKey", keys[account], ["DebitAmount", "CreditAmount"])
        result[account] = sum((Decimal(str(row["DebitAmount"])) - Decimal(str(row["CreditAmount"])) for row in rows),
                              Decimal("0"))
    return result


def test_short_and_missing_deposits_post_balanced_once_with_the_rest_owed_by_the_processor(company, writer):  # noqa: F811
    reader = Sage100Reader.for_sqlite(company)
    assert RECEIVABLE in {account.account for account in reader.gl_accounts() if account.active}
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 4_000)
    scenario.deposit(TUE, 9_650)  # batch 1 short by 3.50; batch 2 never deposited
    lines = gl_journal_lines(scenario, reader)
    before = balances(reader, ["1010-00", "1061-00", RECEIVABLE])

    first = post_journal_entries(writer, lines)
    assert sorted(first["reference"]) == ["PT-B1-260302-CARDS", "PT-M2-260302-CARDS"] and first["created"].all()
    after = balances(reader, ["1010-00", "1061-00", RECEIVABLE])
    moved = {account: after[account] - before[account] for account in after}
    assert moved == {"1010-00": Decimal("96.50"), "1061-00": Decimal("-140.00"), RECEIVABLE: Decimal("43.50")}

    again = post_journal_entries(writer, lines)  # a re-run: the same references, nothing new
    assert not again["created"].any()
    assert balances(reader, ["1010-00", "1061-00", RECEIVABLE]) == after
