"""Ranked open invoices (one, or a pair, or all of them) for a known customer's unapplied payment.

Evidence: the amount equals the invoice's balance (or the pair's, or the sum of all the customer's
open invoices), the payer's reference is the invoice number or one edit from it, and the invoice
was dated shortly before the payment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from sage_paytrace_pipeline.domain.suggestions.ledger import Ledger
from sage_paytrace_pipeline.domain.suggestions.policy import SuggestionPolicy

_PAIR_LIMIT = 40  # customers with more open invoices than this are not searched for pairs


def invoice_candidates(payers: pd.DataFrame, links: pd.DataFrame, ledger: Ledger,
                       applicable_types: tuple[str, ...], policy: SuggestionPolicy) -> pd.DataFrame:
    """payers (transaction_id, reference, amount_cents, paid_on); links (transaction_id, division, customer_no)."""
    asked = payers.merge(links[["transaction_id", "division", "customer_no"]], on="transaction_id")
    # only the asked customers' invoices: the day's few exceptions, not the whole ledger
    invoices = ledger.applicable_of(tuple(applicable_types), asked)
    singles = asked.merge(invoices[["division", "customer_no", "invoice_no", "balance_cents", "invoice_date"]],
                          on=["division", "customer_no"])
    scored = [_singles(singles, policy), _pairs(asked, invoices, policy), _all_open(asked, invoices, policy)]
    scored = [frame for frame in scored if len(frame)]
    if not scored:
        return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "division": pd.Series(dtype=object),
                             "customer_no": pd.Series(dtype=object), "invoice_nos": pd.Series(dtype=object),
                             "score": pd.Series(dtype="float64"), "reasons": pd.Series(dtype=object)})
    return pd.concat(scored, ignore_index=True)


def _singles(pairs: pd.DataFrame, policy: SuggestionPolicy) -> pd.DataFrame:
    if pairs.empty:
        return pairs
    distance = np.full(len(pairs), 9, dtype="int64")
    has_reference = (pairs["reference"] != "").to_numpy()
    if has_reference.any():
        distance[has_reference] = np.asarray(process.cpdist(
            pairs.loc[has_reference, "reference"].to_numpy(dtype=object),
            pairs.loc[has_reference, "invoice_no"].to_numpy(dtype=object), scorer=Levenshtein.distance, workers=-1))
    days = (pd.to_datetime(pairs["paid_on"]) - pd.to_datetime(pairs["invoice_date"])).dt.days.to_numpy(
        dtype="float64", na_value=np.nan)
    near_date = np.nan_to_num(np.clip(1 - days / policy.date_window_days, 0, 1) * (days >= 0), nan=0.0)
    amount = (pairs["balance_cents"] == pairs["amount_cents"]).to_numpy()
    evidence = [(amount, policy.invoice_amount, "amount equals its balance"),
                (distance == 0, policy.invoice_reference_exact, "the payer's reference is its number"),
                (distance == 1, policy.invoice_reference_near, "the payer's reference is one edit from its number")]
    score = near_date * policy.invoice_date_near
    reasons = np.where(near_date > 0, "; dated " + pd.Series(days).fillna(0).astype("int64").astype(str).to_numpy(
        dtype=object) + " days before the payment", "").astype(object)
    for mask, points, text in evidence:
        score = score + np.where(mask, points, 0)
        reasons = np.where(mask, "; " + text + reasons, reasons)
    useful = score > 0
    found = pairs[useful]
    return pd.DataFrame({"transaction_id": found["transaction_id"].to_numpy(), "division": found["division"].to_numpy(),
                         "customer_no": found["customer_no"].to_numpy(), "invoice_nos": found["invoice_no"].to_numpy(),
                         "score": np.minimum(score[useful], 100.0),
                         "reasons": pd.Series(reasons[useful]).str[2:].to_numpy(dtype=object)})


def _pairs(asked: pd.DataFrame, invoices: pd.DataFrame, policy: SuggestionPolicy) -> pd.DataFrame:
    """Two open invoices whose balances add up to the payment."""
    sizes = invoices.groupby(["division", "customer_no"])["invoice_no"].transform("size")
    small = invoices[sizes <= _PAIR_LIMIT][["division", "customer_no", "invoice_no", "balance_cents"]]
    both = small.merge(small, on=["division", "customer_no"], suffixes=("_a", "_b"))
    both = both[both["invoice_no_a"] < both["invoice_no_b"]]
    both["sum_cents"] = both["balance_cents_a"] + both["balance_cents_b"]
    found = asked.merge(both, left_on=["division", "customer_no", "amount_cents"],
                        right_on=["division", "customer_no", "sum_cents"])
    return pd.DataFrame({"transaction_id": found["transaction_id"].to_numpy(), "division": found["division"].to_numpy(),
                         "customer_no": found["customer_no"].to_numpy(),
                         "invoice_nos": (found["invoice_no_a"] + "," + found["invoice_no_b"]).to_numpy(dtype=object),
                         "score": np.full(len(found), policy.invoice_amount * 0.8),
                         "reasons": np.full(len(found), "amount equals the two invoices' balances together",
                                            dtype=object)})


def _all_open(asked: pd.DataFrame, invoices: pd.DataFrame, policy: SuggestionPolicy) -> pd.DataFrame:
    totals = invoices.groupby(["division", "customer_no"]).agg(
        sum_cents=("balance_cents", "sum"), count=("invoice_no", "size")).reset_index()
    totals = totals[totals["count"] > 2]
    found = asked.merge(totals, left_on=["division", "customer_no", "amount_cents"],
                        right_on=["division", "customer_no", "sum_cents"])
    numbers = _numbers_joined(invoices, found)
    return pd.DataFrame({"transaction_id": found["transaction_id"].to_numpy(), "division": found["division"].to_numpy(),
                         "customer_no": found["customer_no"].to_numpy(),
                         "invoice_nos": np.array([numbers[key] for key in _customer_keys(found)], dtype=object),
                         "score": np.full(len(found), policy.invoice_amount * 0.7),
                         "reasons": np.full(len(found), "amount equals the sum of all its open invoices",
                                            dtype=object)})


def _customer_keys(frame: pd.DataFrame) -> zip:
    return zip(frame["division"], frame["customer_no"], strict=True)


def _numbers_joined(invoices: pd.DataFrame, found: pd.DataFrame) -> dict[tuple, str]:
    """The sorted, comma-joined invoice numbers of each customer in `found`: joined only for the customers
    whose total matched a payment (a per-group join of every asked customer's invoices was most of the step)."""
    wanted = set(_customer_keys(found))
    numbers: dict[tuple, list[str]] = {key: [] for key in wanted}
    for key, number in zip(_customer_keys(invoices), invoices["invoice_no"], strict=True):
        if key in wanted:
            numbers[key].append(number)
    return {key: ",".join(sorted(customer_numbers)) for key, customer_numbers in numbers.items()}
