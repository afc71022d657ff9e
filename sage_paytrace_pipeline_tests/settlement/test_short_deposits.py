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


def test_late_deposits_and_a_won_chargebacks_credit_clear_the_receivable_to_the_cent(company, writer):  # noqa: F811
    """What the processor owes goes back to zero by itself when the money arrives: the missing deposit of
    batch 2 shows up late (its entry credits the receivable, read back from Sage which groups were booked
    missing), the rest of batch 1's short deposit arrives as its own credit (read back from Sage which
    short deposits were booked), and the credit giving back a won chargeback clears what the dispute flow's
    won entry owed."""
    from sage_paytrace_pipeline.disputes.posting import journal_entries as dispute_entries
    from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings
    from sage_paytrace_pipeline.settlement.ledger import missing_in_sage, short_owed_in_sage
    from sage_paytrace_pipeline_tests.domain.settlement.builders import THU, WED

    reader = Sage100Reader.for_sqlite(company)
    active = {account.account for account in reader.gl_accounts() if account.active}
    accounts = gl_accounts(processor_receivable=RECEIVABLE, clearing_by_brand={"VISA": "1061-00"},
                           active_accounts=active)
    watched = ["1010-00", "1061-00", RECEIVABLE, "6160-00", "1250-00"]
    before = balances(reader, watched)
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 4_000)
    scenario.deposit(TUE, 9_650)  # batch 1 short by 3.50; batch 2 not deposited (yet)
    post_journal_entries(writer, gl_journal_lines(scenario, reader))
    owed = balances(reader, [RECEIVABLE])[RECEIVABLE] - before[RECEIVABLE]
    assert owed == Decimal("43.50")

    # Case C7 (20.00) won on Wednesday: the processor owes it back until its credit arrives.
    won = pd.DataFrame({"case_number": ["C7"], "stage": ["won"], "activity_date": [WED], "taken_cents": [0],
                        "returned_cents": [2_000], "written_off_cents": [0], "fee_cents": [None]})
    for entry in dispute_entries(plan_postings(won, DisputeAccounts(settled="6160-00", chargeback="1250-00",
                                                                    fee="6150-00", owed=RECEIVABLE))):
        writer.post_journal_entry(entry)
    # The late statement: batch 2's deposit, the rest of batch 1 and the chargeback's credit.
    scenario.deposit(THU, 4_000).deposit(THU, 2_000, "MERCH BNKCD CHGBK REVERSAL C7")
    scenario.deposit(THU, 350, "MERCH BNKCD DEP ADJ")
    chart = reader.gl_accounts()
    assert short_owed_in_sage(reader, accounts, chart)[["batch_number", "funding_group", "owed_cents"]] \
        .values.tolist() == [[1, "CARDS", 350]]
    recon = reconcile(*scenario.frames(), policy=SettlementPolicy(discount_method="monthly"), as_of=NEXT_MON,
                      short_owed=short_owed_in_sage(reader, accounts, chart))
    assert "unmatched_bank_credit" not in set(recon.exceptions["kind"])
    plan = journal_entries(recon, accounts=accounts, missing_booked=missing_in_sage(reader, accounts,
                                                                                    reader.gl_accounts()))
    lines = plan.lines.merge(plan.entries.drop(columns=["debit_cents", "credit_cents"]), on="reference", how="left")
    posted = post_journal_entries(writer, lines)
    assert sorted(posted.loc[posted["created"], "reference"].str.slice(0, 6)) == ["PT-B2-", "PT-CR-", "PT-SP-"]
    moved = {account: balance - before[account] for account, balance in balances(reader, watched).items()}
    assert moved == {"1010-00": Decimal("96.50") + Decimal("40.00") + Decimal("20.00") + Decimal("3.50"),
                     "1061-00": Decimal("-140.00"),  # the receipts' debits (not in this test) are what it clears
                     RECEIVABLE: Decimal("0.00"),  # everything the processor owed has arrived
                     "6160-00": Decimal("0.00"), "1250-00": Decimal("-20.00")}  # the case's receivable given back
    from sage_paytrace_pipeline.settlement.write_offs import receivable_in_sage

    held = receivable_in_sage(reader, RECEIVABLE)  # per batch too: nothing left to write off
    assert (held.open_cents, held.written) == ({1: 0, 2: 0}, {})
    # the next run sees the same statement: nothing is posted again, the rest's credit is still explained
    again = reconcile(*scenario.frames(), policy=SettlementPolicy(discount_method="monthly"), as_of=NEXT_MON,
                      short_owed=short_owed_in_sage(reader, accounts, reader.gl_accounts()))
    replan = journal_entries(again, accounts=accounts,
                             missing_booked=missing_in_sage(reader, accounts, reader.gl_accounts()))
    relines = replan.lines.merge(replan.entries.drop(columns=["debit_cents", "credit_cents"]), on="reference",
                                 how="left")
    assert not post_journal_entries(writer, relines)["created"].any()
    assert "unmatched_bank_credit" not in set(again.exceptions["kind"])
