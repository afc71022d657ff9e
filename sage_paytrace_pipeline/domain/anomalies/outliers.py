"""Robust outliers: a payment far outside its customer's own history, a batch fee rate outside its band.

Modified z = 0.6745 (x - median) / MAD (Iglewicz & Hoaglin, flag beyond 3.5). When more than half
the history is one value (MAD 0) the mean absolute deviation stands in (z = (x - median) /
(1.2533 meanAD)); a history of one repeated value has no spread and flags nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import customer_key, is_sale, moved_money
from sage_paytrace_pipeline.domain.anomalies.policy import AmountOutlierRule, FeeBandRule

AMOUNT_RULE = "amount_outlier"
FEE_RULE = "fee_rate_outside_band"


def robust_spread(values: pd.Series, groups: pd.Series | np.ndarray) -> pd.DataFrame:
    """Per group: count, median, and the scale z divides by (0.6745-corrected MAD, else 1.2533 meanAD)."""
    frame = pd.DataFrame({"group": np.asarray(groups), "value": values.to_numpy(dtype="float64")})
    median = frame.groupby("group")["value"].median()
    deviation = (frame["value"] - frame["group"].map(median)).abs()
    by_group = deviation.groupby(frame["group"])
    stats = pd.DataFrame({"count": frame.groupby("group").size(), "median": median, "mad": by_group.median(),
                          "mean_ad": by_group.mean()})
    stats["scale"] = np.where(stats["mad"] > 0, stats["mad"] / 0.6745, stats["mean_ad"] * 1.253314)
    return stats


def amount_outliers(transactions: pd.DataFrame, history: pd.DataFrame, rule: AmountOutlierRule) -> pd.DataFrame:
    """Each payment of `transactions` against its customer's payments in `history`."""
    payments = transactions[is_sale(transactions) & moved_money(transactions)]
    paid = is_sale(history) & moved_money(history)
    if payments.empty or not paid.any():
        return empty_flags()
    # the payers' own histories only (one copy of the long history's rows): each customer's spread is of their
    # payments alone
    earlier = history[paid & np.isin(customer_key(history), customer_key(payments))]
    if earlier.empty:
        return empty_flags()
    stats = robust_spread(earlier["amount_cents"], customer_key(earlier))
    stats = stats[(stats.index >= 0) & (stats["count"] >= rule.min_history) & (stats["scale"] > 0)]
    key = customer_key(payments)
    known = np.isin(key, stats.index.to_numpy())
    payments, key = payments[known], key[known]
    row = stats.loc[key]
    amount = payments["amount_cents"].astype("int64").to_numpy()
    z = (amount - row["median"].to_numpy()) / row["scale"].to_numpy()
    median = row["median"].to_numpy()
    ratio = np.where(amount >= median, amount / np.maximum(median, 1), median / np.maximum(amount, 1))
    far = ((np.abs(z) if rule.two_sided else z) > rule.threshold) & (ratio >= rule.min_ratio)
    if not far.any():
        return empty_flags()
    payments, row, z = payments[far], row[far], z[far]
    median = money(row["median"].round().astype("int64"))
    count = row["count"].astype(str).to_numpy(dtype=object)
    zt = pd.Series(z).round(1).astype(str).to_numpy(dtype=object)
    tid = payments["transaction_id"].astype(str).to_numpy(dtype=object)
    return flag_rows(
        AMOUNT_RULE, "warning", transaction_id=payments["transaction_id"], score=z,
        amount_cents=payments["amount_cents"], occurred_at=payments["created_at"], related_ids="",
        evidence="modified z " + zt + " against " + count + " earlier payments, median " + median,
        explanation="Transaction " + tid + " (" + money(payments["amount_cents"]) + ") is far from what this "
                    "customer usually pays (median " + median + " over " + count + " payments); confirm the amount "
                    "with the customer before it posts.")


def fee_rate_outliers(batches: pd.DataFrame, history: pd.DataFrame, rule: FeeBandRule) -> pd.DataFrame:
    """Batches (batch_number, closed_at, sales_cents, fee_cents) whose fee rate leaves the earlier batches' band."""
    batches = batches[batches["sales_cents"].astype("int64") > 0]
    earlier = history[history["sales_cents"].astype("int64") > 0]
    if batches.empty:
        return empty_flags()
    rate = batches["fee_cents"].astype("int64") / batches["sales_cents"].astype("int64")
    outside = np.zeros(len(batches), dtype=bool)
    z = np.zeros(len(batches))
    band = ""
    if len(earlier) >= rule.min_history:
        stats = robust_spread(earlier["fee_cents"].astype("int64") / earlier["sales_cents"].astype("int64"),
                              np.zeros(len(earlier), dtype="int64")).iloc[0]
        if stats["scale"] > 0:
            z = (rate.to_numpy() - stats["median"]) / stats["scale"]
            outside |= np.abs(z) > rule.threshold
            band = f"usual {stats['median']:.2%} over {int(stats['count'])} batches"
    if rule.min_rate is not None:
        outside |= rate.to_numpy() < rule.min_rate
    if rule.max_rate is not None:
        outside |= rate.to_numpy() > rule.max_rate
    if not outside.any():
        return empty_flags()
    hit, rate, z = batches[outside], rate[outside], z[outside]
    percent = (rate * 100).round(2).astype(str).to_numpy(dtype=object) + "%"
    number = hit["batch_number"].astype(str).to_numpy(dtype=object)
    configured = f" (configured band {rule.min_rate or 0:.2%} - {rule.max_rate or 1:.2%})"
    return flag_rows(
        FEE_RULE, "warning", transaction_id=None, batch_number=hit["batch_number"], score=np.abs(z),
        amount_cents=hit["fee_cents"], occurred_at=hit["closed_at"], related_ids="",
        evidence="fee rate " + percent + (f"; {band}" if band else "") + configured,
        explanation="Batch " + number + " cost " + money(hit["fee_cents"]) + " in fees on " + money(
            hit["sales_cents"]) + " of sales (" + percent + "), outside its usual band; compare the merchant "
            "statement with the pricing agreement and ask the processor about the difference.")
