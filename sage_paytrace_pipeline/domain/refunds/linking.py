"""A PayTrace refund -> the sale it gave money back from, without guessing.

PayTrace's export record of a refund carries no original transaction id (a `refund/for_transaction`
copies the original's `invoice_id`, customer and card; `refund/to_customer` carries the vault
`customer_id`; a keyed refund only the card). So a refund is linked by, in order:

1. ``original_transaction_id`` when the frame has that column and the row a value (an export that
   gives it): that sale, and nothing else;
2. else the sales that share **every** key the refund carries among ``invoice_id`` and vault
   ``customer_id`` (at least one of them is needed: the card's last 4 alone names no sale), the
   same card last 4 when both sides know it, created before the refund, still approved (pending
   or settled), whose **remaining** amount (the sale less the refunds already linked to it,
   earlier ones and those of this run in id order) covers the refund.

Exactly one candidate: linked. None: ``unknown``. Several: ``ambiguous``. Either way the candidates
the keys found (before the amount test) are named, so a person can decide.

Candidate generation is one merge per key on the whole frames; only the remaining-amount pass
walks the refunds one by one (it depends on the previous ones' links), over the few refunds of a
day, with the remaining amounts in a dict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# A captured authorization keeps its type AUTHORIZATION in the export (status pending or settled once captured,
# AUTHORIZED before): receivables posts it as a sale, so a refund may come from it.
SALE_TYPES = frozenset({"SALE", "AUTHORIZATION", "CAPTURE", "FORCE"})
MONEY_STATUSES = frozenset({"PENDING", "SETTLED"})
LINKED, AMBIGUOUS, UNKNOWN = "linked", "ambiguous", "unknown"
LINK_COLUMNS = ("refund_id", "sale_transaction_id", "outcome", "method", "candidates")
ORIGINAL_ID = "original_transaction_id"


@dataclass(frozen=True)
class RefundLinks:
    """One row per refund: `sale_transaction_id` (Int64, NA unless linked), `outcome` (linked / ambiguous /
    unknown), `method` (original_id / invoice_id / customer_id / invoice_and_customer / ""), `candidates`
    (the sale ids the keys found, comma separated, smallest first)."""

    frame: pd.DataFrame

    def linked(self) -> pd.DataFrame:
        return self.frame[self.frame["outcome"] == LINKED]


def _text(column: pd.Series) -> pd.Series:
    return column.astype("string").fillna("").str.strip()


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The linking keys of a frame of transactions, as plain text ("" when missing)."""
    out = pd.DataFrame({"transaction_id": frame["transaction_id"].astype("int64")}, index=frame.index)
    for column in ("invoice_id", "customer_id", "card_last4"):
        out[column] = _text(frame[column]) if column in frame else ""
    out["amount_cents"] = frame["amount_cents"].astype("int64")
    out["created_at"] = pd.to_datetime(frame["created_at"], utc=True) if "created_at" in frame else pd.NaT
    return out


def linking_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The keys linking reads of each transaction: transaction_id, invoice_id, customer_id, card_last4 (plain
    text, "" when missing), amount_cents, created_at (UTC)."""
    return _keys(frame)


def sale_candidates(sales: pd.DataFrame) -> pd.DataFrame:
    """The approved sales a refund may come from (types SALE / captured AUTHORIZATION / CAPTURE / FORCE, status
    pending or settled)."""
    if sales.empty:
        return _keys(sales.assign(amount_cents=pd.Series(dtype="int64")))
    kind = _text(sales["transaction_type"]).str.upper()
    status = _text(sales["status"]).str.upper()
    chosen = sales[kind.isin(SALE_TYPES) & status.isin(MONEY_STATUSES)]
    return _keys(chosen).drop_duplicates("transaction_id")


def _key_matches(refunds: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """(refund_id, sale_id, method) for every sale sharing all of the refund's invoice/customer keys."""
    has_invoice = refunds["invoice_id"] != ""
    has_customer = refunds["customer_id"] != ""
    parts = []
    for method, mask, on in (
        ("invoice_and_customer", has_invoice & has_customer, ["invoice_id", "customer_id"]),
        ("invoice_id", has_invoice & ~has_customer, ["invoice_id"]),
        ("customer_id", ~has_invoice & has_customer, ["customer_id"]),
    ):
        wanted = refunds[mask]
        if wanted.empty:
            continue
        pairs = wanted.merge(sales, on=on, suffixes=("", "_sale"))
        card_ok = (pairs["card_last4"] == "") | (pairs["card_last4_sale"] == "") | (
            pairs["card_last4"] == pairs["card_last4_sale"])
        before = pairs["created_at_sale"].isna() | pairs["created_at"].isna() | (
            pairs["created_at_sale"] <= pairs["created_at"])
        pairs = pairs[card_ok & before]
        parts.append(pd.DataFrame({"refund_id": pairs["transaction_id"].to_numpy(),
                                   "sale_id": pairs["transaction_id_sale"].to_numpy(),
                                   "sale_cents": pairs["amount_cents_sale"].to_numpy(), "method": method}))
    if not parts:
        return pd.DataFrame({"refund_id": pd.Series(dtype="int64"), "sale_id": pd.Series(dtype="int64"),
                             "sale_cents": pd.Series(dtype="int64"), "method": pd.Series(dtype=object)})
    return pd.concat(parts, ignore_index=True)


