"""The payable open invoices, indexed once per run with integer keys and shared by both stages.

Customer resolution (who has invoice N open?) and invoice application (is N open for this
customer?) both join against a million open invoices. Joining on the string columns costs
seconds per join (pandas factorizes every key each time), so the strings are factorized once
here and the joins run on int64 codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

_KEY = ["division", "customer_no"]


@dataclass(frozen=True)
class OpenInvoiceIndex:
    # One row per (division, customer_no, invoice_no): IN before DM before FC, in the order
    # (type rank, row) of the chosen invoice; invoice_id numbers the rows; customer_key and
    # invoice_key are the integer codes below; first_row is where the key first occurs in the input.
    payable: pd.DataFrame
    divisions: pd.Index
    customer_nos: pd.Index
    invoice_nos: pd.Index

    def customer_key(self, frame: pd.DataFrame) -> np.ndarray:
        """int64 code of each row's (division, customer_no); -1 where no payable invoice has it."""
        division = self.divisions.get_indexer(frame["division"])
        number = self.customer_nos.get_indexer(frame["customer_no"])
        return np.where((division >= 0) & (number >= 0), division * len(self.customer_nos) + number, -1)

    def invoice_key(self, invoice_no: pd.Series) -> np.ndarray:
        """int64 code of each invoice number; -1 where no payable invoice has it."""
        return self.invoice_nos.get_indexer(invoice_no).astype("int64")


def index_open_invoices(open_invoices: pd.DataFrame, policy: MatchingPolicy) -> OpenInvoiceIndex:
    types = list(policy.applicable_invoice_types)
    rows = np.flatnonzero((open_invoices["invoice_type"].isin(types) & (open_invoices["balance_cents"] > 0)).to_numpy())
    frame = open_invoices.iloc[rows]
    division, divisions = pd.factorize(frame["division"], use_na_sentinel=False)
    number, customer_nos = pd.factorize(frame["customer_no"], use_na_sentinel=False)
    invoice, invoice_nos = pd.factorize(frame["invoice_no"], use_na_sentinel=False)
    customer_key = division.astype("int64") * max(len(customer_nos), 1) + number
    key = customer_key * max(len(invoice_nos), 1) + invoice
    rank = frame["invoice_type"].map({t: i for i, t in enumerate(types)}).to_numpy("int64")
    position = np.arange(len(frame))
    # per key: the best-ranked (then earliest) row is kept; first_row remembers the key's first row
    by_key = np.lexsort((position, rank, key))
    starts = np.flatnonzero(np.r_[True, key[by_key][1:] != key[by_key][:-1]]) if len(key) else np.zeros(0, int)
    chosen = by_key[starts]
    first_row = np.minimum.reduceat(by_key, starts) if len(starts) else np.zeros(0, int)
    chosen_order = np.lexsort((chosen, rank[chosen]))
    chosen, first_row = chosen[chosen_order], first_row[chosen_order]
    payable = frame.iloc[chosen][[*_KEY, "invoice_no", "invoice_type", "balance_cents"]].reset_index(drop=True)
    payable["invoice_id"] = np.arange(len(payable), dtype="int64")
    payable["customer_key"] = customer_key[chosen]
    payable["invoice_key"] = invoice[chosen].astype("int64")
    payable["first_row"] = first_row
    return OpenInvoiceIndex(payable, pd.Index(divisions), pd.Index(customer_nos), pd.Index(invoice_nos))
