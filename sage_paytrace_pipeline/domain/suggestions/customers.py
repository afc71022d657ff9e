"""Ranked Sage customers for payments matching could not place (unknown or ambiguous customer).

Candidates come from blocks, never from all customers times all payers: the same e-mail or
e-mail domain, the vault id's history, a similar name in the same ZIP or with the same first
letters, an invoice number the payer wrote, or an amount only a few customers owe. Every pair is
then scored on all the evidence at once (one rapidfuzz `cpdist` call for the names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import process, utils
from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import token_sort_ratio

from sage_paytrace_pipeline.domain.suggestions.policy import CUSTOMER_REASONS, NAME_REASON, SuggestionPolicy

if TYPE_CHECKING:
    from sage_paytrace_pipeline.domain.suggestions.ledger import Ledger

_NAME_BLOCK_CELLS = 4_000_000
_NAME_HITS = 20  # per payer name, the most similar names of its block (a common name is no evidence past that)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype("string").fillna("").str.strip().astype(object)


def _domain(email: pd.Series) -> np.ndarray:
    """The part after the last @ ("" without one); an empty column stays empty (partition would drop columns)."""
    after = email.str.split("@").str[-1].fillna("")
    return np.where(email.str.contains("@", regex=False), after, "").astype(object)


def payers_frame(payments: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """The payer's facts; `reference` is the first invoice number the payer wrote (matching's reading)."""
    email = _text(payments, "email").str.lower()
    first = references.drop_duplicates("transaction_id").set_index("transaction_id")["invoice_no"]
    written = pd.Series(payments["transaction_id"].astype("int64").map(first), dtype=object).fillna("")
    return pd.DataFrame({
        "transaction_id": payments["transaction_id"].astype("int64").to_numpy(),
        "email": email.to_numpy(), "domain": _domain(email),
        "name": _text(payments, "billing_name").to_numpy(), "zip5": _text(payments, "billing_zip").str[:5].to_numpy(),
        "vault": _text(payments, "customer_id").to_numpy(),
        "reference": written.astype(str).str.upper().to_numpy(dtype=object),
        "amount_cents": payments["amount_cents"].astype("int64").to_numpy(),
    })


def directory_frame(customers: pd.DataFrame) -> pd.DataFrame:
    email = _text(customers, "email").str.lower()
    return pd.DataFrame({
        "division": _text(customers, "division").to_numpy(), "customer_no": _text(customers, "customer_no").to_numpy(),
        "c_name": _text(customers, "name").to_numpy(), "c_email": email.to_numpy(),
        "c_domain": _domain(email), "c_zip5": _text(customers, "zip_code").str[:5].to_numpy(),
        "c_vault": _text(customers, "credit_card_guid").to_numpy(),
        "c_status": _text(customers, "status").str.upper().to_numpy(),
    })


def customer_candidates(payers: pd.DataFrame, ledger: Ledger, vault_links: pd.DataFrame,
                        policy: SuggestionPolicy) -> pd.DataFrame:
    """Scored (payer, customer) pairs: transaction_id, division, customer_no, score, reasons."""
    pairs = _blocked_pairs(payers, ledger, vault_links, policy)
    if pairs.empty:
        return _empty()
    pairs = pairs.merge(payers, on="transaction_id").merge(ledger.directory, on="row")
    return _score(pairs, ledger, vault_links, policy)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "division": pd.Series(dtype=object),
                         "customer_no": pd.Series(dtype=object), "score": pd.Series(dtype="float64"),
                         "reasons": pd.Series(dtype=object)})


def _rows_by(ledger: Ledger, column: str, payers: pd.DataFrame, payer_column: str) -> pd.DataFrame:
    left = payers.loc[payers[payer_column] != "", ["transaction_id", payer_column]]
    return left.merge(ledger.rows_with(column), left_on=payer_column, right_on=column)[["transaction_id", "row"]]


def _blocked_pairs(payers: pd.DataFrame, ledger: Ledger, vault_links: pd.DataFrame,
                   policy: SuggestionPolicy) -> pd.DataFrame:
    directory = ledger.directory
    business = payers.assign(domain=payers["domain"].where(~payers["domain"].isin(policy.free_mail_domains), ""))
    parts = [_rows_by(ledger, "c_email", payers, "email"), _rows_by(ledger, "c_domain", business, "domain"),
             _rows_by(ledger, "c_vault", payers, "vault")]
    key = directory[["division", "customer_no", "row"]]
    if not vault_links.empty:
        linked = payers[payers["vault"] != ""].merge(vault_links, left_on="vault", right_on="customer_id")
        parts.append(linked.merge(key, on=["division", "customer_no"])[["transaction_id", "row"]])
    invoices = ledger.invoices_by_row
    named = payers[payers["reference"] != ""].merge(invoices, left_on="reference", right_on="invoice_no")
    parts.append(named[["transaction_id", "row"]])
    parts.append(_near_references(payers, invoices))
    by_amount = payers.merge(invoices, left_on="amount_cents", right_on="balance_cents")
    few = by_amount.groupby("transaction_id")["row"].transform("nunique") <= policy.amount_only_max_customers
    parts.append(by_amount.loc[few, ["transaction_id", "row"]])
    parts.append(_name_block_pairs(payers, ledger.names, policy.name_floor))
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def _deletions(numbers: pd.Series, keep: set | None = None) -> pd.DataFrame:
    """Each number with itself and every one-character deletion of it (two numbers one edit apart share
    one); with `keep`, only the variants in it (the other side's), so a ledger's numbers make no big frame."""
    numbers = numbers.astype(str)
    longest = int(numbers.str.len().max()) if len(numbers) else 0
    variants = []
    for cut in range(-1, longest):  # over character positions (-1: the number itself), not rows
        long_enough = numbers if cut < 0 else numbers[numbers.str.len() > cut]
        variant = long_enough if cut < 0 else long_enough.str[:cut] + long_enough.str[cut + 1:]
        if keep is not None:
            wanted = variant.isin(keep).to_numpy()
            long_enough, variant = long_enough[wanted], variant[wanted]
        variants.append(pd.DataFrame({"position": long_enough.index, "variant": variant.to_numpy()}))
    return pd.concat(variants, ignore_index=True).drop_duplicates()


def _near_references(payers: pd.DataFrame, invoices: pd.DataFrame) -> pd.DataFrame:
    """Customers with an open invoice one edit from the payer's reference (typos in invoice numbers)."""
    written = payers.loc[payers["reference"] != "", ["transaction_id", "reference"]].reset_index(drop=True)
    if written.empty or invoices.empty:
        return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "row": pd.Series(dtype="int64")})
    numbers = invoices[["invoice_no", "row"]].drop_duplicates().reset_index(drop=True)
    asked = _deletions(written["reference"])
    near = asked.merge(_deletions(numbers["invoice_no"], set(asked["variant"])), on="variant",
                       suffixes=("_payer", "_invoice"))
    return pd.DataFrame({"transaction_id": written["transaction_id"].to_numpy()[near["position_payer"].to_numpy()],
                         "row": numbers["row"].to_numpy()[near["position_invoice"].to_numpy()]})


