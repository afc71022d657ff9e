"""Tiny frame builders: a test states only the columns it is about."""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS


def payments(*rows: dict) -> pd.DataFrame:
    defaults = {"transaction_type": "SALE", "status": "SETTLED", "amount_cents": 10000, "invoice_id": "",
                "description": "", "customer_id": None, "email": None, "billing_name": None, "billing_zip": None}
    records = [{**defaults, "transaction_id": 1000 + i, **row} for i, row in enumerate(rows)]
    frame = pd.DataFrame(records)
    for column in TRANSACTION_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["created_at"] = pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(frame["transaction_id"], unit="s")
    return frame.astype({"transaction_id": "int64", "amount_cents": "int64"})


def customers(*rows: dict) -> pd.DataFrame:
    defaults = {"division": "01", "name": "", "zip_code": "", "email": "", "status": "A", "credit_card_guid": ""}
    return pd.DataFrame([{**defaults, **row} for row in rows],
                        columns=["division", "customer_no", "name", "zip_code", "email", "status", "credit_card_guid"])


def cards(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{"division": "01", **row} for row in rows],
                        columns=["division", "customer_no", "credit_card_guid"])


def invoices(*rows: dict) -> pd.DataFrame:
    defaults = {"division": "01", "invoice_type": "IN", "balance_cents": 10000}
    frame = pd.DataFrame([{**defaults, **row} for row in rows],
                         columns=["division", "customer_no", "invoice_no", "invoice_type", "balance_cents"])
    return frame.astype({"balance_cents": "int64"})


def links(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{"division": "01", **row} for row in rows], columns=["customer_id", "division", "customer_no"])


def links_for(tid_to_customer: dict[int, str]) -> pd.DataFrame:
    """customer_links as resolve_customers returns them, for invoice tests."""
    return pd.DataFrame({
        "transaction_id": pd.Series(list(tid_to_customer), dtype="int64"), "division": "01",
        "customer_no": list(tid_to_customer.values()), "method": "vault_id", "score": 100.0, "explanation": "test",
    })
