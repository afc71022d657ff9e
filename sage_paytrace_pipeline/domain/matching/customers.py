"""Who paid: PayTrace payer -> Sage customer (division, number), by a cascade of decreasing certainty.

1. stored link or vault id: the operator's link for the vault customer_id, else the Sage card whose
   CreditCardGUID is the vault id;
2. invoice reference: an invoice number in the payment that is open for exactly one customer;
3. e-mail: exact (trimmed, case-insensitive), one customer only;
4. fuzzy billing name within the same ZIP (rapidfuzz token_sort_ratio), one clear winner only.
Each step sees only what earlier steps left. Several candidates are an exception, never a guess;
a vault link contradicted by the invoice the payer named is a conflict, not applied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.matching.open_invoices import OpenInvoiceIndex, index_open_invoices
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references

LINK_COLUMNS = ("transaction_id", "division", "customer_no", "method", "score", "explanation")
_KEY = ["division", "customer_no"]
_LINK_ACTION = (
    "Link the payer to the right Sage customer: sage-paytrace link add <vault id> <division>-<customer no>, "
    "or add it to customer_links in config; the next run picks the payment up again"
)


def resolve_customers(
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    cards: pd.DataFrame,
    open_invoices: pd.DataFrame,
    links: pd.DataFrame,
    policy: MatchingPolicy | None = None,
    references: pd.DataFrame | None = None,
    index: OpenInvoiceIndex | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customer_links, exceptions) for the payments given (eligibility is the caller's business)."""
    policy = policy or MatchingPolicy()
    if references is None:
        references = extract_invoice_references(payments, policy)
    payers = _payers(payments)
    open_refs = _open_references(references, index or index_open_invoices(open_invoices, policy))
    resolved, problems = [], []
    remaining = payers

    for step in (_by_vault, _by_invoice, _by_email, _by_name_and_zip):
        found, issues = step(remaining, customers=customers, cards=cards, links=links, open_refs=open_refs,
                             policy=policy)
        resolved.append(found)
        problems.append(issues)
        settled = pd.concat([found["transaction_id"], issues["transaction_id"].astype("int64")])
        remaining = remaining[~remaining["transaction_id"].isin(settled)]

    problems.append(_unknown(remaining, policy))
    customer_links = pd.concat(resolved, ignore_index=True).loc[:, list(LINK_COLUMNS)]
    customer_links = customer_links.astype({"transaction_id": "int64", "score": "float64"})
    return customer_links.sort_values("transaction_id", ignore_index=True), concat_exceptions(problems)


# ---------------------------------------------------------------- inputs


def _payers(payments: pd.DataFrame) -> pd.DataFrame:
    def text(column: str, then=lambda s: s) -> pd.Series:
        if column not in payments:
            return pd.Series("", index=payments.index, dtype=object)
        return _per_distinct(payments[column], lambda s: then(s.astype(str).str.strip()))

    return pd.DataFrame({
        "transaction_id": payments["transaction_id"].astype("int64"),
        "vault_id": text("customer_id"),
        "email": text("email", lambda s: s.str.lower()),
        "billing_name": text("billing_name"),
        "zip5": text("billing_zip", lambda s: s.str[:5]),
    })


def _per_distinct(column: pd.Series, clean) -> pd.Series:
    """clean() applied to each distinct value once (missing -> ""): payers repeat, .str costs per string."""
    codes, distinct = pd.factorize(column.astype(object).fillna(""))
    cleaned = clean(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)
    return pd.Series(cleaned[codes] if len(cleaned) else np.array([], dtype=object), index=column.index, dtype=object)


def _open_references(references: pd.DataFrame, index: OpenInvoiceIndex) -> pd.DataFrame:
    """Each reference joined to the open invoices (any customer) that carry its number."""
    keys = index.invoice_key(references["invoice_no"])
    payable = index.payable[index.payable["invoice_key"].isin(keys)]
    # candidates in the order the customers first appear among the open invoices (as a string merge gave them)
    payable = payable.sort_values("first_row", kind="stable")[["invoice_key", *_KEY]]
    return references.assign(invoice_key=keys).merge(payable, on="invoice_key").drop(columns="invoice_key")


def _customer_label(frame: pd.DataFrame) -> pd.Series:
    return frame["division"].astype(str) + "-" + frame["customer_no"].astype(str)


def _active(customers: pd.DataFrame) -> pd.DataFrame:
    if "status" not in customers:
        return customers
    return customers[customers["status"].fillna("A") != "I"]


def _links(found: pd.DataFrame, method: str, score: pd.Series | float, explanation: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": found["transaction_id"].astype("int64"),
        "division": found["division"], "customer_no": found["customer_no"], "method": method,
        "score": score, "explanation": explanation,
    })


