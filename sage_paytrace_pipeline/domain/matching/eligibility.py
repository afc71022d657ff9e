"""Which PayTrace transactions become Sage receipts today, and what happens to the rest.

Approved sales and captured authorizations (PENDING or SETTLED) are posted. Declines, voids and
open authorizations never moved money: skipped silently, only counted. Refunds did move money, so
they are reported (`refund_not_posted`) until the refund flow posts them.
"""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.domain.matching.exceptions import cents_text, make_exceptions
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy


def split_eligible(payments: pd.DataFrame, policy: MatchingPolicy) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(eligible payments, refund exceptions, skipped counts by reason)."""
    kind = _upper(payments["transaction_type"])
    status = _upper(payments["status"])
    money_moved = status.isin(policy.eligible_statuses)
    eligible = money_moved & kind.isin(policy.eligible_types)
    refund = money_moved & (kind == "REFUND")
    reason = pd.Series("other", index=payments.index, dtype=object)
    reason = reason.mask(status == "DECLINED", "declined").mask(status == "VOIDED", "voided")
    reason = reason.mask((kind == "AUTHORIZATION") & (status == "AUTHORIZED"), "authorization_open")
    skipped = reason[~eligible & ~refund]
    counts = {str(k): int(v) for k, v in skipped.value_counts().sort_index().items()}

    refunds = payments[refund]
    tid = refunds["transaction_id"]
    exceptions = make_exceptions(
        "refund_not_posted", "warning", tid,
        source_ids="paytrace:" + tid.astype(str),
        problem="refund " + tid.astype(str) + " of " + cents_text(refunds["amount_cents"])
        + " is not posted to Sage automatically yet",
        action="Enter the refund in Sage by hand (AR cash receipts, negative receipt or credit memo) for transaction "
        + tid.astype(str),
    )
    # all eligible is the usual day: no copy of a million-row frame just to drop nothing
    return (payments if eligible.all() else payments[eligible]), exceptions, counts


def _upper(column: pd.Series) -> pd.Series:
    """column.astype(str).str.upper(), computed once per distinct value (a day has a handful of them)."""
    codes, distinct = pd.factorize(column, use_na_sentinel=False)
    upper = pd.Series(distinct, dtype=object).astype(str).str.upper().to_numpy(dtype=object)
    return pd.Series(upper[codes] if len(upper) else [], index=column.index, dtype=object)
