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

Candidate generation is one merge per key on the whole frames (`match_refunds`; a range run keeps
each refund's matches for the run, refunds/paytrace_to_sage.py `WarehouseHistory`); only the
remaining-amount pass (`decide_links`) walks the refunds one by one (it depends on the previous
ones' links), with each refund's found sales and their remaining amounts as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
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


def key_matches(refunds: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
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


def named_originals(refunds: pd.DataFrame) -> pd.Series:
    """Whether each refund row names its sale by ``original_transaction_id`` (then linked by it alone)."""
    if ORIGINAL_ID not in refunds:
        return pd.Series(False, index=refunds.index)
    return pd.to_numeric(refunds[ORIGINAL_ID], errors="coerce").notna()


def _by_original_id(refunds: pd.DataFrame, raw: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    if ORIGINAL_ID not in raw:
        return key_matches(refunds.iloc[:0], sales)
    original = pd.to_numeric(raw[ORIGINAL_ID], errors="coerce")
    given = named_originals(raw)
    pairs = pd.DataFrame({"refund_id": refunds.loc[given, "transaction_id"].to_numpy(),
                          "sale_id": original[given].astype("int64").to_numpy()})
    pairs = pairs.merge(sales[["transaction_id", "amount_cents"]].rename(
        columns={"transaction_id": "sale_id", "amount_cents": "sale_cents"}), on="sale_id", how="left")
    pairs["sale_cents"] = pairs["sale_cents"].fillna(0).astype("int64")
    pairs["method"] = "original_id"
    return pairs


@dataclass(frozen=True)
class SaleMatches:
    """The sales one refund's keys (or original id) found, before the amount test: ids ascending, their
    amounts (0 for a named sale the candidates lack) and how they were found."""

    method: str
    sale_ids: np.ndarray  # int64
    sale_cents: np.ndarray  # int64

    @cached_property
    def listed(self) -> str:
        """The ids comma separated (a carried refund's list is kept with it: a customer's sales run to
        thousands, and it is the same every day)."""
        return ",".join(str(sale) for sale in self.sale_ids.tolist())

    def without(self, dropped: np.ndarray) -> SaleMatches:
        """These matches less the sales where `dropped` (aligned) is true; itself when none is."""
        return self if not dropped.any() else SaleMatches(self.method, self.sale_ids[~dropped],
                                                          self.sale_cents[~dropped])

    def joined(self, other: SaleMatches | None) -> SaleMatches:
        """These matches and `other`'s (other sales of the same method), ids ascending."""
        if other is None:
            return self
        ids = np.concatenate([self.sale_ids, other.sale_ids])
        order = np.argsort(ids, kind="stable")
        return SaleMatches(self.method, ids[order], np.concatenate([self.sale_cents, other.sale_cents])[order])


def matches_by_refund(pairs: pd.DataFrame) -> dict[int, SaleMatches]:
    """(refund_id, sale_id, sale_cents, method) rows -> each refund's `SaleMatches` (read as arrays, split at
    the refund boundaries: a frame or a Python step per pair cost more than the linking itself)."""
    if pairs.empty:
        return {}
    pairs = pairs.sort_values(["refund_id", "sale_id"])
    refund_ids = pairs["refund_id"].to_numpy(dtype="int64")
    sale_ids, cents = pairs["sale_id"].to_numpy(dtype="int64"), pairs["sale_cents"].to_numpy(dtype="int64")
    methods = pairs["method"].tolist()
    starts = np.flatnonzero(np.r_[True, refund_ids[1:] != refund_ids[:-1]])
    ends = np.r_[starts[1:], len(refund_ids)]
    return {int(refund_ids[start]): SaleMatches(str(methods[start]), sale_ids[start:end], cents[start:end])
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)}


@dataclass(frozen=True)
class RefundMatches:
    """What linking decides from: the refunds' keys (`linking_keys`, in id order) and the sales each one's keys
    found (a refund absent found none)."""

    keys: pd.DataFrame
    found: dict[int, SaleMatches]


def match_refunds(refunds: pd.DataFrame, candidates: pd.DataFrame) -> RefundMatches:
    """The sales among `candidates` (`sale_candidates`: at least every one sharing an invoice id or vault customer
    id with a refund, or named by its original id) each refund may come from: the one its original id names,
    else those sharing its keys (`key_matches`)."""
    keys = _keys(refunds).sort_values("transaction_id", kind="stable")
    by_original = _by_original_id(keys, refunds.loc[keys.index], candidates)
    keyed = key_matches(keys[~keys["transaction_id"].isin(by_original["refund_id"])], candidates)
    return RefundMatches(keys, matches_by_refund(pd.concat([by_original, keyed], ignore_index=True)))


def link_refunds(refunds: pd.DataFrame, sales: pd.DataFrame, already_linked: pd.DataFrame) -> RefundLinks:
    """Link each refund (rows of PayTrace REFUND transactions) to one of `sales` (every approved sale the
    warehouse holds). `already_linked` (refund_id, sale_transaction_id, amount_cents): refunds linked
    before, counted against their sale's remaining amount; a refund in both is linked again the same way."""
    return decide_links(match_refunds(refunds, sale_candidates(sales)), already_linked)


def decide_links(matches: RefundMatches, already_linked: pd.DataFrame) -> RefundLinks:
    """The remaining-amount pass: refunds in id order, each linked when exactly one of its found sales still
    has a remaining amount covering it (which it then takes)."""
    keys = matches.keys
    ours = set(keys["transaction_id"].tolist())
    earlier = already_linked[~already_linked["refund_id"].astype("int64").isin(ours)]
    refunded = earlier.groupby(earlier["sale_transaction_id"].astype("int64"))["amount_cents"].sum()
    at_stake = _SalesAtStake(matches.found, refunded)
    rows = []
    for refund_id, cents in zip(keys["transaction_id"].tolist(), keys["amount_cents"].tolist(), strict=True):
        found = matches.found.get(refund_id)
        if found is None:
            rows.append((refund_id, pd.NA, UNKNOWN, "", ""))
            continue
        fits = at_stake.fitting(refund_id, cents)
        if len(fits) == 1:
            rows.append((refund_id, at_stake.take(fits[0], cents), LINKED, found.method, found.listed))
        else:
            rows.append((refund_id, pd.NA, AMBIGUOUS if len(fits) else UNKNOWN, found.method, found.listed))
    frame = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    frame["refund_id"] = frame["refund_id"].astype("int64")
    frame["sale_transaction_id"] = pd.array(frame["sale_transaction_id"].to_numpy(dtype=object), dtype="Int64")
    frame["candidates"] = frame["candidates"].astype(object)
    return RefundLinks(frame.reset_index(drop=True))


_DENSE_SPAN = 4  # ids a pair may span on average before `_factorized` hashes them (a table of span bytes + words)


class _SalesAtStake:
    """Every sale some refund found, once, with its remaining amount (the sale less the refunds linked to it
    before, then less this pass's links as they are made), as arrays: a year's carried refunds find
    hundreds of thousands of (refund, sale) pairs a day."""

    def __init__(self, found: dict[int, SaleMatches], refunded: pd.Series) -> None:
        ids = np.concatenate([np.empty(0, np.int64), *(m.sale_ids for m in found.values())])
        cents = np.concatenate([np.empty(0, np.int64), *(m.sale_cents for m in found.values())])
        inverse, self.sale_ids = _factorized(ids)
        self.sale_cents = np.zeros(len(self.sale_ids), dtype=np.int64)
        self.sale_cents[inverse] = cents  # a sale's amount is the same in every refund's matches
        self.remaining = self.sale_cents - refunded.reindex(self.sale_ids, fill_value=0).to_numpy(dtype=np.int64)
        ends = np.cumsum([len(m.sale_ids) for m in found.values()], dtype=np.int64)
        self._positions = dict(zip(found, np.split(inverse, ends[:-1]) if len(ends) else [], strict=True))

    def fitting(self, refund_id: int, cents: int) -> np.ndarray:
        """Positions of the refund's sales (in its order) whose remaining amount covers `cents`."""
        at = self._positions[refund_id]
        return at[(self.remaining[at] >= cents) & (self.sale_cents[at] > 0)]

    def take(self, position: int, cents: int) -> int:
        """The refund of `cents` linked to the sale at `position`: its remaining amount less it; the sale id."""
        self.remaining[position] -= cents
        return int(self.sale_ids[position])


def _factorized(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each id's position among the distinct ids, the distinct ids), as `pd.factorize` gives them, though
    ordered by id: a position only has to name the same sale wherever it appears. The pairs run to a
    million and a half a day, mostly among a few hundred thousand ids close together: then a table over
    their span is five times faster than hashing; ids spread wider (a span over _DENSE_SPAN per id) are hashed."""
    if not len(ids):
        return pd.factorize(ids)
    low = int(ids.min())
    span = int(ids.max()) - low + 1
    if span > _DENSE_SPAN * len(ids):
        return pd.factorize(ids)
    offsets = ids - low
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    distinct = np.flatnonzero(present)
    position = np.empty(span, dtype=np.int64)
    position[distinct] = np.arange(len(distinct), dtype=np.int64)
    return position[offsets], distinct + low