def _split_unique(candidates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(payments with exactly one candidate customer, candidate rows of payments with several)."""
    candidates = candidates.drop_duplicates(["transaction_id", *_KEY])
    count = candidates.groupby("transaction_id")["customer_no"].transform("size")
    return candidates[count == 1], candidates[count > 1]


def _ambiguous(rows: pd.DataFrame, evidence: str) -> pd.DataFrame:
    """One ambiguous_customer exception per payment, naming every candidate."""
    if rows.empty:
        return concat_exceptions([])
    rows = rows.assign(label=_customer_label(rows))
    grouped = rows.groupby("transaction_id", sort=True).agg(
        candidates=("label", ", ".join), count=("label", "size"), what=("what", "first"))
    tid = pd.Series(grouped.index, index=grouped.index)
    return make_exceptions(
        "ambiguous_customer", "error", tid,
        source_ids="paytrace:" + tid.astype(str) + " sage:" + grouped["candidates"],
        problem="transaction " + tid.astype(str) + ": " + evidence + " " + grouped["what"] + " fits "
        + grouped["count"].astype(str) + " Sage customers (" + grouped["candidates"] + "); not posted",
        action=_LINK_ACTION + " (pick one of " + grouped["candidates"] + ")",
    )


# ---------------------------------------------------------------- the four steps


def _by_vault(payers, *, customers, cards, links, open_refs, policy):
    with_vault = payers[payers["vault_id"] != ""]
    stored = links.assign(vault_id=links["customer_id"].astype(str).str.strip(), via="stored link")
    stored = stored[["vault_id", *_KEY, "via"]]
    guids = pd.concat([
        cards[["credit_card_guid", *_KEY]],
        customers[["credit_card_guid", *_KEY]] if "credit_card_guid" in customers else None,
    ])
    guids = guids.assign(vault_id=guids["credit_card_guid"].astype(str).str.strip(), via="card GUID")
    guids = guids[(guids["vault_id"] != "") & ~guids["vault_id"].isin(stored["vault_id"])]
    known = pd.concat([stored, guids[["vault_id", *_KEY, "via"]]]).drop_duplicates(["vault_id", *_KEY])
    candidates = with_vault[["transaction_id", "vault_id"]].merge(known, on="vault_id")
    unique, several = _split_unique(candidates)
    ambiguous = _ambiguous(several.assign(what="vault id " + several["vault_id"]), "the")

    # The payer named invoices of other customers only: the link (or the payer) is wrong.
    named = open_refs.merge(unique[["transaction_id"]], on="transaction_id")
    named = named.merge(unique[["transaction_id", *_KEY]], on=["transaction_id", *_KEY], how="left", indicator=True)
    own_any = (named["_merge"] == "both").groupby(named["transaction_id"]).any()
    conflicting = own_any[~own_any].index
    conflict_rows = unique[unique["transaction_id"].isin(conflicting)]
    others = named[named["transaction_id"].isin(conflicting)].assign(label=lambda f: _customer_label(f))
    others = others.groupby("transaction_id").agg(
        invoices=("invoice_no", lambda s: ", ".join(dict.fromkeys(s))), owners=("label", lambda s: ", ".join(dict.fromkeys(s))))
    conflicts = _conflicts(conflict_rows, others)

    linked = unique[~unique["transaction_id"].isin(conflicting)]
    explanation = "vault id " + linked["vault_id"] + " is " + linked["via"].map(
        {"stored link": "linked to", "card GUID": "stored on"}) + " " + _customer_label(linked)
    score = 100.0
    return _links(linked, "vault_id", score, explanation), concat_exceptions([ambiguous, conflicts])


def _conflicts(rows: pd.DataFrame, others: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return concat_exceptions([])
    rows = rows.join(others, on="transaction_id")
    tid, label = rows["transaction_id"], _customer_label(rows)
    return make_exceptions(
        "customer_conflict", "error", tid,
        source_ids="paytrace:" + tid.astype(str) + " vault:" + rows["vault_id"] + " invoice:" + rows["invoices"],
        problem="transaction " + tid.astype(str) + ": vault id " + rows["vault_id"] + " belongs to " + label
        + " but invoice " + rows["invoices"] + " is open for " + rows["owners"] + "; not posted",
        action="Check who paid: if the vault link is wrong, fix it (sage-paytrace link add " + rows["vault_id"]
        + " <division>-<customer no> or customer_links in config); if the payer named the wrong invoice, "
        "enter the receipt by hand for " + label,
    )


def _by_invoice(payers, *, open_refs, **_):
    candidates = open_refs[open_refs["transaction_id"].isin(payers["transaction_id"])]
    candidates = candidates.sort_values(["transaction_id", "position"])
    unique, several = _split_unique(candidates)
    ambiguous = _ambiguous(several.assign(what="invoice " + several["invoice_no"]), "the referenced")
    explanation = "invoice " + unique["invoice_no"] + " is open only for " + _customer_label(unique)
    return _links(unique, "invoice_reference", 100.0, explanation), ambiguous


def _by_email(payers, *, customers, **_):
    with_email = payers[payers["email"] != ""]
    directory = _active(customers)
    directory = directory.assign(email=directory["email"].astype(object).fillna("").str.strip().str.lower())
    directory = directory.loc[directory["email"] != "", ["email", *_KEY]]
    candidates = with_email[["transaction_id", "email"]].merge(directory, on="email")
    unique, several = _split_unique(candidates)
    ambiguous = _ambiguous(several.assign(what="e-mail " + several["email"]), "the")
    explanation = "e-mail " + unique["email"] + " is the address of " + _customer_label(unique)
    return _links(unique, "email", 100.0, explanation), ambiguous


def _by_name_and_zip(payers, *, customers, policy, **_):
    named = payers[(payers["billing_name"] != "") & ((payers["zip5"] != "") | (not policy.fuzzy_requires_zip))]
    directory = _active(customers)
    directory = pd.DataFrame({
        "division": directory["division"], "customer_no": directory["customer_no"],
        "name": directory["name"].astype(object).fillna(""),
        "zip5": directory["zip_code"].astype(object).fillna("").astype(str).str.strip().str[:5],
    })
    cutoff = policy.fuzzy_name_threshold - policy.fuzzy_ambiguity_margin
    # Pairs are built on integer ids and each distinct (billing name, customer) is scored once:
    # a busy ZIP sees the same billing names (and the same "nobody" names) many times a day.
    name_id, names = pd.factorize(named["billing_name"])
    payer_ids = named[["transaction_id", "zip5"]].assign(name_id=name_id)
    customer_ids = pd.DataFrame({"zip5": directory["zip5"].to_numpy(), "customer_row": np.arange(len(directory))})
    if policy.fuzzy_requires_zip:  # the ZIP is the blocking key: names are compared only within it
        pairs = payer_ids.merge(customer_ids, on="zip5").drop(columns="zip5")
    else:
        pairs = payer_ids.drop(columns="zip5").merge(customer_ids.drop(columns="zip5"), how="cross")
    if pairs.empty:
        return _links(pairs.assign(division="", customer_no=""), "fuzzy_name_zip", 0.0, pd.Series(dtype=object)), \
            concat_exceptions([])
    combo = pairs["name_id"].to_numpy("int64") * len(directory) + pairs["customer_row"].to_numpy("int64")
    distinct, combo_id = np.unique(combo, return_inverse=True)
    scores = process.cpdist(
        names.to_numpy()[distinct // len(directory)].tolist(),
        directory["name"].to_numpy()[distinct % len(directory)].tolist(), scorer=fuzz.token_sort_ratio,
        processor=utils.default_process, workers=-1,
        # scores below what `near` keeps come back as 0 (dropped there anyway), so rapidfuzz can stop early
        score_cutoff=max(cutoff, 0),
    )
    pairs["score"] = scores[combo_id.reshape(-1)]
    near = pairs[pairs["score"] >= cutoff]
    near = pd.DataFrame({
        "transaction_id": near["transaction_id"].to_numpy(),
        "billing_name": names.to_numpy()[near["name_id"].to_numpy()],
        "zip5": directory["zip5"].to_numpy()[near["customer_row"].to_numpy()],
        **{c: directory[c].to_numpy()[near["customer_row"].to_numpy()] for c in ["division", "customer_no", "name"]},
        "score": near["score"].to_numpy(),
    }, index=near.index)
    near = near.sort_values(["transaction_id", "score"], ascending=[True, False]).drop_duplicates(
        ["transaction_id", *_KEY])
    best_score = near.groupby("transaction_id")["score"].transform("max")
    contenders = near[near["score"] >= best_score - policy.fuzzy_ambiguity_margin]
    contenders = contenders[best_score[contenders.index] >= policy.fuzzy_name_threshold]
    unique, several = _split_unique(contenders)
    ambiguous = _ambiguous(
        several.assign(what="billing name '" + several["billing_name"] + "' in ZIP " + several["zip5"]), "the")
    explanation = ("billing name '" + unique["billing_name"] + "' matches '" + unique["name"] + "' ("
                   + unique["score"].round(1).astype(str) + ") in ZIP " + unique["zip5"] + ": " + _customer_label(unique))
    return _links(unique, "fuzzy_name_zip", unique["score"].astype(float), explanation), ambiguous


def _unknown(remaining: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    tid = remaining["transaction_id"]
    who = ("name '" + remaining["billing_name"] + "', e-mail '" + remaining["email"] + "', ZIP '"
           + remaining["zip5"] + "', vault id '" + remaining["vault_id"] + "'")
    source = "paytrace:" + tid.astype(str) + (" vault:" + remaining["vault_id"]).where(remaining["vault_id"] != "", "")
    if policy.auto_create_customers:
        return make_exceptions(
            "customer_to_create", "info", tid, source_ids=source,
            problem="transaction " + tid.astype(str) + ": no Sage customer found for " + who,
            action="A Sage customer is created from the payer (" + who + ") and the payment posts on the next run",
        )
    return make_exceptions(
        "unknown_customer", "error", tid, source_ids=source,
        problem="transaction " + tid.astype(str) + ": no Sage customer found for " + who + "; not posted",
        action=_LINK_ACTION + ", or create the customer in Sage first",
    )
