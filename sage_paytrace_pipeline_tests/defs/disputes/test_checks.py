"""The dispute checks on frames as the flow makes them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline.defs.disputes.checks import (
    dispute_entries_balance,
    every_chargeback_debit_has_a_case,
    no_case_posted_twice,
)
from sage_paytrace_pipeline.domain.disputes.cases import stage_history
from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings
from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat, read_report
from sage_paytrace_pipeline_tests.domain.disputes import samples


def _stages():
    rows = read_report(Path("r.csv"), samples.report(samples.CHARGEBACK, samples.WON, samples.PRE_ARB,
                                                     samples.LOST_CB), DisputeReportFormat()).rows
    return stage_history(rows)


def _debits(*cents: int) -> pd.DataFrame:
    return pd.DataFrame({"reference": [f"PT-CB-{i}" for i in range(len(cents))],
                         "posting_date": ["2026-11-04"] * len(cents), "debit_cents": list(cents)})


def test_chargeback_debits_against_cases():
    stages = _stages()
    # C200 taken with its fee (1,265.00), P300 re-debited (1,250.00), C400 (80.00, no fee on the report)
    assert every_chargeback_debit_has_a_case(_debits(126_500, 125_000, 8_000), stages).passed
    result = every_chargeback_debit_has_a_case(_debits(126_500, 8_000, 8_000, 4_321), stages)
    assert not result.passed
    assert result.metadata["without_case"].value == 2  # the second 80.00 and the 43.21
    assert every_chargeback_debit_has_a_case(_debits(), stages).passed


def test_balance_and_posted_twice():
    lines = plan_postings(_stages(), DisputeAccounts(settled="6160-00", chargeback="1250-00", fee="6150-00"))
    assert dispute_entries_balance(lines).passed
    assert not dispute_entries_balance(lines.assign(debit_cents=lines["debit_cents"] + 1)).passed
    log = pd.DataFrame({"reference": ["PT-DC200-CB", "PT-DC200-WN"], "case_number": ["C200", "C200"],
                        "stage": ["chargeback", "won"], "state": ["posted", "posted"],
                        "entry_no": ["000010", "000011"]})
    assert no_case_posted_twice(log).passed
    assert not no_case_posted_twice(log.assign(entry_no="000010")).passed
