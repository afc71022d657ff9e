"""Double payment: a payment naming an invoice that an earlier payment already paid.

The payment names the invoice (invoice_id, else the description), applies nothing to it (matching
found it closed), and another, earlier payment has an application to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import invoice_text, is_sale, moved_money, text, timestamps
from sage_paytrace_pipeline.domain.anomalies.policy import DoublePaymentRule

RULE = "double_payment"


def double_payments(transactions: pd.DataFrame, history: pd.DataFrame, applications: pd.DataFrame,
                    rule: DoublePaymentRule) -> pd.DataFrame:
    """`applications` (transaction_id, invoice_no, amount_cents): the day's and the earlier days'."""
    del rule  # no thresholds: the rule is on or off
    payments = transactions[is_sale(transactions) & moved_money(transactions)]
    invoice = invoice_text(payments).to_numpy()
    payments = payments.assign(invoice_no=invoice)[invoice != ""]
    if payments.empty or applications.empty:
        return empty_flags()
    # only the applications to invoices the day's payments name
    numbers = text(applications, "invoice_no", lambda s: s.str.upper())
    wanted = numbers.isin(set(payments["invoice_no"])).to_numpy()
    named = applications[wanted]
    if named.empty:
        return empty_flags()
    applied = pd.DataFrame({"transaction_id_earlier": named["transaction_id"].astype("int64").to_numpy(),
                            "invoice_no": numbers.to_numpy()[wanted],
                            "applied_cents": named["amount_cents"].astype("int64").to_numpy()})
    pairs = payments[["transaction_id", "invoice_no", "amount_cents", "created_at"]].merge(applied, on="invoice_no")
    own = pairs["transaction_id"] == pairs["transaction_id_earlier"]
    paid_itself = pairs.loc[own, ["transaction_id", "invoice_no"]].assign(itself=True)
    pairs = pairs[~own].merge(paid_itself, on=["transaction_id", "invoice_no"], how="left")
    pairs = pairs[pairs["itself"].isna()]
    everything = pd.concat([history[["transaction_id", "created_at"]], transactions[["transaction_id", "created_at"]]])
    when = everything[everything["transaction_id"].isin(pairs["transaction_id_earlier"])].drop_duplicates(
        "transaction_id")
    when = pd.Series(timestamps(when), index=when["transaction_id"].astype("int64").to_numpy())
    earlier_time = when.reindex(pairs["transaction_id_earlier"].to_numpy()).to_numpy(dtype="float64")
    this_time = timestamps(pairs).astype("float64")
    before = np.isnan(earlier_time) | (earlier_time < this_time) | (
        (earlier_time == this_time) & (pairs["transaction_id_earlier"].to_numpy() < pairs["transaction_id"].to_numpy()))
    pairs = pairs[before]
    if pairs.empty:
        return empty_flags()
    grouped = pairs.groupby(["transaction_id", "invoice_no"], sort=True).agg(
        amount_cents=("amount_cents", "first"), created_at=("created_at", "first"),
        earlier=("transaction_id_earlier", lambda ids: ",".join(map(str, sorted(set(ids))))),
        applied=("applied_cents", "sum")).reset_index()
    tid = grouped["transaction_id"].astype(str).to_numpy(dtype=object)
    invoice_no = grouped["invoice_no"].to_numpy(dtype=object)
    earlier = grouped["earlier"].to_numpy(dtype=object)
    return flag_rows(
        RULE, "error", transaction_id=grouped["transaction_id"], score=100.0 * np.ones(len(grouped)),
        amount_cents=grouped["amount_cents"], occurred_at=grouped["created_at"], related_ids=earlier,
        evidence="invoice " + invoice_no + " already received " + money(grouped["applied"]) + " from " + earlier,
        explanation="Transaction " + tid + " (" + money(grouped["amount_cents"]) + ") pays invoice " + invoice_no
                    + ", which transaction " + earlier + " already paid; ask the customer whether this was meant for "
                    "another invoice, else refund it.")
