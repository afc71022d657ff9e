"""Previews an operator reads in the UI: a batch's deposit at a glance, and exceptions whose action
is shown whole."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.defs.metadata import batch_preview, exception_list, exception_metadata

LONG_ACTION = ("Apply prepayment P001000 in Sage: A/R Cash Receipts Entry, a zero-amount receipt for 01-ABC "
               "(check no. APPLY) with a line for P001000 at minus the amount to apply and a line per invoice "
               "it pays; or refund the payment in PayTrace if nothing is owed")


def exceptions(count: int = 1) -> pd.DataFrame:
    return pd.DataFrame({
        "kind": ["unapplied_payment"] * count, "severity": ["warning"] * count,
        "transaction_id": pd.array(range(1000, 1000 + count), dtype="Int64"),
        "source_ids": ["paytrace:1000"] * count,
        "problem": ["transaction 1000 of 01-ABC names no invoice | set bank.csv *_column keys"] * count,
        "action": [LONG_ACTION] * count,
    })


def test_each_exception_is_a_list_item_with_the_whole_action():
    text = exception_metadata(exceptions())["preview"].value
    assert text.startswith("1. **unapplied\\_payment** (warning) · transaction 1000  \n")
    assert "**Action:** " + LONG_ACTION in text  # whole, not cut
    assert "\\| set bank.csv \\*\\_column keys" in text  # Markdown characters are literal


def test_a_long_list_is_cut_with_a_count():
    text = exception_list(exceptions(12), ["transaction_id"]).value
    assert "10. **" in text and "11. **" not in text and text.endswith("... and 2 more in the asset's table.\n")
    assert exception_list(exceptions(0), ["transaction_id"]).value == "No exceptions."


def test_refused_files_without_kind_or_severity():
    refused = pd.DataFrame({"file": ["garbage.csv"], "line": [1], "problem": ["not BAI2"],
                            "action": ["describe its columns under bank.csv in the config"]})
    text = exception_list(refused, ["file", "line"]).value
    assert text.startswith("1. **refused file** · file garbage.csv · line 1  \n")


def test_batch_preview_answers_did_the_deposit_match_and_what_fee_was_booked():
    reconciliation = pd.DataFrame({
        "batch_number": [1, 1, 2], "funding_group": ["AMEX", "CARDS", "CARDS"],
        "brands": ["AMEX", "DISCOVER,MASTERCARD,VISA", "VISA"],
        "gross_cents": [173964, 801765, 5000], "expected_cents": [167800.0, 781561.0, np.nan],
        "deposit_cents": [167800.0, 779061.0, np.nan], "fee_cents": [6164.0, 20204.0, np.nan],
        "variance_cents": [0.0, -2500.0, np.nan], "deposit_status": ["matched", "short", "pending"],
        "source_file": ["2026-12-04.bai", "2026-12-03.bai", None], "source_line": [4.0, 4.0, np.nan],
    })
    lines = batch_preview(reconciliation).value.splitlines()
    assert lines[0] == ("| batch | brand | batch gross | expected | deposited | fee | variance | status "
                        "| bank file:line |")
    assert lines[3] == ("| 1 | DISCOVER,MASTERCARD,VISA | 8,017.65 | 7,815.61 | 7,790.61 | 202.04 | -25.00 | short "
                        "| 2026-12-03.bai:4 |")
    assert lines[4] == "| 2 | VISA | 50.00 |  |  |  |  | pending |  |"
    assert batch_preview(reconciliation.head(0)).value == "No batches."
