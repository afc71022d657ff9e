"""Ranked suggestions for the exceptions a person must resolve: who paid, or which invoices it pays.

`suggest` takes the day's exceptions and returns up to `policy.candidates` ranked candidates per
unknown_customer / ambiguous_customer exception (Sage customers, see customers.py) and per
unapplied_payment exception (the customer's open invoices, see invoices.py), each with a score
(0-100, the sum of the evidence's points) and the reasons in words. Pure and column-wise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, extract_invoice_references
from sage_paytrace_pipeline.domain.suggestions.customers import customer_candidates, payers_frame
from sage_paytrace_pipeline.domain.suggestions.invoices import invoice_candidates
from sage_paytrace_pipeline.domain.suggestions.ledger import Ledger
from sage_paytrace_pipeline.domain.suggestions.policy import SuggestionPolicy

__all__ = ["CUSTOMER_KINDS", "INVOICE_KINDS", "SUGGESTION_COLUMNS", "Ledger", "SuggestionPolicy", "asked_about",
           "best_suggestions", "references_of_days", "suggest"]

CUSTOMER_KINDS = ("unknown_customer", "ambiguous_customer")
INVOICE_KINDS = ("unapplied_payment",)
SUGGESTION_COLUMNS = ("transaction_id", "exception_kind", "rank", "target", "division", "customer_no",
                      "invoice_nos", "score", "reasons")


def suggest(exceptions: pd.DataFrame, payments: pd.DataFrame, customers: pd.DataFrame, open_invoices: pd.DataFrame,
            *, customer_links: pd.DataFrame | None = None, vault_links: pd.DataFrame | None = None,
            policy: SuggestionPolicy | None = None, matching: MatchingPolicy | None = None,
            references: pd.DataFrame | None = None, ledger: Ledger | None = None) -> pd.DataFrame:
    """customer_links: the day's (transaction_id, division, customer_no); vault_links: (customer_id, division,
    customer_no) known before (operator links and earlier days' matches); matching: how invoice numbers are
    read from the payment (the same reading as matching's) and which invoice types a payment may pay;
    references: those numbers read for several days at once (`references_of_days`), else read here; ledger:
    `customers` and `open_invoices` as `Ledger(customers, open_invoices)`, shared by the days that read them."""
    policy, matching = policy or SuggestionPolicy(), matching or MatchingPolicy()
    ledger = ledger if ledger is not None else Ledger(customers, open_invoices)
    vault_links = vault_links if vault_links is not None else pd.DataFrame(
        columns=["customer_id", "division", "customer_no"])
    kinds = _kinds(exceptions)
    about = asked_about(exceptions, payments)
    if references is None:
        references = extract_invoice_references(about, matching)
    else:  # each payment's own rows (the reading is payment by payment)
        references = references[references["transaction_id"].isin(about["transaction_id"].astype("int64"))]
    payers = payers_frame(about, references).merge(kinds, on="transaction_id")
    parts = []
    who = payers[payers["kind"].isin(CUSTOMER_KINDS)]
    if len(who):
        parts.append(customer_candidates(who.drop(columns="kind"), ledger, vault_links, policy)
                     .assign(target="customer", invoice_nos=""))
    which = payers[payers["kind"].isin(INVOICE_KINDS)]
    if len(which) and customer_links is not None and len(customer_links):
        paid_on = pd.to_datetime(about["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
        dates = pd.DataFrame({"transaction_id": about["transaction_id"].astype("int64").to_numpy(),
                              "paid_on": paid_on.to_numpy()})
        parts.append(invoice_candidates(which.drop(columns="kind").merge(dates, on="transaction_id"),
                                        customer_links.astype({"transaction_id": "int64"}), ledger,
                                        matching.applicable_invoice_types, policy).assign(target="invoice"))
    parts = [part for part in parts if len(part)]
    if not parts:
        return _empty()
    found = pd.concat(parts, ignore_index=True).merge(kinds.rename(columns={"kind": "exception_kind"}),
                                                       on="transaction_id")
    found = found.sort_values(["transaction_id", "score", "division", "customer_no", "invoice_nos"],
                              ascending=[True, False, True, True, True], kind="stable")
    found = found.drop_duplicates(["transaction_id", "division", "customer_no", "invoice_nos"])
    found["rank"] = found.groupby("transaction_id").cumcount() + 1
    found = found[found["rank"] <= policy.candidates]
    return found.loc[:, list(SUGGESTION_COLUMNS)].astype({"rank": "int64", "score": "float64"}).reset_index(drop=True)


def _kinds(exceptions: pd.DataFrame) -> pd.DataFrame:
    return exceptions[["transaction_id", "kind"]].dropna().astype({"transaction_id": "int64"}).drop_duplicates(
        "transaction_id")


def asked_about(exceptions: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """The payments the exceptions are about."""
    return payments[payments["transaction_id"].astype("int64").isin(_kinds(exceptions)["transaction_id"])]


def references_of_days(days: list[tuple[pd.DataFrame, pd.DataFrame]], matching: MatchingPolicy) -> pd.DataFrame | None:
    """The invoice numbers the payers of several days' (exceptions, payments) wrote, read in one pass: each
    payment's rows are the ones its own day's reading gives. None when a payment is asked about on two days
    (each day then reads its own)."""
    about = [asked_about(exceptions, payments) for exceptions, payments in days]
    about = [frame for frame in about if len(frame)] or about[:1]
    if not about:
        return None
    every = pd.concat(about, ignore_index=True) if len(about) > 1 else about[0]
    if every["transaction_id"].astype("int64").duplicated().any():
        return None
    return extract_invoice_references(every, matching)


def _empty() -> pd.DataFrame:
    dtypes = {"transaction_id": "int64", "rank": "int64", "score": "float64"}
    return pd.DataFrame({column: pd.Series(dtype=dtypes.get(column, object)) for column in SUGGESTION_COLUMNS})


def best_suggestions(suggestions: pd.DataFrame) -> pd.Series:
    """The first suggestion of each exception as one line ("01-ACME (72: same e-mail; ...)"), by transaction_id."""
    first = suggestions[suggestions["rank"] == 1]
    target = first["division"].astype(str) + "-" + first["customer_no"].astype(str)
    target = np.where(first["invoice_nos"].astype(str) != "", target + " invoice " + first["invoice_nos"].astype(str),
                      target)
    text = target + " (" + first["score"].round().astype("int64").astype(str) + ": " + first["reasons"] + ")"
    return pd.Series(text.to_numpy() if hasattr(text, "to_numpy") else text, index=first["transaction_id"].to_numpy())
