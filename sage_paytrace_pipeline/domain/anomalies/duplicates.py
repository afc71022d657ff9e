"""Duplicate charges, staged: exact (same card or customer, same amount, same reference, within the
window) then relaxed (same card or customer and amount within the window, any reference).

The later charge of each pair is flagged, naming the earlier one; a customer who really buys the
same thing twice is a false flag a clerk clears (hence a warning, never a silent drop).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import concat_flags, empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import (
    PREPARED,
    card_key,
    customer_key,
    is_sale,
    moved_money,
    reference,
    timestamps,
)
from sage_paytrace_pipeline.domain.anomalies.policy import DuplicateChargeRule

RULE = "duplicate_charge"
_READ = ("transaction_id", "amount_cents", "created_at", "invoice_id", "description")


def duplicate_charges(transactions: pd.DataFrame, rule: DuplicateChargeRule) -> pd.DataFrame:
    # the sales of the day and its history, with the columns read here only (the history is long)
    read = [column for column in (*_READ, *PREPARED) if column in transactions]
    sales = transactions.loc[is_sale(transactions) & moved_money(transactions), read].reset_index(drop=True)
    if sales.empty:
        return empty_flags()
    found = [pair for pair in (_repeats(sales, card_key(sales), "card", rule),
                               _repeats(sales, customer_key(sales), "customer", rule)) if len(pair)]
    if not found:
        return empty_flags()
    pairs = pd.concat(found, ignore_index=True)
    # the references of the paired charges only: the exact stage needs them, the other charges do not
    involved = np.unique(np.concatenate([pairs["later"].to_numpy(), pairs["earlier"].to_numpy()]))
    written = pd.Series(reference(sales.iloc[involved]).to_numpy(), index=involved)
    later_reference = written.loc[pairs["later"].to_numpy()].to_numpy()
    earlier_reference = written.loc[pairs["earlier"].to_numpy()].to_numpy()
    pairs["exact"] = (later_reference != "") & (later_reference == earlier_reference)
    pairs["transaction_id"] = sales["transaction_id"].astype("int64").to_numpy()[pairs["later"].to_numpy()]
    pairs["earlier_id"] = sales["transaction_id"].astype("int64").to_numpy()[pairs["earlier"].to_numpy()]
    pairs["amount_cents"] = sales["amount_cents"].astype("int64").to_numpy()[pairs["later"].to_numpy()]
    pairs["created_at"] = sales["created_at"].array[pairs["later"].to_numpy()]
    pairs = pairs.sort_values(["transaction_id", "exact", "by"], ascending=[True, False, True])
    return _flags(pairs.drop_duplicates("transaction_id"))


def within_reach(history: pd.DataFrame, transactions: pd.DataFrame, rule: DuplicateChargeRule) -> pd.DataFrame:
    """The earlier rows a charge of `transactions` can repeat: made at most the window before the first of
    them. A row left out could only be a charge's neighbour outside the window, so it pairs with none; when a
    time is missing (it sorts first, and would become a charge's neighbour) all of the history is kept."""
    earlier, day = timestamps(history), timestamps(transactions)
    missing = np.iinfo("int64").min
    if not len(day) or (earlier == missing).any() or (day == missing).any():
        return history
    return history[earlier >= day.min() - int(rule.window_hours * 3600 * 1_000_000_000)]


def _repeats(sales: pd.DataFrame, key: np.ndarray, by: str, rule: DuplicateChargeRule) -> pd.DataFrame:
    """(later, earlier) positions in `sales` of charges next to each other in (key, amount, time) order
    within the window."""
    known = np.flatnonzero(key >= 0)
    keys = key[known]
    amounts = sales["amount_cents"].astype("int64").to_numpy()[known]
    times = timestamps(sales)[known]
    order = np.lexsort((sales["transaction_id"].to_numpy()[known], times, amounts, keys))
    keys, amounts, times, rows = keys[order], amounts[order], times[order], known[order]
    window = int(rule.window_hours * 3600 * 1_000_000_000)
    same = (keys[1:] == keys[:-1]) & (amounts[1:] == amounts[:-1]) & (times[1:] - times[:-1] <= window)
    later = np.flatnonzero(same) + 1
    return pd.DataFrame({"later": rows[later], "earlier": rows[later - 1],
                         "minutes": (times[later] - times[later - 1]) / 6e10, "by": by})


def _flags(pairs: pd.DataFrame) -> pd.DataFrame:
    exact = pairs["exact"].to_numpy(dtype=bool)
    amount = money(pairs["amount_cents"])
    minutes = pairs["minutes"].round().astype("int64").astype(str).to_numpy(dtype=object)
    tid = pairs["transaction_id"].astype(str).to_numpy(dtype=object)
    earlier = pairs["earlier_id"].astype(str).to_numpy(dtype=object)
    by = pairs["by"].to_numpy(dtype=object)
    stage = np.where(exact, "exact", "relaxed").astype(object)
    same_ref = np.where(exact, " with the same reference", "").astype(object)
    return flag_rows(
        RULE, np.where(exact, "error", "warning").astype(object), transaction_id=pairs["transaction_id"],
        score=np.where(exact, 100.0, 70.0), amount_cents=pairs["amount_cents"], occurred_at=pairs["created_at"],
        related_ids=earlier,
        evidence=stage + ": same " + by + ", " + amount + ", " + minutes + " min after " + earlier,
        explanation="Transaction " + tid + " charges the same " + by + " " + amount + same_ref + " " + minutes
                    + " minutes after transaction " + earlier + "; check with the customer whether they meant to "
                    "pay twice, and refund one if not.")


__all__ = ["RULE", "concat_flags", "duplicate_charges", "within_reach"]
