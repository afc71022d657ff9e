"""Which Sage customer each vault profile belongs to: one customer per profile, never a guess.

Cascade, each step seeing only what earlier steps left:
1. the operator's link (config `customer_links`, `customers link`);
2. the link a previous sync stored;
3. the Sage card saved under the vault id (AR_CustomerCreditCard.CreditCardGUID), one customer only;
4. e-mail and billing ZIP (5 digits) both equal, one active customer only;
5. the payment cascade (domain/matching/customers.py) on what is left: e-mail alone, one customer
   only, then the billing name fuzzy-matched within the ZIP.
Several candidates are an `ambiguous_customer` exception naming them; no candidate leaves the
profile unlinked (to be created when `customers.auto_create` allows, else an exception).
A link to a customer Sage no longer has is kept and flagged, so the plan can treat it like an
inactive customer instead of linking the profile elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync.fields import text
from sage_paytrace_pipeline.domain.matching.customers import resolve_customers
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

LINK_COLUMNS = ("vault_id", "division", "customer_no", "method", "explanation")
EXCEPTION_COLUMNS = ("kind", "severity", "vault_id", "customer", "source_ids", "problem", "action")
LINK_ACTION = ("Link the profile to its Sage customer: sage-paytrace customers link <vault id> <division>-<customer no>"
               "; the next sync picks it up")


@dataclass(frozen=True)
class Linking:
    links: pd.DataFrame  # LINK_COLUMNS
    unlinked: pd.DataFrame  # vault profiles no step found a customer for (vault frame rows)
    exceptions: pd.DataFrame  # EXCEPTION_COLUMNS


def empty_links() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in LINK_COLUMNS})


def empty_exceptions() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in EXCEPTION_COLUMNS})


def exception_frame(kind: str, severity: str, *, vault_id, customer, source_ids, problem, action) -> pd.DataFrame:
    size = len(vault_id)
    columns = {"kind": kind, "severity": severity, "vault_id": vault_id, "customer": customer,
               "source_ids": source_ids, "problem": problem, "action": action}
    frame = pd.DataFrame({k: (np.full(size, v, dtype=object) if isinstance(v, str) else np.asarray(v, dtype=object))
                          for k, v in columns.items()})
    return frame.loc[:, list(EXCEPTION_COLUMNS)]


def link_profiles(vault: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame, *,
                  operator_links: pd.DataFrame, stored_links: pd.DataFrame,
                  policy: MatchingPolicy | None = None) -> Linking:
    remaining = vault[["customer_id", "billing_name", "billing_zip", "email"]].rename(
        columns={"customer_id": "vault_id"}).reset_index(drop=True)
    found: list[pd.DataFrame] = []
    for method, candidates in (("operator_link", _given(operator_links)), ("stored_link", _given(stored_links))):
        linked = remaining.merge(candidates, on="vault_id", how="inner")
        linked["method"], linked["explanation"] = method, f"linked by the {method.replace('_', ' ')}"
        found.append(linked)
        remaining = remaining[~remaining["vault_id"].isin(linked["vault_id"])]
    active = customers[customers["status"].fillna("A") != "I"]
    for method, keys in (("sage_card", _by_card), ("email_and_zip", _by_email_and_zip)):
        left, right = keys(remaining, cards, active)
        linked = _unique(pd.DataFrame({"key": left, "vault_id": remaining["vault_id"].to_numpy()}), right)
        linked["method"] = method
        linked["explanation"] = ("the Sage card saved under the vault id" if method == "sage_card"
                                 else "e-mail and billing ZIP equal to the customer's")
        found.append(linked)
        remaining = remaining[~remaining["vault_id"].isin(linked["vault_id"])]
    cascade, problems, unlinked_ids = _payment_cascade(remaining, customers, cards, policy)
    found.append(cascade)
    links = pd.concat([frame.loc[:, list(LINK_COLUMNS)] for frame in found], ignore_index=True).astype(object)
    unlinked = vault[vault["customer_id"].isin(unlinked_ids)]
    return Linking(links.sort_values("vault_id", ignore_index=True), unlinked, problems)


def _given(links: pd.DataFrame) -> pd.DataFrame:
    if links.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in ("vault_id", "division", "customer_no")})
    return links.loc[:, ["vault_id", "division", "customer_no"]].drop_duplicates("vault_id", keep="first")


def _by_card(remaining: pd.DataFrame, cards: pd.DataFrame, active: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    right = cards.loc[:, ["credit_card_guid", "division", "customer_no"]].rename(columns={"credit_card_guid": "key"})
    return remaining["vault_id"].to_numpy(dtype=object), right[text(right["key"]) != ""]


def _by_email_and_zip(remaining: pd.DataFrame, cards: pd.DataFrame,
                      active: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    right = pd.DataFrame({"key": _email_zip(active["email"], active["zip_code"]),
                          "division": active["division"].to_numpy(), "customer_no": active["customer_no"].to_numpy()})
    return _email_zip(remaining["email"], remaining["billing_zip"]), right[right["key"] != ""]


def _email_zip(email: pd.Series, zip_code: pd.Series) -> np.ndarray:
    mail, zip5 = text(email).str.lower(), text(zip_code).str[:5]
    return np.where((mail != "") & (zip5 != ""), mail + "|" + zip5, "").astype(object)


def _unique(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Profiles whose key names exactly one customer (a key of several customers links nothing here:
    the payment cascade after it reports the candidates)."""
    left = left[left["key"] != ""]
    pairs = left.merge(right, on="key", how="inner").drop_duplicates(["vault_id", "division", "customer_no"])
    count = pairs.groupby("vault_id")["customer_no"].transform("size")
    return pairs[count == 1].drop(columns="key").reset_index(drop=True)


