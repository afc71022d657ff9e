"""Which invoices a resolved payment pays, and how much each: running balances, never above one.

Referenced invoices (only the customer's own, open, payable types) in the order the payer wrote
them; without a reference, the customer's only open invoice of exactly the payment's amount.
Payments are taken in (created_at, transaction_id) order; an invoice closed by an earlier payment
of the same run takes nothing more. A remainder becomes a prepayment and an `overpayment` warning.
A payment that names an invoice it cannot pay is held whole (an exception, no applications):
posting the rest would leave the operator to unpick a receipt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.exceptions import cents_text, concat_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.matching.open_invoices import OpenInvoiceIndex, index_open_invoices
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references

APPLICATION_COLUMNS = ("transaction_id", "division", "customer_no", "invoice_no", "invoice_type", "amount_cents",
                       "method", "score", "explanation")
_KEY = ["division", "customer_no"]
_METHOD_BY_SOURCE = {"invoice_id": "invoice_id_exact", "description": "description_reference"}
_SCORE_BY_METHOD = {"invoice_id_exact": 100.0, "description_reference": 95.0, "customer_amount_unique": 90.0}


def apply_payments(
    payments: pd.DataFrame,
    customer_links: pd.DataFrame,
    open_invoices: pd.DataFrame,
    policy: MatchingPolicy | None = None,
    references: pd.DataFrame | None = None,
    index: OpenInvoiceIndex | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(applications, exceptions); each payment's applications sum exactly to its amount, or it has none."""
    policy = policy or MatchingPolicy()
    resolved = _resolved_payments(payments, customer_links)
    if references is None:
        references = extract_invoice_references(payments[payments["transaction_id"].isin(resolved["transaction_id"])],
                                                policy)
    index = index or index_open_invoices(open_invoices, policy)
    refs = references.merge(resolved[["transaction_id", *_KEY]], on="transaction_id")

    own, unpayable = _own_invoices(refs, index)
    held = set(unpayable["transaction_id"])
    problems = [_unpayable_references(unpayable, index, resolved)]

    by_reference = own[~own["transaction_id"].isin(held)]
    by_reference = by_reference.assign(method=by_reference["source"].map(_METHOD_BY_SOURCE))
    unreferenced = resolved[~resolved["transaction_id"].isin(refs["transaction_id"])]
    by_amount, unapplied = _unique_amount_matches(unreferenced, index, policy)
    problems.append(_unapplied(unapplied, policy))

    pairs = pd.concat([by_reference.drop(columns=["source"]), by_amount], ignore_index=True)
    pairs = pairs.merge(resolved[["transaction_id", "amount_cents", "order"]], on="transaction_id")
    pairs = pairs.sort_values(["order", "position"], ignore_index=True)
    pairs["applied_cents"] = allocate(pairs)

    applications = [_invoice_applications(pairs)]
    remainders = _remainders(pairs, resolved, refs)
    applications.append(_prepayments(remainders, policy, "overpayment remainder"))
    problems.append(_overpayments(remainders))
    if policy.post_unapplied_as_prepayment:
        applications.append(_prepayments(unapplied.assign(first_invoice=None, remainder_cents=unapplied["amount_cents"],
                                                           taken_cents=0), policy, "no invoice identified"))
    frame = pd.concat(applications, ignore_index=True).loc[:, list(APPLICATION_COLUMNS)]
    frame = frame.astype({"transaction_id": "int64", "amount_cents": "int64", "score": "float64"})
    return frame.sort_values(["transaction_id"], kind="stable", ignore_index=True), concat_exceptions(problems)


