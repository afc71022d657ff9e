"""Sage's customers and open invoices as the suggestions read them, each view cleaned once.

A day's suggestions are about a few payers, but reading them against the directory and the ledger
cleaned the whole of both again (text stripped, names processed, invoice numbers upper-cased). The
days of a range run share one snapshot (`defs.ranges.as_of`), so they share one `Ledger`: each view
is made on first use and kept. The views are read, never changed, by the candidates' code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.suggestions.customers import NameBlocks, directory_frame, name_blocks


@dataclass(eq=False)
class Ledger:
    customers: pd.DataFrame
    open_invoices: pd.DataFrame
    _applicable: dict[tuple[str, ...], tuple[pd.DataFrame, dict[tuple, np.ndarray]]] = field(
        default_factory=dict, init=False, repr=False)
    _rows_with: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def directory(self) -> pd.DataFrame:
        """The customers' cleaned facts (customers.directory_frame), each with its position `row`."""
        directory = directory_frame(self.customers).reset_index(drop=True)
        directory["row"] = np.arange(len(directory))
        return directory

    def rows_with(self, column: str) -> pd.DataFrame:
        """(column, row) of the directory's customers with a value in `column` (e-mail, domain, vault id): what
        a day's payers are joined to, sliced once per snapshot rather than once a day."""
        if column not in self._rows_with:
            directory = self.directory
            self._rows_with[column] = directory.loc[directory[column] != "", [column, "row"]]
        return self._rows_with[column]

    @cached_property
    def names(self) -> NameBlocks:
        """The directory's processed names grouped by their first two characters."""
        return name_blocks(self.directory)

    @cached_property
    def invoices_by_row(self) -> pd.DataFrame:
        """(division, customer_no, invoice_no stripped and upper-cased, balance_cents, row) of each open invoice
        of a directory customer."""
        key = self.directory[["division", "customer_no", "row"]]
        invoices = self.open_invoices[["division", "customer_no", "invoice_no", "balance_cents"]].astype(
            {"invoice_no": str}).merge(key, on=["division", "customer_no"])
        invoices["invoice_no"] = invoices["invoice_no"].str.strip().str.upper()
        return invoices

    @cached_property
    def invoice_numbers(self) -> pd.DataFrame:
        """(division, customer_no, invoice_no as text) of each open invoice."""
        return self.open_invoices[["division", "customer_no", "invoice_no"]].astype({"invoice_no": str})

    def open_invoices_of(self, customers: pd.DataFrame) -> pd.DataFrame:
        """The open invoices of these (division, customer_no)."""
        return _rows_of(self.open_invoices, self._by_customer, customers)

    def invoice_numbers_of(self, customers: pd.DataFrame) -> pd.DataFrame:
        """`invoice_numbers` of these (division, customer_no)."""
        return _rows_of(self.invoice_numbers, self._by_customer, customers)

    def applicable_of(self, invoice_types: tuple[str, ...], customers: pd.DataFrame) -> pd.DataFrame:
        """The open invoices of these types with a balance, of these (division, customer_no): what their unapplied
        payments may pay (invoice_no stripped and upper-cased, balance_cents int64, invoice_date)."""
        if invoice_types not in self._applicable:
            invoices = self.open_invoices
            invoices = invoices[invoices["invoice_type"].astype(str).isin(invoice_types)
                                & (invoices["balance_cents"].astype("int64") > 0)].copy()
            invoices["invoice_no"] = invoices["invoice_no"].astype(str).str.strip().str.upper()
            invoices["balance_cents"] = invoices["balance_cents"].astype("int64")
            if "invoice_date" not in invoices:
                invoices["invoice_date"] = pd.NaT
            self._applicable[invoice_types] = (invoices, _positions(invoices))
        invoices, positions = self._applicable[invoice_types]
        return _rows_of(invoices, positions, customers)

    @cached_property
    def _by_customer(self) -> dict[tuple, np.ndarray]:
        return _positions(self.open_invoices)


def _positions(frame: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Each (division, customer_no) of the frame -> its rows' positions."""
    return frame.groupby(["division", "customer_no"], sort=False).indices if len(frame) else {}


def _rows_of(frame: pd.DataFrame, positions: dict[tuple, np.ndarray], customers: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` whose (division, customer_no) is one of `customers`', in the frame's order: what an
    inner merge on the two columns gives, without hashing the whole ledger for a day's few customers."""
    keys = dict.fromkeys(zip(customers["division"], customers["customer_no"], strict=True))
    found = [positions[key] for key in keys if key in positions]
    rows = np.sort(np.concatenate(found)) if found else np.zeros(0, dtype="int64")
    return frame.take(rows).reset_index(drop=True)
