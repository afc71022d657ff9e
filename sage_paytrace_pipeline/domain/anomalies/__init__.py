"""Anomaly rules over PayTrace activity: ordered, vectorized, each flag explained for a clerk.

`detect_anomalies` runs the enabled rules in `policy.RULES` order over one day's transactions,
judged against the earlier days' (`history`); flags are about the day's transactions (and the
day's batches) only. Input frames: transactions as `paytrace.frames.TRANSACTION_COLUMNS`;
applications (transaction_id, invoice_no, amount_cents), the day's and earlier; batches
(batch_number, closed_at, sales_cents, fee_cents). See flags.py for the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.card_testing import card_testing
from sage_paytrace_pipeline.domain.anomalies.double_payment import double_payments
from sage_paytrace_pipeline.domain.anomalies.duplicates import duplicate_charges
from sage_paytrace_pipeline.domain.anomalies.flags import FLAG_COLUMNS, concat_flags, empty_flags
from sage_paytrace_pipeline.domain.anomalies.hours import unusual_hours
from sage_paytrace_pipeline.domain.anomalies.keys import PREPARED, USED, prepare, with_utc_times
from sage_paytrace_pipeline.domain.anomalies.outliers import amount_outliers, fee_rate_outliers
from sage_paytrace_pipeline.domain.anomalies.policy import RULES, AnomalyPolicy
from sage_paytrace_pipeline.domain.anomalies.refunds import refund_flags

__all__ = ["FLAG_COLUMNS", "RULES", "AnomalyInputs", "AnomalyPolicy", "detect_anomalies", "empty_flags",
           "held_payments"]

_BATCH_COLUMNS = {"batch_number": "int64", "closed_at": "datetime64[ns, UTC]", "sales_cents": "int64",
                  "fee_cents": "int64"}


def _no_batches() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in _BATCH_COLUMNS.items()})


@dataclass(frozen=True)
class AnomalyInputs:
    transactions: pd.DataFrame
    history: pd.DataFrame | None = None
    applications: pd.DataFrame | None = None
    batches: pd.DataFrame = field(default_factory=_no_batches)
    batch_history: pd.DataFrame = field(default_factory=_no_batches)

    def earlier(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The history without the day's own transactions (a re-loaded day is not its own history); `columns`: of
        those that it has, only these (the history is long: its rows are copied once)."""
        history = self.transactions.iloc[:0] if self.history is None else self.history
        rows = ~history["transaction_id"].isin(self.transactions["transaction_id"])
        if columns is None:
            return history[rows]
        return history.loc[rows, [column for column in columns if column in history]]


def detect_anomalies(inputs: AnomalyInputs, policy: AnomalyPolicy | None = None) -> pd.DataFrame:
    """Every flag of the day, in rule order then transaction id."""
    policy = policy or AnomalyPolicy()
    # keys are computed once over the day and its history, so the codes agree between them
    history = inputs.transactions.iloc[:0] if inputs.history is None else inputs.history
    # keys prepared together for the day and its history (`keys.prepared_together`) are kept, else computed here
    kept = [*USED, *PREPARED] if all(c in frame for frame in (history, inputs.transactions) for c in PREPARED) else USED
    earlier = with_utc_times(inputs.earlier(kept))
    transactions = with_utc_times(inputs.transactions[[column for column in kept if column in inputs.transactions]])
    both = prepare(pd.concat([earlier, transactions], ignore_index=True) if len(earlier)
                   else transactions.reset_index(drop=True))
    earlier, day = both.iloc[:len(earlier)], both.iloc[len(earlier):]
    ours = day["transaction_id"].astype("int64").to_numpy()
    parts = []
    if policy.enabled("duplicate_charge"):
        parts.append(_about(duplicate_charges(both, policy.duplicate_charge), ours))
    if policy.enabled("card_testing"):
        parts.append(_about(card_testing(both, policy.card_testing), ours))
    if policy.enabled("amount_outlier"):
        parts.append(amount_outliers(day, earlier, policy.amount_outlier))
    if policy.enabled("double_payment") and inputs.applications is not None:
        parts.append(double_payments(day, earlier, inputs.applications, policy.double_payment))
    parts.append(refund_flags(day, earlier, policy))
    if policy.enabled("fee_rate_outside_band"):
        history = inputs.batch_history[~inputs.batch_history["batch_number"].isin(inputs.batches["batch_number"])]
        parts.append(fee_rate_outliers(inputs.batches, history, policy.fee_rate))
    if policy.enabled("unusual_hour"):
        parts.append(unusual_hours(day, earlier, policy.unusual_hour, policy.time_zone))
    flags = concat_flags(parts)
    flags = flags[flags["transaction_id"].isna() | flags["transaction_id"].isin(ours)]
    order = pd.Categorical(flags["rule"], categories=list(RULES), ordered=True)
    flags = flags.assign(_order=order).sort_values(["_order", "transaction_id", "batch_number"], kind="stable")
    return flags.drop(columns="_order").reset_index(drop=True)


def _about(flags: pd.DataFrame, ours: np.ndarray) -> pd.DataFrame:
    return flags[flags["transaction_id"].isin(ours)]


def held_payments(flags: pd.DataFrame, policy: AnomalyPolicy) -> pd.DataFrame:
    """The flags that hold their payment: rule listed in hold_from_posting and not cleared by a person."""
    if not policy.hold_from_posting or flags.empty:
        return flags.iloc[:0]
    cleared = set(policy.cleared)
    key = flags["rule"].astype(str) + ":" + flags["transaction_id"].astype("string").fillna("")
    return flags[flags["rule"].isin(policy.hold_from_posting) & flags["transaction_id"].notna() & ~key.isin(cleared)]
