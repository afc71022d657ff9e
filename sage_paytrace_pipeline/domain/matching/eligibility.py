"""Which PayTrace transactions become Sage receipts today, and what happens to the rest.

Approved sales and captured authorizations (PENDING or SETTLED) are posted. Declines, voids and
open authorizations never moved money: skipped silently, only counted. Refunds did move money: with
the refund flow on (`policy.refund_flow`) they are left to it and counted as skipped (`refund_flow`);
without it they are reported (`refund_not_posted`) for AR staff to enter by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import factorize_keeping_na
from sage_paytrace_pipeline.domain.matching.exceptions import exception_rows
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.text import Cents, render


def split_eligible(payments: pd.DataFrame, policy: MatchingPolicy) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(eligible payments, refund exceptions, skipped counts by reason)."""
    kind, kinds = _upper(payments["transaction_type"])
    status, statuses = _upper(payments["status"])
    money_moved = statuses.isin(policy.eligible_statuses).to_numpy()[status]
    eligible = money_moved & kinds.isin(policy.eligible_types).to_numpy()[kind]
    refund = money_moved & (kinds == "REFUND").to_numpy()[kind]
    skipped = np.flatnonzero(~eligible & ~refund)
    counts = _skipped_reasons(kinds.to_numpy()[kind[skipped]], statuses.to_numpy()[status[skipped]])
    if policy.refund_flow:  # the refunds flow posts them (and reports what it cannot)
        if refund.any():
            counts = dict(sorted({**counts, "refund_flow": int(refund.sum())}.items()))
        refund = np.zeros_like(refund)

    refunds = payments[refund]
    tid = refunds["transaction_id"]
    exceptions = exception_rows(
        "refund_not_posted", "warning", tid.to_numpy(),
        source_ids=render("paytrace:{tid}", tid=tid),
        problem=render("refund {tid} of {amount} is not posted to Sage automatically yet", tid=tid,
                       amount=Cents(refunds["amount_cents"])),
        action=render("Enter the refund in Sage by hand (AR cash receipts, negative receipt or credit memo) for "
                      "transaction {tid}", tid=tid),
    )
    # all eligible is the usual day: no copy of a million-row frame just to drop nothing
    return (payments if eligible.all() else payments[eligible]), exceptions, counts


def _skipped_reasons(kind: np.ndarray, status: np.ndarray) -> dict[str, int]:
    """How many skipped transactions per reason (declined, voided, authorization_open, other)."""
    kinds, statuses = pd.Series(kind, dtype=object), pd.Series(status, dtype=object)
    reason = pd.Series("other", index=kinds.index, dtype=object)
    reason = reason.mask(statuses == "DECLINED", "declined").mask(statuses == "VOIDED", "voided")
    reason = reason.mask((kinds == "AUTHORIZATION") & (statuses == "AUTHORIZED"), "authorization_open")
    return {str(k): int(v) for k, v in reason.value_counts().sort_index().items()}


def _upper(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code of each row, its distinct value as column.astype(str).str.upper()): a day has a handful of them."""
    codes, distinct = factorize_keeping_na(column)
    return codes, pd.Series(distinct, dtype=object).astype(str).str.upper()