class NameBlocks(NamedTuple):
    """The directory's names processed for comparison, its rows ordered by block (the first two characters)."""

    names: np.ndarray  # per directory row
    order: np.ndarray  # directory rows, block by block
    blocks: list[str]
    starts: list[int]  # each block's rows: order[start:end]
    ends: list[int]


def name_blocks(directory: pd.DataFrame) -> NameBlocks:
    directory_names = directory["c_name"].map(utils.default_process)
    directory_block = directory_names.str[:2].to_numpy(dtype=str)
    order = np.argsort(directory_block, kind="stable")
    blocks, starts = np.unique(directory_block[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    return NameBlocks(directory_names.to_numpy(dtype=str), order, blocks.tolist(), starts.tolist(), ends.tolist())


def _name_block_pairs(payers: pd.DataFrame, directory: NameBlocks, floor: float) -> pd.DataFrame:
    """Pairs whose names reach the floor, compared within blocks of the same first two characters.

    One rapidfuzz `cdist` per block (distinct payer names against the block's customers), so the
    work is the blocks' sizes, not payers times customers; only the hits become rows.
    """
    payer_names = payers["name"].map(utils.default_process)
    distinct, name_code = np.unique(payer_names.to_numpy(dtype=str), return_inverse=True)
    payer_block = pd.Series(distinct).str[:2].to_numpy(dtype=str)
    order = directory.order
    hits = []
    for block, start, end in zip(directory.blocks, directory.starts, directory.ends, strict=True):
        if len(block) < 2:
            continue
        asked = np.flatnonzero(payer_block == block)
        if len(asked) == 0:
            continue
        rows = order[start:end]
        step = max(1, _NAME_BLOCK_CELLS // len(rows))
        for first in range(0, len(asked), step):
            chunk = asked[first:first + step]
            scores = process.cdist(distinct[chunk].tolist(), directory.names[rows].tolist(),
                                   scorer=token_sort_ratio, score_cutoff=floor, workers=-1)
            if scores.shape[1] > _NAME_HITS:  # keep each name's best hits only
                weakest = np.argpartition(-scores, _NAME_HITS, axis=1)[:, _NAME_HITS:]
                np.put_along_axis(scores, weakest, 0, axis=1)
            name_hit, row_hit = np.nonzero(scores >= max(floor, 1e-9))
            hits.append(pd.DataFrame({"name_code": chunk[name_hit], "row": rows[row_hit]}))
    if not hits:
        return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "row": pd.Series(dtype="int64")})
    named = pd.concat(hits, ignore_index=True)
    payers_by_name = pd.DataFrame({"transaction_id": payers["transaction_id"].to_numpy(), "name_code": name_code})
    payers_by_name = payers_by_name[payer_names.str.len().to_numpy() > 0]
    return payers_by_name.merge(named, on="name_code")[["transaction_id", "row"]]


def _score(pairs: pd.DataFrame, ledger: Ledger, vault_links: pd.DataFrame, policy: SuggestionPolicy) -> pd.DataFrame:
    name_score = process.cpdist(pairs["name"].to_numpy(dtype=object), pairs["c_name"].to_numpy(dtype=object),
                                scorer=token_sort_ratio, processor=utils.default_process, workers=-1)
    name_score = np.asarray(name_score, dtype="float64")
    strong_name = name_score >= policy.name_floor
    email = (pairs["email"] != "") & (pairs["email"] == pairs["c_email"])
    domain = (~email) & (pairs["domain"] != "") & (pairs["domain"] == pairs["c_domain"]) & (
        ~pairs["domain"].isin(policy.free_mail_domains))
    zip_code = (pairs["zip5"] != "") & (pairs["zip5"] == pairs["c_zip5"])
    vault = (pairs["vault"] != "") & (pairs["vault"] == pairs["c_vault"])
    if not vault_links.empty:
        linked = vault_links[["customer_id", "division", "customer_no"]].astype(str).drop_duplicates().rename(
            columns={"customer_id": "vault"})
        vault |= _found_in(pairs, linked, ["vault", "division", "customer_no"])
    single, totals = _balances(ledger.open_invoices_of(pairs))
    one_invoice = _found_in(pairs, single, ["division", "customer_no", "amount_cents"])
    total = ~one_invoice & _found_in(pairs, totals, ["division", "customer_no", "amount_cents"])
    reference_distance = _reference_distance(pairs, ledger.invoice_numbers_of(pairs))
    reference_exact, reference_near = reference_distance == 0, reference_distance == 1
    inactive = pairs["c_status"].isin(["I"]).to_numpy()
    evidence = [(mask, getattr(policy, field), CUSTOMER_REASONS.get(field)) for field, mask in (
        ("vault_history", vault.to_numpy()), ("email", email.to_numpy()), ("email_domain", domain.to_numpy()),
        ("name", strong_name), ("zip_code", zip_code.to_numpy()), ("reference_exact", reference_exact),
        ("reference_near", reference_near), ("amount_open_invoice", one_invoice), ("amount_open_total", total),
        ("inactive", inactive))]
    score = np.zeros(len(pairs))
    reasons = np.full(len(pairs), "", dtype=object)
    name_points = policy.name * np.clip((name_score - policy.name_floor) / max(100 - policy.name_floor, 1), 0, 1)
    name_text = f"{NAME_REASON} " + pd.Series(name_score).round().astype("int64").astype(str).to_numpy(dtype=object)
    for mask, points, text in evidence:
        mask = np.asarray(mask, dtype=bool)
        if text is None:  # the name's points grow with its similarity
            score += np.where(mask, name_points, 0)
            reasons = np.where(mask, reasons + "; " + name_text, reasons)
            continue
        score += np.where(mask, points, 0)
        reasons = np.where(mask, reasons + "; " + text, reasons)
    useful = score > 0
    found = pairs[useful]
    return pd.DataFrame({"transaction_id": found["transaction_id"].to_numpy(), "division": found["division"].to_numpy(),
                         "customer_no": found["customer_no"].to_numpy(), "score": np.minimum(score[useful], 100.0),
                         "reasons": pd.Series(reasons[useful]).str[2:].to_numpy(dtype=object)})


def _found_in(pairs: pd.DataFrame, keys: pd.DataFrame, on: list[str]) -> np.ndarray:
    """Whether each pair's `on` values are a row of `keys` (a merge, not a MultiIndex built per call)."""
    marked = pairs[on].reset_index(drop=True).merge(keys[on].drop_duplicates().assign(_hit=True), on=on, how="left")
    return marked["_hit"].notna().to_numpy()


def _balances(open_invoices: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(division, customer_no, amount_cents) of each open balance, and of each customer's total (2+ invoices)."""
    invoices = open_invoices[open_invoices["balance_cents"].astype("int64") > 0]
    single = invoices[["division", "customer_no"]].assign(amount_cents=invoices["balance_cents"].astype("int64"))
    totals = invoices.groupby(["division", "customer_no"])["balance_cents"].agg(["sum", "size"]).reset_index()
    totals = totals[totals["size"] > 1]
    return single, totals[["division", "customer_no"]].assign(amount_cents=totals["sum"].astype("int64"))


def _reference_distance(pairs: pd.DataFrame, invoice_numbers: pd.DataFrame) -> np.ndarray:
    """Edit distance from the payer's reference to the nearest open invoice number of the candidate (9 if none);
    `invoice_numbers`: (division, customer_no, invoice_no as text) of the open invoices."""
    distance = np.full(len(pairs), 9, dtype="int64")
    has_reference = (pairs["reference"] != "").to_numpy()
    if not has_reference.any() or invoice_numbers.empty:
        return distance
    wanted = pairs.loc[has_reference, ["reference", "division", "customer_no"]].reset_index(drop=True)
    wanted["pair"] = np.flatnonzero(has_reference)
    candidates = wanted.merge(invoice_numbers, on=["division", "customer_no"])
    if candidates.empty:
        return distance
    found = process.cpdist(candidates["reference"].to_numpy(dtype=object),
                           candidates["invoice_no"].str.strip().str.upper().to_numpy(dtype=object),
                           scorer=Levenshtein.distance, workers=-1)
    nearest = pd.Series(np.asarray(found, dtype="int64")).groupby(candidates["pair"].to_numpy()).min()
    distance[nearest.index.to_numpy()] = nearest.to_numpy()
    return distance
