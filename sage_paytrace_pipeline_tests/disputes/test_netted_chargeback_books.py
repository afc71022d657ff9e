"""A chargeback the processor netted from a deposit, with its dispute case, on the demo company: the
deposit entry books the netted amount to chargebacks (never to the processor receivable) and the case's
entry moves it to the chargeback receivable, so the processor receivable and chargebacks net to zero."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.disputes.posting import journal_entries as dispute_entries
from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings
from sage_paytrace_pipeline.domain.disputes.settlement import name_netted_cases
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, reconcile
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.day import post_journal_entries
from sage_paytrace_pipeline_tests.domain.settlement.builders import MON, NEXT_MON, TUE, WED, Scenario
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)
from sage_paytrace_pipeline_tests.settlement.test_short_deposits import RECEIVABLE, balances, gl_journal_lines

CHARGEBACKS, CASE_RECEIVABLE, BANK, VISA_CLEARING = "6160-00", "1250-00", "1010-00", "1061-00"


def test_a_netted_chargeback_with_its_case_leaves_nothing_in_the_processor_receivable(company, writer):  # noqa: F811
    reader = Sage100Reader.for_sqlite(company)
    watched = [BANK, VISA_CLEARING, RECEIVABLE, CHARGEBACKS, CASE_RECEIVABLE]
    before = balances(reader, watched)
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 7_500, "BANKCARD DEP CHGBK ADJ")  # 25.00 netted: case C9
    post_journal_entries(writer, gl_journal_lines(scenario, reader))

    stage = pd.DataFrame({"case_number": ["C9"], "stage": ["chargeback"], "activity_date": [WED],
                          "taken_cents": [2_500], "returned_cents": [0], "written_off_cents": [0], "fee_cents": [0]})
    recon = reconcile(*scenario.frames(), policy=SettlementPolicy(discount_method="monthly"), as_of=NEXT_MON)
    named = name_netted_cases(recon.exceptions, recon.matches, stage)
    problems = named.loc[named["kind"] == "deposit_variance", "problem"]
    assert len(problems) == 1 and problems.iloc[0].endswith("; dispute case C9")
    for entry in dispute_entries(plan_postings(stage, DisputeAccounts(settled=CHARGEBACKS, chargeback=CASE_RECEIVABLE,
                                                                       fee="6150-00", owed=RECEIVABLE))):
        writer.post_journal_entry(entry)

    moved = {account: balance - before[account] for account, balance in balances(reader, watched).items()}
    assert moved == {BANK: Decimal("75.00"), VISA_CLEARING: Decimal("-100.00"), RECEIVABLE: Decimal("0.00"),
                     CHARGEBACKS: Decimal("0.00"), CASE_RECEIVABLE: Decimal("25.00")}