def _by_original_id(refunds: pd.DataFrame, raw: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    if ORIGINAL_ID not in raw:
        return _key_matches(refunds.iloc[:0], sales)
    original = pd.to_numeric(raw[ORIGINAL_ID], errors="coerce")
    given = original.notna()
    pairs = pd.DataFrame({"refund_id": refunds.loc[given, "transaction_id"].to_numpy(),
                          "sale_id": original[given].astype("int64").to_numpy()})
    pairs = pairs.merge(sales[["transaction_id", "amount_cents"]].rename(
        columns={"transaction_id": "sale_id", "amount_cents": "sale_cents"}), on="sale_id", how="left")
    pairs["sale_cents"] = pairs["sale_cents"].fillna(0).astype("int64")
    pairs["method"] = "original_id"
    return pairs


def _sales_of_each_refund(matches: pd.DataFrame) -> tuple[dict[int, list[int]], dict[int, str]]:
    """Each refund's matched sale ids in the order of `matches`, and the method of its first match (read from
    the columns as lists: a frame per refund cost more than the linking itself)."""
    found: dict[int, list[int]] = {}
    method: dict[int, str] = {}
    for refund_id, sale_id, how in zip(matches["refund_id"].tolist(), matches["sale_id"].tolist(),
                                       matches["method"].tolist(), strict=True):
        if refund_id not in found:
            found[refund_id], method[refund_id] = [], str(how)
        found[refund_id].append(sale_id)
    return found, method


def link_refunds(refunds: pd.DataFrame, sales: pd.DataFrame, already_linked: pd.DataFrame) -> RefundLinks:
    """Link each refund (rows of PayTrace REFUND transactions) to one of `sales` (every approved sale the
    warehouse holds). `already_linked` (refund_id, sale_transaction_id, amount_cents): refunds linked
    before, counted against their sale's remaining amount; a refund in both is linked again the same way."""
    return link_to_candidates(refunds, sale_candidates(sales), already_linked)


def link_to_candidates(refunds: pd.DataFrame, candidates: pd.DataFrame, already_linked: pd.DataFrame) -> RefundLinks:
    """`link_refunds` with the sales given as their candidates (`sale_candidates`), prepared by the caller:
    at least every candidate sharing an invoice id or vault customer id with a refund, or named by its
    original id (the others link nothing)."""
    keys = _keys(refunds).sort_values("transaction_id", kind="stable")
    by_original = _by_original_id(keys, refunds.loc[keys.index], candidates)
    keyed = _key_matches(keys[~keys["transaction_id"].isin(by_original["refund_id"])], candidates)
    matches = pd.concat([by_original, keyed], ignore_index=True).sort_values(["refund_id", "sale_id"])

    ours = set(keys["transaction_id"].tolist())
    earlier = already_linked[~already_linked["refund_id"].astype("int64").isin(ours)]
    refunded = earlier.groupby(earlier["sale_transaction_id"].astype("int64"))["amount_cents"].sum()
    sale_cents = dict(zip(matches["sale_id"].tolist(), matches["sale_cents"].tolist(), strict=True))
    remaining = {sale: cents - int(refunded.get(sale, 0)) for sale, cents in sale_cents.items()}
    found_of, method_of = _sales_of_each_refund(matches)

    rows = []
    for refund_id, cents in zip(keys["transaction_id"].tolist(), keys["amount_cents"].tolist(), strict=True):
        found = found_of.get(refund_id)
        if found is None:
            rows.append((refund_id, pd.NA, UNKNOWN, "", ""))
            continue
        fits = [sale for sale in found if remaining.get(sale, 0) >= cents and sale_cents.get(sale, 0) > 0]
        method = method_of[refund_id]
        listed = ",".join(str(sale) for sale in found)
        if len(fits) == 1:
            remaining[fits[0]] -= cents
            rows.append((refund_id, fits[0], LINKED, method, listed))
        else:
            rows.append((refund_id, pd.NA, AMBIGUOUS if fits else UNKNOWN, method, listed))
    frame = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    frame["refund_id"] = frame["refund_id"].astype("int64")
    frame["sale_transaction_id"] = pd.array(frame["sale_transaction_id"].to_numpy(dtype=object), dtype="Int64")
    frame["candidates"] = frame["candidates"].astype(object)
    return RefundLinks(frame.reset_index(drop=True))
