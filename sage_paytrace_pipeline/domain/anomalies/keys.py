"""Who a transaction is about, as comparable text keys, and which transactions moved money.

PayTrace's export has no card number (only brand, BIN, last 4 and expiry), so a card is its
fingerprint brand|BIN|last4|MM/YYYY; a customer is the vault customer id, else the e-mail.
"" means unknown and never matches anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SALE_TYPES = ("SALE", "AUTHORIZATION", "CAPTURE", "FORCE")
MONEY_STATUSES = ("PENDING", "SETTLED")


def text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype("string").fillna("").str.strip().astype(object)


def card_key(frame: pd.DataFrame) -> pd.Series:
    last4 = text(frame, "card_last4")
    parts = [text(frame, "card_brand").str.upper(), text(frame, "card_bin"), last4,
             text(frame, "card_expiration_month").str.zfill(2), text(frame, "card_expiration_year")]
    key = parts[0] + "|" + parts[1] + "|" + parts[2] + "|" + parts[3] + "/" + parts[4]
    return key.where(last4 != "", "")


def customer_key(frame: pd.DataFrame) -> pd.Series:
    vault = text(frame, "customer_id")
    email = text(frame, "email").str.lower()
    return ("vault:" + vault).where(vault != "", ("email:" + email).where(email != "", ""))


def is_sale(frame: pd.DataFrame) -> np.ndarray:
    return text(frame, "transaction_type").str.upper().isin(SALE_TYPES).to_numpy()


def is_refund(frame: pd.DataFrame) -> np.ndarray:
    return (text(frame, "transaction_type").str.upper() == "REFUND").to_numpy()


def moved_money(frame: pd.DataFrame) -> np.ndarray:
    return text(frame, "status").str.upper().isin(MONEY_STATUSES).to_numpy()


def is_declined(frame: pd.DataFrame) -> np.ndarray:
    return (text(frame, "status").str.upper() == "DECLINED").to_numpy()


def reference(frame: pd.DataFrame) -> pd.Series:
    """The payer's reference: invoice_id, else the description, upper-cased with blanks folded."""
    invoice = text(frame, "invoice_id").str.upper()
    description = text(frame, "description").str.upper().str.split().str.join(" ").fillna("")
    return invoice.where(invoice != "", description)


def timestamps(frame: pd.DataFrame) -> np.ndarray:
    """created_at as int64 nanoseconds UTC (NaT -> minimum int, sorts first and never falls in a window)."""
    return pd.to_datetime(frame["created_at"], utc=True).to_numpy(dtype="datetime64[ns]").view("int64")
