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

The payment cascade (fuzzy names) is the costly step, and a profile it could not place stays
unplaced until the profile or Sage's customers change: what it decided is remembered per profile
fingerprint (`UNMATCHED_COLUMNS`: no candidate, or ambiguous with its candidates), and a profile
whose fingerprint is in `cached_unmatched` gets the same outcome without the cascade. The caller
passes the cache only while Sage's customers are the ones it was made against (`sage_fingerprint`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync.fields import text
from sage_paytrace_pipeline.domain.matching.customers import resolve_customers
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

LINK_COLUMNS = ("vault_id", "division", "customer_no", "method", "explanation")
EXCEPTION_COLUMNS = ("kind", "severity", "vault_id", "customer", "source_ids", "problem", "action")
UNMATCHED_COLUMNS = ("vault_id", "fingerprint", "outcome", "candidates")  # outcome: none | ambiguous
LINK_ACTION = ("Link the profile to its Sage customer: sage-paytrace customers link <vault id> <division>-<customer no>"
               "; the next sync picks it up")


@dataclass(frozen=True)
class Linking:
    links: pd.DataFrame  # LINK_COLUMNS
    unlinked: pd.DataFrame  # vault profiles no step found a customer for (vault frame rows)
    exceptions: pd.DataFrame  # EXCEPTION_COLUMNS
    unmatched: pd.DataFrame  # UNMATCHED_COLUMNS: what the payment cascade left unplaced (the next run's cache)
    cascaded: int = 0  # profiles the payment cascade ran on (those the cache did not answer)


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


def empty_unmatched() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in UNMATCHED_COLUMNS})


def profile_fingerprints(profiles: pd.DataFrame) -> np.ndarray:
    """What the payment cascade reads of a profile (e-mail, billing name, ZIP), hashed (pandas' fixed-key
    row hash: the same text gives the same fingerprint in every run)."""
    read = pd.DataFrame({"email": text(profiles["email"]).str.lower(), "name": text(profiles["billing_name"]),
                         "zip": text(profiles["billing_zip"])})
    hashes = pd.util.hash_pandas_object(read, index=False).to_numpy()
    return np.char.mod("%016x", hashes).astype(object)


# What the linking steps and the payment cascade read of a Sage customer (a phone or street edit
# does not make an unplaced profile worth trying again).
_MATCHED_CUSTOMER_COLUMNS = ("division", "customer_no", "name", "email", "zip_code", "status", "credit_card_guid")


def sage_fingerprint(customers: pd.DataFrame, cards: pd.DataFrame) -> str:
    """Sage's customers and saved cards as linking sees them, hashed whatever their row order."""
    digest = hashlib.sha256()
    read = customers.loc[:, [column for column in _MATCHED_CUSTOMER_COLUMNS if column in customers.columns]]
    for frame in (read, cards.loc[:, ["division", "customer_no", "credit_card_guid"]]):
        rows = pd.util.hash_pandas_object(frame.astype(object).fillna(""), index=False).to_numpy()
        digest.update(np.sort(rows).tobytes())
        digest.update(str(list(frame.columns)).encode())
    return digest.hexdigest()


def link_profiles(vault: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame, *,
                  operator_links: pd.DataFrame, stored_links: pd.DataFrame,
                  policy: MatchingPolicy | None = None, cached_unmatched: pd.DataFrame | None = None) -> Linking:
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
    remaining = remaining.assign(fingerprint=profile_fingerprints(remaining))
    known = remaining.merge(cached_unmatched if cached_unmatched is not None else empty_unmatched(),
                            on=["vault_id", "fingerprint"], how="inner")
    fresh = remaining[~remaining["vault_id"].isin(known["vault_id"])]
    cascade, problems, unmatched = _payment_cascade(fresh, customers, cards, policy)
    found.append(cascade)
    unmatched = pd.concat([unmatched, known.loc[:, list(UNMATCHED_COLUMNS)]], ignore_index=True).astype(object)
    ambiguous = unmatched[unmatched["outcome"] == "ambiguous"]
    problems = ambiguous_exceptions(ambiguous["vault_id"].to_numpy(dtype=object),
                                    ambiguous["candidates"].to_numpy(dtype=object))
    links = pd.concat([frame.loc[:, list(LINK_COLUMNS)] for frame in found], ignore_index=True).astype(object)
    unlinked_ids = set(unmatched.loc[unmatched["outcome"] == "none", "vault_id"])
    unlinked = vault[vault["customer_id"].isin(unlinked_ids)]
    return Linking(links.sort_values("vault_id", ignore_index=True), unlinked, problems,
                   unmatched.sort_values("vault_id", ignore_index=True), cascaded=len(fresh))


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


def ambiguous_exceptions(ids: np.ndarray, candidates: np.ndarray) -> pd.DataFrame:
    """`ambiguous_customer` exceptions: each profile with the Sage customers it fits ("01-A, 01-B")."""
    if len(ids) == 0:
        return empty_exceptions()
    ids, candidates = ids.astype(str).astype(object), candidates.astype(str).astype(object)
    return exception_frame(
        "ambiguous_customer", "error", vault_id=ids, customer="",
        source_ids="paytrace:" + ids + " sage:" + candidates,
        problem="vault profile " + ids + " fits several Sage customers (" + candidates + "); not linked",
        action=LINK_ACTION + " (pick one of " + candidates + ")")


def _payment_cascade(remaining: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame,
                     policy: MatchingPolicy | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The payment matcher on the profiles left, each profile as a payment numbered by its position:
    links, exceptions, and what it left unplaced (UNMATCHED_COLUMNS)."""
    vault_ids = remaining["vault_id"].to_numpy(dtype=object)
    if len(vault_ids) == 0:
        return empty_links(), empty_exceptions(), empty_unmatched()
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
    exceptions = ambiguous_exceptions(ids, candidates)
    fingerprint = dict(zip(remaining["vault_id"], remaining["fingerprint"], strict=True))
    placed = set(links["vault_id"].tolist()) | set(ids.tolist())
    none = [vault_id for vault_id in vault_ids.tolist() if vault_id not in placed]
    unmatched = pd.DataFrame({"vault_id": [*ids.tolist(), *none],
                              "fingerprint": [fingerprint[v] for v in [*ids.tolist(), *none]],
                              "outcome": ["ambiguous"] * len(ids) + ["none"] * len(none),
                              "candidates": [*candidates.tolist(), *[""] * len(none)]}, dtype=object)
    return links, exceptions, unmatched
