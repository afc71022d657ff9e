"""Frames the settlement core needs and the frames it hands back, reshaped (pure: no reads, no writes).

What the settlement flow reads from Sage lives in `ledger.py`; from PayTrace, in `batches.py`.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.settlement import GlAccountMap, Reconciliation
from sage_paytrace_pipeline.domain.settlement.frames import exception_rows
from sage_paytrace_pipeline.sage100.models import GlAccount, PaymentType

EXCEPTION_COLUMNS = ["kind", "severity", "batch_number", "source_ids", "problem", "action"]


def lookback_days(window_business_days: int) -> int:
    """Calendar days of batches reconciled together with a day's: a deposit can only belong to a
    batch closed within the window before it, so batches older than this compete for nothing."""
    return math.ceil(window_business_days * 7 / 5) + 4


def batch_window(day: date, window_business_days: int) -> tuple[date, date]:
    """The closed dates of the batches reconciled together with the day's (before and after it)."""
    days = lookback_days(window_business_days)
    return day - timedelta(days=days), day + timedelta(days=days)


def account_map(config: PipelineConfig, payment_types: list[PaymentType], accounts: list[GlAccount]) -> GlAccountMap:
    """Config accounts, and each brand's clearing account = the asset account of its Sage payment type
    (where the pipeline's receipts debited it), else `gl_accounts.card_clearing`."""
    by_key = {account.account_key: account.account for account in accounts}
    types = {payment_type.payment_type: payment_type for payment_type in payment_types}
    clearing: dict[str, str] = {}
    for brand, code in config.sage.payment_types.items():
        payment_type = types.get(code)
        clearing[brand] = by_key.get(payment_type.asset_account_key, "") if payment_type else ""
        clearing[brand] = clearing[brand] or config.gl_accounts.card_clearing
    return GlAccountMap(
        bank=config.gl_accounts.bank, merchant_fees=config.gl_accounts.merchant_fees,
        refunds=config.gl_accounts.refunds, chargebacks=config.gl_accounts.chargebacks,
        unposted_sales=config.gl_accounts.unposted_sales,
        processor_receivable=config.gl_accounts.processor_receivable, clearing_by_brand=clearing,
        active_accounts=frozenset(account.account for account in accounts if account.active),
    )


def not_configured_exception() -> pd.DataFrame:
    """The one exception of a settlement run while `settlement` is not configured (nothing is guessed)."""
    return exception_rows(
        "settlement_not_configured", "warning", None, size=1, source_ids="config: settlement",
        problem="settlement is not configured, so batches are not reconciled with deposits and no GL entry is posted",
        action=("set settlement.discount_method (daily: fees deducted from each deposit; monthly: one fee debit a "
                "month, as the merchant statement shows) and the gl_accounts; the next run reconciles the open days"))


def for_day(recon: Reconciliation, day_batches: set[int], day_lines: set[str]) -> dict[str, pd.DataFrame]:
    """The rows of one business day: its batches' expected deposits, matches and exceptions, and the
    bank-level exceptions of lines posted that day (`file:line` keys)."""
    expected = recon.expected[recon.expected["batch_number"].isin(day_batches)]
    matches = recon.matches[recon.matches["batch_number"].isin(day_batches)]
    exceptions = recon.exceptions
    own = exceptions["batch_number"].isin(day_batches)
    first_source_id = exceptions["source_ids"].astype(str).str.split(" ").str[0]
    bank_level = exceptions["batch_number"].isna() & first_source_id.isin(day_lines)
    return {"expected": expected, "matches": matches, "exceptions": exceptions[own | bank_level]}


def line_keys(lines: pd.DataFrame) -> set[str]:
    return set(lines["source_file"].astype(str) + ":" + lines["source_line"].astype(str))


def text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and tuples (e.g. transaction id lists) as comma text, which DuckDB columns hold plainly."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, (list, tuple))).any():
            frame[column] = frame[column].map(lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return frame


def dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    """The frame as the warehouse holds it: list columns as text, the DATE partition column first."""
    frame = text_columns(frame.reset_index(drop=True))
    frame.insert(0, "business_date", day)
    return frame


def batch_input(brands: pd.DataFrame) -> pd.DataFrame:
    """Per-brand batch rows (as `paytrace_settlement_batches` holds them) in the core's batch shape."""
    frame = brands.assign(closed_date=pd.to_datetime(brands["business_date"]).dt.date)
    return frame[["batch_number", "closed_date", "brand", "sales_count", "sales_cents", "refund_count", "refund_cents"]]


def no_receipts() -> pd.DataFrame:
    """No posted receipts, typed: the batch tie-out reconciles with nothing posted yet."""
    return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "amount_cents": pd.Series(dtype="int64"),
                         "payment_type": pd.Series(dtype=object), "state": pd.Series(dtype=object)})


def no_deposits() -> pd.DataFrame:
    """No bank lines, typed: the batch tie-out needs no deposit."""
    return pd.DataFrame({"source_file": pd.Series(dtype=object), "source_line": pd.Series(dtype="int64"),
                         "account_id": pd.Series(dtype=object), "posted_date": pd.Series(dtype=object),
                         "amount_cents": pd.Series(dtype="int64"), "type_code": pd.Series(dtype=object),
                         "bank_reference": pd.Series(dtype=object), "description": pd.Series(dtype=object)})


def with_created_dates(transactions: pd.DataFrame, time_zone: str) -> pd.DataFrame:
    """The transactions with `created_date`: the business day each was created (its created_at in the
    merchant's zone, the day PayTrace's export files it under); empty where created_at is."""
    created = pd.to_datetime(transactions["created_at"], utc=True).dt.tz_convert(time_zone)
    dates = pd.Series(created.dt.date.to_numpy(dtype=object), index=transactions.index).where(created.notna(), None)
    return transactions.assign(created_date=dates)


def receipts_from_log(entries: pd.DataFrame) -> pd.DataFrame:
    """Posting-log rows (receivables' log of Sage receipts) in the core's posted-receipt shape."""
    receipts = entries[["transaction_id", "amount_cents", "payment_type", "state"]].astype(
        {"transaction_id": "int64", "amount_cents": "int64"})
    if "business_date" in entries:  # the receipt's posting date in Sage: a PT-S reclass is dated with it
        receipts = receipts.assign(posting_date=pd.to_datetime(entries["business_date"]).dt.date)
    return receipts
