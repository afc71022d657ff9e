"""Card testing: a burst of small attempts (declined or approved) on one card or customer.

Velocity as the processors define it (a count of a key within a window, §5): every small attempt
whose window holds at least `min_attempts` small attempts, `min_declines` of them declined, starts
a burst; every attempt inside a burst's window is flagged with the burst's other ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import card_key, customer_key, is_declined, is_sale, timestamps
from sage_paytrace_pipeline.domain.anomalies.policy import CardTestingRule
from sage_paytrace_pipeline.domain.anomalies.windows import covered, seconds_of, window_starts

RULE = "card_testing"


def card_testing(transactions: pd.DataFrame, rule: CardTestingRule) -> pd.DataFrame:
    small_amount = transactions["amount_cents"].astype("int64") <= rule.max_amount_cents
    small = transactions[is_sale(transactions) & small_amount]
    if small.empty:
        return empty_flags()
    found = [burst for burst in (_bursts(small, card_key(small), "card", rule),
                                 _bursts(small, customer_key(small), "customer", rule)) if len(burst)]
    if not found:
        return empty_flags()
    bursts = pd.concat(found, ignore_index=True)
    bursts = bursts.sort_values(["transaction_id", "attempts"], ascending=[True, False]).drop_duplicates(
        "transaction_id")
    return _flags(bursts)


def _bursts(small: pd.DataFrame, key: np.ndarray, by: str, rule: CardTestingRule) -> pd.DataFrame:
    """The attempts inside a burst of one key, with the burst's size, declines and ids."""
    known = key >= 0
    group = key[known]
    seconds = seconds_of(timestamps(small)[known])
    sorted_rows = np.lexsort((small["transaction_id"].to_numpy()[known], seconds, group))
    group, seconds = group[sorted_rows], seconds[sorted_rows]
    declined = is_declined(small)[known][sorted_rows]
    starts = window_starts(group, seconds, int(rule.window_minutes * 60))
    position = np.arange(len(group))
    attempts = position - starts + 1
    declined_before = np.concatenate([[0], np.cumsum(declined)])
    declines = declined_before[position + 1] - declined_before[starts]
    trigger = (attempts >= rule.min_attempts) & (declines >= rule.min_declines)
    inside = covered(starts[trigger], position[trigger], len(group))
    if not inside.any():  # no burst (most keys, most days): nothing to group
        return pd.DataFrame()
    # a burst = a run of covered positions of one key
    new_run = inside & ~np.r_[False, inside[:-1] & (group[1:] == group[:-1])]
    run = np.cumsum(new_run)
    rows = small.iloc[np.flatnonzero(known)[sorted_rows][inside]]
    members = pd.DataFrame({"transaction_id": rows["transaction_id"].astype("int64").to_numpy(), "run": run[inside],
                            "declined": declined[inside], "amount_cents": rows["amount_cents"].astype("int64"),
                            "created_at": rows["created_at"].array, "by": by})
    per_run = members.groupby("run").agg(attempts=("transaction_id", "size"), declines=("declined", "sum"),
                                         ids=("transaction_id", lambda ids: ",".join(map(str, ids))),
                                         first=("created_at", "min"), last=("created_at", "max"))
    return members.join(per_run, on="run")


def _flags(bursts: pd.DataFrame) -> pd.DataFrame:
    attempts = bursts["attempts"].astype(str).to_numpy(dtype=object)
    declines = bursts["declines"].astype("int64").astype(str).to_numpy(dtype=object)
    minutes = ((bursts["last"] - bursts["first"]).dt.total_seconds() / 60).round().astype("int64").astype(str)
    by = bursts["by"].to_numpy(dtype=object)
    tid = bursts["transaction_id"].astype(str).to_numpy(dtype=object)
    return flag_rows(
        RULE, "error", transaction_id=bursts["transaction_id"], score=bursts["attempts"].astype(float),
        amount_cents=bursts["amount_cents"], occurred_at=bursts["created_at"], related_ids=bursts["ids"],
        evidence=attempts + " small attempts (" + declines + " declined) on one " + by + " in " + minutes.to_numpy(
            dtype=object) + " min: " + bursts["ids"].to_numpy(dtype=object),
        explanation="Transaction " + tid + " (" + money(bursts["amount_cents"]) + ") is one of " + attempts
                    + " small charges on the same " + by + " within " + minutes.to_numpy(dtype=object)
                    + " minutes, " + declines + " declined: this looks like someone testing a stolen card; void "
                    "the approved ones and block the card or customer in PayTrace.")