def _payment_cascade(remaining: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame,
                     policy: MatchingPolicy | None) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """The payment matcher on the profiles left, each profile as a payment numbered by its position."""
    vault_ids = remaining["vault_id"].to_numpy(dtype=object)
    if len(vault_ids) == 0:
        return empty_links(), empty_exceptions(), set()
    payers = pd.DataFrame({"transaction_id": np.arange(len(vault_ids), dtype="int64"), "customer_id": vault_ids,
                           "email": remaining["email"].to_numpy(dtype=object),
                           "billing_name": remaining["billing_name"].to_numpy(dtype=object),
                           "billing_zip": remaining["billing_zip"].to_numpy(dtype=object),
                           "invoice_id": "", "description": ""})
    no_links = pd.DataFrame({column: pd.Series(dtype=object) for column in ("customer_id", "division", "customer_no")})
    no_invoices = pd.DataFrame({"division": pd.Series(dtype=object), "customer_no": pd.Series(dtype=object),
                                "invoice_no": pd.Series(dtype=object), "invoice_type": pd.Series(dtype=object),
                                "balance_cents": pd.Series(dtype="int64")})
    matched, problems = resolve_customers(payers, customers, cards.loc[:, ["division", "customer_no",
                                                                           "credit_card_guid"]],
                                          no_invoices, links=no_links, policy=policy or MatchingPolicy())
    links = pd.DataFrame({"vault_id": vault_ids[matched["transaction_id"].to_numpy("int64")],
                          "division": matched["division"].to_numpy(), "customer_no": matched["customer_no"].to_numpy(),
                          "method": matched["method"].to_numpy(), "explanation": "payment cascade: " +
                          matched["explanation"].astype(str).str.replace(r"^transaction \d+: ", "", regex=True)})
    ambiguous = problems[problems["kind"] == "ambiguous_customer"]
    ids = vault_ids[ambiguous["transaction_id"].to_numpy("int64")]
    candidates = ambiguous["source_ids"].astype(str).str.split(" sage:", n=1).str[1].fillna("").to_numpy(dtype=object)
    exceptions = exception_frame(
        "ambiguous_customer", "error", vault_id=ids, customer="",
        source_ids="paytrace:" + ids.astype(str) + " sage:" + candidates,
        problem="vault profile " + ids.astype(str) + " fits several Sage customers (" + candidates + "); not linked",
        action=LINK_ACTION + " (pick one of " + candidates + ")")
    excepted = set(ids.tolist())
    unlinked = set(vault_ids.tolist()) - set(links["vault_id"].tolist()) - excepted
    return links, exceptions, unlinked
