"""What the processor receivable holds per batch, from its GL detail comments, and the write-off plan."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.settlement.write_offs import (
    WRITE_OFF_REFUSED,
    plan_write_offs,
    receivable_by_batch,
)


def test_each_batch_nets_its_own_lines_and_other_lines_are_not_counted():
    held = receivable_by_batch(
        ["Short batch 1 CARDS", "Short batch 1 CARDS paid", "Missing batch 2 CARDS", "Missing batch 2 AMEX",
         "Late deposit batch 2 AMEX", "Chargeback reversed (won) C7", "MERCH BNKCD CHGBK REVERSAL C7",
         "Short batch 3 CARDS", "Write-off 3 #4"],
        [350, 0, 4_000, 1_500, 0, 2_000, 0, 900, 0],
        [0, 350, 0, 0, 1_500, 0, 2_000, 0, 400])
    assert held.open_cents == {1: 0, 2: 4_000, 3: 500}
    assert held.written == {4: 400}
    assert (held.open_for(3), held.open_for(99)) == (500, 0)


def test_decisions_are_posted_in_order_and_never_above_what_is_open():
    held = receivable_by_batch(["Missing batch 2 CARDS", "Short batch 5 CARDS"], [4_000, 300], [0, 0])
    decisions = pd.DataFrame({"decision_id": [1, 2, 3], "batch_number": [2, 2, 5], "account": ["6170-00"] * 3,
                              "amount_cents": pd.array([1_000, None, 301], dtype="Int64"),
                              "reason": ["part", "rest", "too much"], "decided_by": ["ann"] * 3,
                              "decided_on": [date(2026, 3, 9)] * 3})
    plan = plan_write_offs(decisions, held, receivable_account="1260-00", active_accounts={"6170-00", "1260-00"},
                           first_open_date=date(2026, 3, 10))
    assert plan.entries[["reference", "debit_cents", "posting_date"]].values.tolist() == [
        ["PT-W2-1", 1_000, date(2026, 3, 10)], ["PT-W2-2", 3_000, date(2026, 3, 10)]]
    assert plan.lines[["account", "debit_cents", "credit_cents", "comment"]].values.tolist() == [
        ["6170-00", 1_000, 0, "part"], ["1260-00", 0, 1_000, "Write-off 2 #1"],
        ["6170-00", 3_000, 0, "rest"], ["1260-00", 0, 3_000, "Write-off 2 #2"]]
    assert plan.exceptions["kind"].tolist() == [WRITE_OFF_REFUSED]
    assert plan.resolved[["batch_number", "written_cents", "left_cents"]].values.tolist() == [[2, 4_000, 0]]