def allocate(pairs: pd.DataFrame) -> np.ndarray:
    """Cents each (payment, invoice) pair takes, pairs sorted in processing order (payment, then position).

    Sequentially, a pair takes min(what its payment still has, what its invoice still owes). That is
    a triangular system: solved here by whole-array (Jacobi) sweeps, each exact for one more link of
    the longest chain of payments sharing invoices, so it stops after a few sweeps in practice.
    """
    if pairs.empty:
        return np.zeros(0, dtype="int64")
    amount = pairs["amount_cents"].to_numpy("int64")
    balance = pairs["balance_cents"].to_numpy("int64")
    payment_start = _group_starts(pairs["transaction_id"].to_numpy())
    by_invoice = np.lexsort((np.arange(len(pairs)), pairs["invoice_id"].to_numpy()))
    invoice_start = _group_starts(pairs["invoice_id"].to_numpy()[by_invoice])
    available = balance.copy()
    for _ in range(len(pairs) + 1):
        before = _cumsum_before(available, payment_start)
        applied = np.clip(amount - before, 0, available)
        taken_before = np.empty_like(applied)
        taken_before[by_invoice] = _cumsum_before(applied[by_invoice], invoice_start)
        still_open = np.maximum(balance - taken_before, 0)
        if np.array_equal(still_open, available):
            return applied
        available = still_open
    raise AssertionError("allocation did not converge")  # impossible: each sweep fixes one more pair


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """For each element, the index where its (contiguous) group starts."""
    new_group = np.ones(len(sorted_keys), dtype=bool)
    new_group[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return np.maximum.accumulate(np.where(new_group, np.arange(len(sorted_keys)), 0))


def _cumsum_before(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of the earlier values of the same group (exclusive cumulative sum)."""
    total = np.cumsum(values) - values
    return total - total[starts]


# ---------------------------------------------------------------- inputs


def _resolved_payments(payments: pd.DataFrame, customer_links: pd.DataFrame) -> pd.DataFrame:
    columns = ["transaction_id", "amount_cents"] + (["created_at"] if "created_at" in payments else [])
    resolved = customer_links[["transaction_id", *_KEY]].merge(payments[columns], on="transaction_id")
    order_by = ["created_at", "transaction_id"] if "created_at" in resolved else ["transaction_id"]
    resolved = resolved.sort_values(order_by, kind="stable", na_position="last", ignore_index=True)
    resolved["order"] = np.arange(len(resolved), dtype="int64")
    return resolved


_INVOICE_COLUMNS = ["invoice_type", "balance_cents", "invoice_id"]


def _own_invoices(refs: pd.DataFrame, index: OpenInvoiceIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(references open for their payment's own customer, with the invoice's columns; the others)."""
    payable = index.payable
    width = max(len(index.invoice_nos), 1)
    customer, invoice = index.customer_key(refs), index.invoice_key(refs["invoice_no"])
    wanted = np.where((customer >= 0) & (invoice >= 0), customer * width + invoice, -1)
    # (customer, invoice) is unique among payable invoices: a hash look-up, not a merge
    keys = pd.Index(payable["customer_key"].to_numpy() * width + payable["invoice_key"].to_numpy())
    at = np.where(wanted >= 0, keys.get_indexer(wanted), -1)
    found = at >= 0
    own = refs[found].assign(**{c: payable[c].to_numpy()[at[found]] for c in _INVOICE_COLUMNS})
    return own, refs[~found]


def _unique_amount_matches(unreferenced: pd.DataFrame, index: OpenInvoiceIndex, policy: MatchingPolicy):
    """(pairs for payments with exactly one same-amount open invoice, the other payments with a count)."""
    payers = unreferenced[["transaction_id", *_KEY, "amount_cents"]]
    payers = payers.assign(customer_key=index.customer_key(payers))
    same_customer = payers.merge(index.payable[["customer_key", "invoice_no", *_INVOICE_COLUMNS]], on="customer_key")
    same_customer = same_customer.drop(columns="customer_key")
    near = (same_customer["balance_cents"] - same_customer["amount_cents"]).abs() <= policy.amount_tolerance_cents
    candidates = same_customer[near]
    count = candidates.groupby("transaction_id")["invoice_no"].transform("size")
    chosen = candidates[count == 1].drop(columns="amount_cents").assign(method="customer_amount_unique", position=0)
    counts = candidates.groupby("transaction_id").size()
    unapplied = unreferenced[~unreferenced["transaction_id"].isin(chosen["transaction_id"])]
    unapplied = unapplied.assign(candidates=unapplied["transaction_id"].map(counts).fillna(0).astype("int64"))
    return chosen, unapplied


# ---------------------------------------------------------------- outputs


def _label(frame: pd.DataFrame) -> pd.Series:
    return frame["division"].astype(str) + "-" + frame["customer_no"].astype(str)


def _format(template: str, index: pd.Index, **columns: pd.Series) -> pd.Series:
    """template.format(**row) for each row, in one Python pass: at a million rows this is several
    times cheaper than chaining pandas string concatenations (each one a pass of its own)."""
    # named fields -> positional ones once, so no dict is built per row
    positional = template.format_map({name: f"{{{i}}}" for i, name in enumerate(columns)}).format
    values = [column.tolist() for column in columns.values()]
    return pd.Series([positional(*row) for row in zip(*values)], index=index, dtype=object)


def _invoice_applications(pairs: pd.DataFrame) -> pd.DataFrame:
    taken = pairs[pairs["applied_cents"] > 0]
    left_open = taken["balance_cents"] - taken["applied_cents"]  # of what this payment found open
    partial = (" (partial payment, " + cents_text(left_open) + " stays open)").where(left_open > 0, "")
    explanation = _format(
        "invoice {invoice} of {division}-{customer} {how}: {applied}{partial}", taken.index,
        invoice=taken["invoice_no"], division=taken["division"], customer=taken["customer_no"],
        how=taken["method"].map({"invoice_id_exact": "named in invoice_id", "description_reference": "named in the description",
                                 "customer_amount_unique": "is the customer's only open invoice of this amount"}),
        applied=cents_text(taken["applied_cents"]), partial=partial,
    )
    return pd.DataFrame({
        "transaction_id": taken["transaction_id"], "division": taken["division"], "customer_no": taken["customer_no"],
        "invoice_no": taken["invoice_no"], "invoice_type": taken["invoice_type"], "amount_cents": taken["applied_cents"],
        "method": taken["method"], "score": taken["method"].map(_SCORE_BY_METHOD), "explanation": explanation,
    })


def _remainders(pairs: pd.DataFrame, resolved: pd.DataFrame, refs: pd.DataFrame) -> pd.DataFrame:
    """Payments with pairs whose invoices could not take the whole amount."""
    taken = pairs.groupby("transaction_id")["applied_cents"].sum()
    paying = resolved[resolved["transaction_id"].isin(taken.index)]
    paying = paying.assign(taken_cents=paying["transaction_id"].map(taken).astype("int64"))
    paying["remainder_cents"] = paying["amount_cents"] - paying["taken_cents"]
    first = refs.sort_values("position").drop_duplicates("transaction_id").set_index("transaction_id")["invoice_no"]
    out = paying[paying["remainder_cents"] > 0]
    listed = pairs[pairs["transaction_id"].isin(out["transaction_id"])]
    invoices = _joined(listed["transaction_id"], listed["invoice_no"])
    return out.assign(first_invoice=out["transaction_id"].map(first), invoices=out["transaction_id"].map(invoices))


def _joined(group: pd.Series, text: pd.Series) -> pd.Series:
    """", ".join of text per group (in row order); most groups have one row, which need no Python join."""
    size = group.map(group.value_counts())
    single = text[(size == 1).to_numpy()].set_axis(group[(size == 1).to_numpy()])
    several = text[(size > 1).to_numpy()].groupby(group[(size > 1).to_numpy()].to_numpy()).agg(", ".join)
    return pd.concat([single, several])


def _prepayments(rows: pd.DataFrame, policy: MatchingPolicy, why: str) -> pd.DataFrame:
    generated = "P" + rows["transaction_id"].astype(str).str[-6:].str.zfill(6)
    invoice_no = rows["first_invoice"].astype(object).where(rows["first_invoice"].notna(), generated)
    return pd.DataFrame({
        "transaction_id": rows["transaction_id"], "division": rows["division"], "customer_no": rows["customer_no"],
        "invoice_no": invoice_no, "invoice_type": policy.prepayment_invoice_type,
        "amount_cents": rows["remainder_cents"], "method": "prepayment", "score": 100.0,
        "explanation": _format("{remainder} of {amount} left as prepayment {invoice} on {label} ({why})", rows.index,
                               remainder=cents_text(rows["remainder_cents"]), amount=cents_text(rows["amount_cents"]),
                               invoice=invoice_no, label=_label(rows), why=pd.Series(why, index=rows.index)),
    })


def _overpayments(rows: pd.DataFrame) -> pd.DataFrame:
    tid, index = rows["transaction_id"], rows.index
    columns = {"tid": tid, "invoices": rows["invoices"], "label": _label(rows), "amount": cents_text(rows["amount_cents"]),
               "taken": cents_text(rows["taken_cents"]), "remainder": cents_text(rows["remainder_cents"])}
    return make_exceptions(
        "overpayment", "warning", tid,
        source_ids=_format("paytrace:{tid} invoices:{invoices}", index, **columns),
        problem=_format("transaction {tid} paid {amount} but invoice(s) {invoices} of {label} had only {taken} open; "
                        "{remainder} posted as a prepayment", index, **columns),
        action=_format("Apply the prepayment of {label} to its next invoice in Sage, or refund {remainder} in PayTrace "
                       "if it was paid twice", index, **columns),
    )


def _unpayable_references(unpayable: pd.DataFrame, index: OpenInvoiceIndex, resolved: pd.DataFrame) -> pd.DataFrame:
    """invoice_of_another_customer / invoice_not_open, one per (payment, invoice); the payment is held."""
    if unpayable.empty:
        return concat_exceptions([])
    payable = index.payable
    # owners of the numbers named only, not a string join over every open invoice
    payable = payable[payable["invoice_key"].isin(index.invoice_key(unpayable["invoice_no"]))]
    owners = payable[["invoice_no", *_KEY]].rename(columns={"division": "owner_division", "customer_no": "owner_no"})
    owners = owners.assign(owner=owners["owner_division"] + "-" + owners["owner_no"])
    owners = owners.groupby("invoice_no")["owner"].agg(", ".join)
    rows = unpayable[["transaction_id", *_KEY, "invoice_no"]].merge(
        resolved[["transaction_id", "amount_cents"]], on="transaction_id")
    rows = rows.assign(owner=rows["invoice_no"].map(owners))
    other = rows[rows["owner"].notna()]
    closed = rows[rows["owner"].isna()]
    return concat_exceptions([
        make_exceptions(
            "invoice_of_another_customer", "error", other["transaction_id"],
            source_ids="paytrace:" + other["transaction_id"].astype(str) + " invoice:" + other["invoice_no"],
            problem="transaction " + other["transaction_id"].astype(str) + " of " + _label(other) + " names invoice "
            + other["invoice_no"] + ", which is open for " + other["owner"] + "; the whole payment ("
            + cents_text(other["amount_cents"]) + ") is held",
            action="Find out who paid: if the customer link is wrong fix it (sage-paytrace link add, or customer_links "
            "in config); otherwise enter the receipt by hand in Sage for " + _label(other),
        ),
        make_exceptions(
            "invoice_not_open", "error", closed["transaction_id"],
            source_ids="paytrace:" + closed["transaction_id"].astype(str) + " invoice:" + closed["invoice_no"],
            problem="transaction " + closed["transaction_id"].astype(str) + " of " + _label(closed) + " names invoice "
            + closed["invoice_no"] + ", which is not an open invoice in Sage" + "; the whole payment ("
            + cents_text(closed["amount_cents"]) + ") is held",
            action="Check invoice " + closed["invoice_no"] + " in Sage (already paid, a typo, or not yet invoiced); "
            "enter the receipt by hand for " + _label(closed) + " or refund the payment if it was paid twice",
        ),
    ])


def _unapplied(rows: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    tid = rows["transaction_id"]
    posted = policy.post_unapplied_as_prepayment
    why = pd.Series(np.where(rows["candidates"] == 0, "no open invoice has exactly that amount",
                             "several open invoices have exactly that amount"), index=rows.index)
    return make_exceptions(
        "unapplied_payment", "warning" if posted else "error", tid,
        source_ids="paytrace:" + tid.astype(str) + " customer:" + _label(rows),
        problem="transaction " + tid.astype(str) + " of " + _label(rows) + " (" + cents_text(rows["amount_cents"])
        + ") names no invoice and " + why + ("; posted as a prepayment" if posted else "; not posted"),
        action=("Apply the prepayment to the right invoice in Sage" if posted else
                "Enter the receipt by hand in Sage for " + _label(rows) + " against the right invoice(s), with "
                "credit card transaction id " + tid.astype(str) + " so the pipeline sees it as posted"),
    )
