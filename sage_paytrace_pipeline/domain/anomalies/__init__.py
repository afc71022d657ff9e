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
from sage_paytrace_pipeline.domain.anomalies.duplicates import duplicate_charges, within_reach
from sage_paytrace_pipeline.domain.anomalies.flags import FLAG_COLUMNS, concat_flags, empty_flags
from sage_paytrace_pipeline.domain.anomalies.history import FrameHistory, IndexedHistory, key_codes
from sage_paytrace_pipeline.domain.anomalies.hours import unusual_hours
from sage_paytrace_pipeline.domain.anomalies.keys import PREPARED, USED, is_refund, moved_money, prepare, with_utc_times
from sage_paytrace_pipeline.domain.anomalies.outliers import amount_outliers, fee_rate_outliers
from sage_paytrace_pipeline.domain.anomalies.policy import RULES, AnomalyPolicy
from sage_paytrace_pipeline.domain.anomalies.refunds import refund_flags

__all__ = ["FLAG_COLUMNS", "RULES", "AnomalyInputs", "AnomalyPolicy", "detect_anomalies", "empty_flags",
           "held_payments"]

# a day's refund -> the sale it ties to -> the refunds bearing on that sale -> their sales (refunds.py)
_REFUND_HOPS = 3
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
    # a range run's day: its history answered from the range's rows indexed once (`history.IndexedHistory`),
    # `history` unused, `transactions` prepared together with it (`keys.prepared_together`)
    indexed: IndexedHistory | None = None

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
    day, history = _day_and_history(inputs)
    ours = day["transaction_id"].astype("int64").to_numpy()
    # each rule reads the earlier rows sharing a key with the day (all of them when not indexed)
    parties = {"card": key_codes(day, "card"), "customer": key_codes(day, "customer")}
    parts = []
    if policy.enabled("duplicate_charge") or policy.enabled("card_testing"):
        sharing = history.sharing(**parties)
        if policy.enabled("duplicate_charge"):
            near = within_reach(sharing, day, policy.duplicate_charge)
            parts.append(_about(duplicate_charges(pd.concat([near, day], ignore_index=True), policy.duplicate_charge),
                                ours))
        if policy.enabled("card_testing"):
            parts.append(_about(card_testing(pd.concat([sharing, day], ignore_index=True), policy.card_testing), ours))
    if policy.enabled("amount_outlier"):
        parts.append(amount_outliers(day, history.sharing(customer=parties["customer"]), policy.amount_outlier))
    if policy.enabled("double_payment") and inputs.applications is not None:
        paid_earlier = history.sharing(id=inputs.applications["transaction_id"].astype("int64").to_numpy())
        parts.append(double_payments(day, paid_earlier, inputs.applications, policy.double_payment))
    refunds = day[is_refund(day) & moved_money(day)]
    parts.append(refund_flags(day, history.related(day, refunds, _REFUND_HOPS), policy))
    if policy.enabled("fee_rate_outside_band"):
        batches = inputs.batch_history[~inputs.batch_history["batch_number"].isin(inputs.batches["batch_number"])]
        parts.append(fee_rate_outliers(inputs.batches, batches, policy.fee_rate))
    if policy.enabled("unusual_hour"):
        parts.append(unusual_hours(day, history.hour_counts(policy.time_zone), policy.unusual_hour,
                                   policy.time_zone))
    flags = concat_flags(parts)
    flags = flags[flags["transaction_id"].isna() | flags["transaction_id"].isin(ours)]
    order = pd.Categorical(flags["rule"], categories=list(RULES), ordered=True)
    flags = flags.assign(_order=order).sort_values(["_order", "transaction_id", "batch_number"], kind="stable")
    return flags.drop(columns="_order").reset_index(drop=True)


def _day_and_history(inputs: AnomalyInputs) -> tuple[pd.DataFrame, FrameHistory | IndexedHistory]:
    """The day's transactions with their keys, and what the rules read of the earlier days."""
    if inputs.indexed is not None:
        day = inputs.transactions[[column for column in (*USED, *PREPARED) if column in inputs.transactions]]
        return with_utc_times(day).reset_index(drop=True), inputs.indexed
    # keys are computed once over the day and its history, so the codes agree between them
    history = inputs.transactions.iloc[:0] if inputs.history is None else inputs.history
    # keys prepared together for the day and its history (`keys.prepared_together`) are kept, else computed here
    kept = [*USED, *PREPARED] if all(c in frame for frame in (history, inputs.transactions) for c in PREPARED) else USED
    earlier = with_utc_times(inputs.earlier(kept))
    transactions = with_utc_times(inputs.transactions[[column for column in kept if column in inputs.transactions]])
    both = prepare(pd.concat([earlier, transactions], ignore_index=True) if len(earlier)
                   else transactions.reset_index(drop=True))
    return both.iloc[len(earlier):], FrameHistory(both.iloc[:len(earlier)])


def _about(flags: pd.DataFrame, ours: np.ndarray) -> pd.DataFrame:
    return flags[flags["transaction_id"].isin(ours)]


def held_payments(flags: pd.DataFrame, policy: AnomalyPolicy) -> pd.DataFrame:
    """The flags that hold their payment: rule listed in hold_from_posting and not cleared by a person."""
    if not policy.hold_from_posting or flags.empty:
        return flags.iloc[:0]
    cleared = set(policy.cleared)
    key = flags["rule"].astype(str) + ":" + flags["transaction_id"].astype("string").fillna("")
    return flags[flags["rule"].isin(policy.hold_from_posting) & flags["transaction_id"].notna() & ~key.isin(cleared)]
