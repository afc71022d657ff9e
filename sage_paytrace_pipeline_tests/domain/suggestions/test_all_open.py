"""`invoices._all_open` joins the invoice numbers only of customers whose total matched a payment: the same rows
as joining every asked customer's numbers first (how it was written before), on random ledgers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.suggestions.invoices import _all_open
from sage_paytrace_pipeline.domain.suggestions.policy import SuggestionPolicy


def _joined_first(asked: pd.DataFrame, invoices: pd.DataFrame, policy: SuggestionPolicy) -> pd.DataFrame:
    """The earlier implementation: every customer's numbers joined by the groupby."""
    totals = invoices.groupby(["division", "customer_no"]).agg(
        sum_cents=("balance_cents", "sum"), count=("invoice_no", "size"),
        invoice_nos=("invoice_no", lambda numbers: ",".join(sorted(numbers)))).reset_index()
    totals = totals[totals["count"] > 2]
    found = asked.merge(totals, left_on=["division", "customer_no", "amount_cents"],
                        right_on=["division", "customer_no", "sum_cents"])
    return pd.DataFrame({"transaction_id": found["transaction_id"].to_numpy(), "division": found["division"].to_numpy(),
                         "customer_no": found["customer_no"].to_numpy(),
                         "invoice_nos": found["invoice_nos"].to_numpy(dtype=object),
                         "score": np.full(len(found), policy.invoice_amount * 0.7),
                         "reasons": np.full(len(found), "amount equals the sum of all its open invoices",
                                            dtype=object)})


def _random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    count = 400
    customers = [f"C{number:03d}" for number in range(40)]
    invoices = pd.DataFrame({
        "division": rng.choice(["01", "02"], count).astype(object),
        "customer_no": rng.choice(customers, count).astype(object),
        "invoice_no": [f"{number:07d}" for number in rng.permutation(count)],
        "balance_cents": rng.integers(1, 6, count).astype("int64") * 1_000,
    })
    totals = invoices.groupby(["division", "customer_no"])["balance_cents"].sum()
    keys = list(totals.index)
    picked = rng.integers(0, len(keys), 60)
    asked = pd.DataFrame({
        "transaction_id": np.arange(1, 61, dtype="int64"),
        "division": [keys[index][0] for index in picked],
        "customer_no": [keys[index][1] for index in picked],
        # most pay the total of all their invoices, some another amount
        "amount_cents": [int(totals.iloc[index]) + (0 if rng.random() < 0.7 else 1_000) for index in picked],
    })
    return asked, invoices


def test_all_open_equals_joining_every_customers_numbers_first():
    policy = SuggestionPolicy()
    for seed in range(5):
        asked, invoices = _random_case(seed)
        expected = _joined_first(asked, invoices, policy)
        assert len(expected) > 10
        pd.testing.assert_frame_equal(_all_open(asked, invoices, policy), expected)


def test_all_open_with_no_match_is_empty_alike():
    policy = SuggestionPolicy()
    asked, invoices = _random_case(0)
    asked = asked.assign(amount_cents=asked["amount_cents"] + 7)
    pd.testing.assert_frame_equal(_all_open(asked, invoices, policy), _joined_first(asked, invoices, policy))
