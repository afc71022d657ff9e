"""The store's part in the receipt: the PayTrace sale that paid a store order names the order's Sage invoice.

The store charges with ``invoice_id`` = its order number, which Sage knows only as the invoice's
``CustomerPONo``. Once the order is in Sage (`store_postings`), the sale's ``invoice_id`` is set to
the Sage invoice number before matching, so the receivables pipeline applies the sale to that
invoice by its exact-invoice rule (and finds the customer from it) and posts the receipt exactly
once, as for any other sale. Nothing else in matching changes.

A sale that arrives first (the order not yet in Sage) is held back from matching for
`store.receipt_grace_minutes` instead of becoming a prepayment or an unmatched exception: a sale of
an order known to the inbox but not yet posted, a sale naming an invoice that is not an open Sage
invoice, or a linked sale whose invoice is newer than the run's open-invoice snapshot. After the
grace period it goes through matching as it is (and is reported if still unplaced).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd


@dataclass(frozen=True)
class StoreSaleLinks:
    payments: pd.DataFrame  # the day's payments, store sales pointing at their Sage invoice
    held: pd.DataFrame  # store sales waiting for their invoice (transaction_id, invoice_id, created_at)
    linked: int


def link_store_sales(payments: pd.DataFrame, postings: pd.DataFrame, pending_transactions: set[str],
                     open_invoice_numbers: Collection[str] | Callable[[], Collection[str]], *, in_sage: set[int],
                     now: datetime, grace: timedelta) -> StoreSaleLinks:
    """`postings`: paytrace_transaction_id, invoice_no (orders in Sage); `pending_transactions`: sale ids
    of paid orders in the inbox not yet in Sage; `open_invoice_numbers` (or what makes them, called only
    when a sale is young enough to be held); `in_sage`: payments Sage already holds (never held:
    matching carries them from the posting log)."""
    if payments.empty:
        return StoreSaleLinks(payments, payments.head(0), 0)
    ids = payments["transaction_id"].astype("int64").astype(str)
    invoice_of = (postings.dropna(subset=["paytrace_transaction_id"])
                  .drop_duplicates("paytrace_transaction_id")
                  .set_index("paytrace_transaction_id")["invoice_no"]) if len(postings) else pd.Series(dtype=object)
    linked = ids.isin(invoice_of.index)
    adjusted = payments.copy()
    adjusted["invoice_id"] = adjusted["invoice_id"].astype(object).where(~linked.to_numpy(),
                                                                          ids.map(invoice_of).to_numpy())
    adjusted["invoice_id"] = adjusted["invoice_id"].astype(payments["invoice_id"].dtype)
    young = (pd.to_datetime(payments["created_at"], utc=True) > pd.Timestamp(now - grace)).fillna(False)
    if not young.any():  # only a young sale is held: older days (a backfill's) need no look-up in the open items
        return StoreSaleLinks(adjusted.reset_index(drop=True),
                              payments.head(0)[["transaction_id", "invoice_id", "created_at"]],
                              int(linked.sum()))
    if callable(open_invoice_numbers):
        open_invoice_numbers = open_invoice_numbers()
    invoice_text = payments["invoice_id"].astype("string").fillna("").str.strip()
    names_no_open_invoice = (invoice_text != "") & ~invoice_text.isin(open_invoice_numbers)
    linked_invoice_open = ids.map(invoice_of).isin(open_invoice_numbers)
    waiting = (linked & ~linked_invoice_open) | (~linked & (ids.isin(pending_transactions) | names_no_open_invoice))
    posted = payments["transaction_id"].astype("int64").isin(list(in_sage))
    held = (waiting & young & ~posted).to_numpy()
    return StoreSaleLinks(adjusted[~held].reset_index(drop=True),
                          payments.loc[held, ["transaction_id", "invoice_id", "created_at"]].reset_index(drop=True),
                          int(linked.sum()))
