"""The ledger's models as the frames matching expects (pure: lists of models in, DataFrames out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from sage_paytrace_pipeline.domain.ledger import Customer, CustomerCard, OpenInvoice
from sage_paytrace_pipeline.domain.money import decimal_to_cents

CUSTOMER_COLUMNS = ("division", "customer_no", "name", "zip_code", "email", "status", "credit_card_guid")
CARD_COLUMNS = ("division", "customer_no", "credit_card_guid")
OPEN_INVOICE_COLUMNS = ("division", "customer_no", "invoice_no", "invoice_type", "balance_cents")
LINK_COLUMNS = ("customer_id", "division", "customer_no")


def customers_frame(customers: Iterable[Customer]) -> pd.DataFrame:
    return _frame([[getattr(c, column) for column in CUSTOMER_COLUMNS] for c in customers], CUSTOMER_COLUMNS)


def cards_frame(cards: Iterable[CustomerCard]) -> pd.DataFrame:
    return _frame([[getattr(c, column) for column in CARD_COLUMNS] for c in cards], CARD_COLUMNS)


def open_invoices_frame(invoices: Iterable[OpenInvoice]) -> pd.DataFrame:
    rows = [[i.division, i.customer_no, i.invoice_no, i.invoice_type, decimal_to_cents(i.balance)] for i in invoices]
    frame = _frame(rows, OPEN_INVOICE_COLUMNS)
    return frame.astype({"balance_cents": "int64"})


def links_frame(links: Mapping[str, str | tuple[str, str]]) -> pd.DataFrame:
    """Operator links {vault id: "01-CUSTNO" or ("01", "CUSTNO")} as rows."""
    rows = []
    for vault_id, target in links.items():
        division, customer_no = target if isinstance(target, tuple) else target.split("-", 1)
        rows.append([vault_id, division, customer_no])
    return _frame(rows, LINK_COLUMNS)


def _frame(rows: list[list], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).astype(object)
