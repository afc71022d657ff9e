"""Refunds that do not fit their sale: above it, to another card, without one, or quick ones in numbers.

A refund is tied to the latest approved sale created before it that shares its invoice id, else
its vault customer id, else its card fingerprint (the order of how specific the key is). The tie is
for flagging only: refunds/ links refunds for posting by its own, stricter rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.flags import concat_flags, empty_flags, flag_rows, money
from sage_paytrace_pipeline.domain.anomalies.keys import (
    PREPARED,
    card_key,
    customer_key,
    invoice_text,
    is_refund,
    is_sale,
    last4_text,
    moved_money,
    timestamps,
)
from sage_paytrace_pipeline.domain.anomalies.policy import AnomalyPolicy

ABOVE, OTHER_CARD, WITHOUT, QUICK = "refund_above_sale", "refund_to_other_card", "refund_without_sale", "quick_refund"
# what tying reads of the history's sales and refunds (`_keyed`), besides the prepared keys
_READ = ("transaction_id", "amount_cents", "created_at", "invoice_id", "card_last4")


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": frame["transaction_id"].astype("int64").to_numpy(),
                         "invoice": invoice_text(frame).to_numpy(),
                         "customer": customer_key(frame), "card": card_key(frame),
                         "last4": last4_text(frame).to_numpy(),
                         "amount_cents": frame["amount_cents"].astype("int64").to_numpy(),
                         "time": timestamps(frame), "created_at": frame["created_at"].array})


def tie_refunds(refunds: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """One row per refund: its keys, and the sale's id, amount, last 4 and time (NA when none)."""
    left = _keyed(refunds)
    right = _keyed(sales[_sharing_a_key(sales, left)])  # the sales a refund could tie to, in their order
    found = []
    for rank, key in enumerate(("invoice", "customer", "card")):
        known_left = (left[key] != "" if key == "invoice" else left[key] >= 0).to_numpy()
        known_right = (right[key] != "" if key == "invoice" else right[key] >= 0).to_numpy()
        refund, sale = _latest_sales(left[key].to_numpy()[known_left], left["time"].to_numpy()[known_left],
                                     right[key].to_numpy()[known_right], right["time"].to_numpy()[known_right])
        tied_to = right[known_right].iloc[sale]
        found.append(pd.DataFrame({
            "transaction_id": left["transaction_id"].to_numpy()[known_left][refund], "rank": rank,
            **{f"{column}_sale": tied_to[column].to_numpy()
               for column in ("transaction_id", "amount_cents", "last4", "card", "time")}}))
    pairs = pd.concat(found, ignore_index=True).sort_values(["transaction_id", "rank", "time_sale"],
                                                              ascending=[True, True, False])
    best = pairs.drop_duplicates("transaction_id").set_index("transaction_id")
    tied = left.set_index("transaction_id", drop=False)
    for column in ("transaction_id_sale", "amount_cents_sale", "last4_sale", "card_sale", "time_sale"):
        tied[column] = best[column].reindex(tied.index)
    return tied.reset_index(drop=True)


