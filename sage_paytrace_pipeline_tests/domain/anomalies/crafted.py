"""Crafted PayTrace transaction frames for the anomaly rules (the export's columns and dtypes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles


def tx(transaction_id: int, amount_cents: int, *, minutes: float = 0, kind: str = "SALE", status: str = "SETTLED",
       customer_id: str = "", email: str = "", last4: str = "", invoice_id: str = "", description: str = "",
       at: datetime | None = None) -> dict:
    return {"business_date": (at or START).date(), "transaction_id": transaction_id, "transaction_type": kind,
            "status": status, "amount_cents": amount_cents,
            "created_at": (at or START) + timedelta(minutes=minutes), "customer_id": customer_id or None,
            "email": email or None, "card_last4": last4 or None, "card_brand": "VISA" if last4 else None,
            "card_bin": "401200" if last4 else None, "card_expiration_month": 12 if last4 else None,
            "card_expiration_year": 2029 if last4 else None, "invoice_id": invoice_id or None,
            "description": description or None}


def frame(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame(rows).reindex(columns=list(TRANSACTION_COLUMNS))
    data["created_at"] = pd.to_datetime(data["created_at"], utc=True)
    data["settled_at"] = pd.to_datetime(data["settled_at"], utc=True)
    return data.astype({k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def empty() -> pd.DataFrame:
    return frame([]).iloc[:0]
