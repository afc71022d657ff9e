"""Activity at hours the merchant rarely sees (merchant local time).

With enough history, an hour holding less than `min_share` of the earlier transactions is
unusual; before that, the configured quiet hours are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import is_refund, is_sale, utc
from sage_paytrace_pipeline.domain.anomalies.policy import UnusualHourRule

RULE = "unusual_hour"


def local_hours(frame: pd.DataFrame, time_zone: str) -> np.ndarray:
    return utc(frame["created_at"]).dt.tz_convert(time_zone).dt.hour.to_numpy()


def unusual_hours(transactions: pd.DataFrame, hour_counts: np.ndarray, rule: UnusualHourRule,
                  time_zone: str) -> pd.DataFrame:
    """`hour_counts`: the earlier transactions with a time, per local hour (`history.FrameHistory.hour_counts`)."""
    rows = transactions[(is_sale(transactions) | is_refund(transactions)) & transactions["created_at"].notna()]
    if rows.empty:
        return empty_flags()
    earlier = int(hour_counts.sum())
    if earlier >= rule.min_history:
        share = hour_counts / earlier
        unusual = share < rule.min_share
        basis = f"less than {rule.min_share:.1%} of the {earlier} earlier transactions"
    else:
        share = np.full(24, np.nan)
        unusual = np.isin(np.arange(24), rule.quiet_hours)
        basis = "one of the configured quiet hours"
    hour = local_hours(rows, time_zone)
    hit = unusual[hour]
    if not hit.any():
        return empty_flags()
    rows, hour = rows[hit], hour[hit]
    local = utc(rows["created_at"]).dt.tz_convert(time_zone).dt.strftime("%H:%M").to_numpy(
        dtype=object)
    hour_share = share[hour]
    return flag_rows(
        RULE, "info", transaction_id=rows["transaction_id"], score=np.where(np.isnan(hour_share), 1.0, 1 - hour_share),
        amount_cents=rows["amount_cents"], occurred_at=rows["created_at"], related_ids="",
        evidence="at " + local + f" {time_zone}; the hour is {basis}",
        explanation="Transaction " + rows["transaction_id"].astype(str).to_numpy(dtype=object) + " ("
                    + money(rows["amount_cents"]) + ") was made at " + local + ", an hour this merchant rarely "
                    "takes payments; check who made it if nobody was working then.")