def _latest_sales(refund_keys: np.ndarray, refund_times: np.ndarray, sale_keys: np.ndarray,
                  sale_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(refund, sale) positions: for each refund, the latest sale of its key made at or before it (of equal
    times the first sale), for the refunds that have one. What merging every refund with every sale of its
    key and keeping the latest gives, without the pairs: a customer's refunds against all their sales of
    the history made a large frame every day."""
    codes = pd.factorize(np.concatenate([refund_keys, sale_keys]))[0].astype("int64")
    times = np.unique(np.concatenate([refund_times, sale_times]))
    # (key, time) folded into one sortable int: the time's rank among all the times, within its key's block
    folded = codes * len(times) + np.searchsorted(times, np.concatenate([refund_times, sale_times]))
    refund_folded, sale_folded = folded[:len(refund_keys)], folded[len(refund_keys):]
    sale_codes = codes[len(refund_keys):]
    # sales by (key, time), the later of equal ones first: the last one at or before a refund is then the first
    order = np.lexsort((-np.arange(len(sale_keys)), sale_folded))
    last = np.searchsorted(sale_folded[order], refund_folded, side="right") - 1
    found = last >= 0
    found[found] = sale_codes[order][last[found]] == codes[:len(refund_keys)][found]
    return np.flatnonzero(found), order[last[found]]


def _sales_and_refunds(history: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    """The sales and refunds that moved money in the history and the day, the last row of a repeated
    transaction id only; the rest of the history is not copied."""
    parts = [history, transactions] if len(history) else [transactions]
    ids = np.concatenate([part["transaction_id"].to_numpy() for part in parts])
    last = ~pd.Index(ids).duplicated(keep="last")
    kept, start = [], 0
    for part in parts:
        wanted = last[start:start + len(part)] & moved_money(part) & (is_sale(part) | is_refund(part))
        kept.append(part.loc[wanted, [column for column in (*_READ, *PREPARED) if column in part]])
        start += len(part)
    return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]


def _sharing_a_key(sales: pd.DataFrame, refunds: pd.DataFrame) -> np.ndarray:
    """Sales with the invoice, customer or card of one of the (keyed) refunds."""
    return (invoice_text(sales).isin(refunds.loc[refunds["invoice"] != "", "invoice"]).to_numpy()
            | np.isin(customer_key(sales), refunds.loc[refunds["customer"] >= 0, "customer"].to_numpy())
            | np.isin(card_key(sales), refunds.loc[refunds["card"] >= 0, "card"].to_numpy()))


def refund_flags(transactions: pd.DataFrame, history: pd.DataFrame, policy: AnomalyPolicy) -> pd.DataFrame:
    refunds = transactions[is_refund(transactions) & moved_money(transactions)]
    if refunds.empty:
        return empty_flags()
    everything = _sales_and_refunds(history, transactions)
    sales = everything[is_sale(everything)]
    tied = tie_refunds(refunds, sales)
    all_tied = tie_refunds(_bearing_on(everything[is_refund(everything)], tied, sales), sales)
    rules = policy.refunds
    parts = []
    if policy.enabled(WITHOUT):
        parts.append(_without_sale(tied[tied["transaction_id_sale"].isna()]))
    has_sale = tied[tied["transaction_id_sale"].notna()]
    if policy.enabled(ABOVE):
        parts.append(_above_sale(has_sale, all_tied))
    if policy.enabled(OTHER_CARD):
        other = has_sale[(has_sale["last4"] != "") & has_sale["last4_sale"].fillna("").ne("") & (
            has_sale["card"] != has_sale["card_sale"].fillna(""))]
        parts.append(_other_card(other))
    if policy.enabled(QUICK):
        parts.append(_quick(has_sale, all_tied, rules.quick_hours, rules.quick_min_count))
    return concat_flags(parts)


def _bearing_on(refunds: pd.DataFrame, tied: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """The refunds whose ties the day's flags read: every refund that may tie to a sale one of the day's
    refunds ties to (it shares the sale's invoice, customer or card), and every refund of a customer or
    card of the day's refunds. A refund's tie depends on the sales alone, so tying these gives each the
    tie it has among all of them; the rest of the history is not tied again every day."""
    keyed = _keyed(refunds)
    day_sales = _keyed(sales[sales["transaction_id"].astype("int64").isin(
        tied["transaction_id_sale"].dropna().astype("int64"))])
    invoices = day_sales["invoice"][day_sales["invoice"] != ""]
    customers = day_sales["customer"][day_sales["customer"] >= 0]
    cards = day_sales["card"][day_sales["card"] >= 0]
    parties = _party(tied)
    wanted = (keyed["invoice"].isin(invoices) | keyed["customer"].isin(customers) | keyed["card"].isin(cards)
              | _party(keyed).isin(parties[parties >= 0]))
    return refunds[wanted.to_numpy()]


def _ids(frame: pd.DataFrame, column: str = "transaction_id") -> np.ndarray:
    return frame[column].astype("int64").astype(str).to_numpy(dtype=object)


def _without_sale(rows: pd.DataFrame) -> pd.DataFrame:
    tid = _ids(rows)
    return flag_rows(
        WITHOUT, "warning", transaction_id=rows["transaction_id"], score=np.full(len(rows), 80.0),
        amount_cents=rows["amount_cents"], occurred_at=rows["created_at"], related_ids="",
        evidence="no earlier approved sale with the refund's invoice, customer or card",
        explanation="Refund " + tid + " (" + money(rows["amount_cents"]) + ") gives money back with no sale it "
                    "could come from in the history loaded; find out who issued it and why.")


def _above_sale(rows: pd.DataFrame, all_tied: pd.DataFrame) -> pd.DataFrame:
    linked = all_tied[all_tied["transaction_id_sale"].notna()].sort_values(["time", "transaction_id"])
    running = linked.groupby("transaction_id_sale")["amount_cents"].cumsum()
    total = pd.Series(running.to_numpy(), index=linked["transaction_id"].to_numpy())
    refunded = total.reindex(rows["transaction_id"].to_numpy()).fillna(rows["amount_cents"]).to_numpy()
    over = refunded > rows["amount_cents_sale"].astype("int64").to_numpy()
    rows, refunded = rows[over], refunded[over].astype("int64")
    sale = _ids(rows, "transaction_id_sale")
    return flag_rows(
        ABOVE, "error", transaction_id=rows["transaction_id"],
        score=100.0 * refunded / rows["amount_cents_sale"].astype("int64").to_numpy(),
        amount_cents=rows["amount_cents"], occurred_at=rows["created_at"], related_ids=sale,
        evidence="refunded " + money(refunded) + " in all against sale " + sale + " of " + money(
            rows["amount_cents_sale"].astype("int64")),
        explanation="Refund " + _ids(rows) + " brings the money returned on sale " + sale + " to " + money(refunded)
                    + ", more than the sale's " + money(rows["amount_cents_sale"].astype("int64"))
                    + "; check who issued it and recover the difference.")


def _other_card(rows: pd.DataFrame) -> pd.DataFrame:
    sale = _ids(rows, "transaction_id_sale")
    return flag_rows(
        OTHER_CARD, "error", transaction_id=rows["transaction_id"], score=np.full(len(rows), 90.0),
        amount_cents=rows["amount_cents"], occurred_at=rows["created_at"], related_ids=sale,
        evidence="refund to card ending " + rows["last4"].to_numpy(dtype=object) + ", sale " + sale
                 + " on card ending " + rows["last4_sale"].astype(str).to_numpy(dtype=object),
        explanation="Refund " + _ids(rows) + " (" + money(rows["amount_cents"]) + ") goes to a card ending "
                    + rows["last4"].to_numpy(dtype=object) + " but sale " + sale + " was paid with the card ending "
                    + rows["last4_sale"].astype(str).to_numpy(dtype=object) + "; refunds normally go back to the "
                    "card that paid, so confirm it with whoever issued it.")


def _party(rows: pd.DataFrame) -> pd.Series:
    """The customer (even codes) or, without one, the card (odd codes); -1 when neither is known."""
    customer, card = rows["customer"].to_numpy(), rows["card"].to_numpy()
    return pd.Series(np.where(customer >= 0, customer * 2, np.where(card >= 0, card * 2 + 1, -1)), index=rows.index)


def _quick(rows: pd.DataFrame, all_tied: pd.DataFrame, hours: float, min_count: int) -> pd.DataFrame:
    window = int(hours * 3600 * 1_000_000_000)
    linked = all_tied[all_tied["transaction_id_sale"].notna()]
    quick = linked[(linked["time"] - linked["time_sale"].astype("int64")) <= window]
    party = _party(quick)
    counts = party[party >= 0].value_counts()
    these = rows[(rows["time"] - rows["time_sale"].astype("int64")) <= window]
    these_party = _party(these)
    count = these_party.map(counts).fillna(0).astype("int64").to_numpy()
    keep = count >= min_count
    these, count = these[keep], count[keep]
    minutes = ((these["time"] - these["time_sale"].astype("int64")) / 6e10).round().astype("int64").astype(str)
    sale = _ids(these, "transaction_id_sale")
    counted = count.astype(str).astype(object)
    return flag_rows(
        QUICK, "warning", transaction_id=these["transaction_id"], score=count.astype(float),
        amount_cents=these["amount_cents"], occurred_at=these["created_at"], related_ids=sale,
        evidence=minutes.to_numpy(dtype=object) + " min after sale " + sale + "; " + counted
                 + " quick refunds for this customer or card",
        explanation="Refund " + _ids(these) + " comes " + minutes.to_numpy(dtype=object) + " minutes after sale "
                    + sale + ", and this customer or card has " + counted + " refunds that quick; check that the "
                    "goods came back, since pay-then-refund can move stolen money.")
