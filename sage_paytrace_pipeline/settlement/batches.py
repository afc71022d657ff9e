"""The batches PayTrace closed on a day, with their transactions, tied out against each other.

Reads through the PayTrace client: one export call for the day's batches, one per batch for its
transactions (not one per transaction), and one transaction export for the card brands the batch
listing hides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, reconcile
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.frames import (
    batch_brands_frame,
    transactions_frame,
)
from sage_paytrace_pipeline.paytrace.models import Batch
from sage_paytrace_pipeline.settlement.frames import (
    batch_input,
    no_deposits,
    no_receipts,
    text_columns,
)


@dataclass(frozen=True)
class ClosedBatches:
    """One day's batches: per-brand summary with its tie-out, the transactions, what was left out."""

    batch_count: int
    summary: pd.DataFrame  # per batch x brand: PayTrace's totals and whether they tie to the transactions
    brands: pd.DataFrame  # per batch x brand: PayTrace's totals as listed
    transactions: pd.DataFrame
    tie_out: pd.DataFrame
    rejected: list[str]  # "batch N: <masked record>" for each record PayTrace sent malformed


def read_closed_batches(client: PayTraceClient, day: date, policy: SettlementPolicy) -> ClosedBatches:
    """The day's batches tied out against their transactions. A record PayTrace sends malformed is
    left out (masked, listed in `rejected`): its batch then does not tie out, so its entry is held
    and the tie-out says which batch and brand to check."""
    batches = client.export_batches(day, day)
    exports = {number: client.read_batch_transactions(number) for number in map(_closed_number, batches)}
    rejected = [f"batch {number}: {record.describe()}"
                for number, export in exports.items() for record in export.rejected]
    transactions = with_brands(client, transactions_frame(
        [record for export in exports.values() for record in export.transactions], day))
    brands = batch_brands_frame(batches, day)
    recon = reconcile(batch_input(brands), transactions, no_receipts(), no_deposits(), policy=policy, as_of=day)
    summary = text_columns(brands.merge(recon.tie_out, on=["batch_number", "brand"], how="left"))
    return ClosedBatches(len(batches), summary, brands, transactions, recon.tie_out, rejected)


def _closed_number(batch: Batch) -> int:
    """A listed batch's number: PayTrace numbers every batch it closes, and one without cannot be read."""
    if batch.number is None:
        raise PayTraceError("PayTrace listed a closed batch without a batch number")
    return batch.number


def with_brands(client: PayTraceClient, transactions: pd.DataFrame) -> pd.DataFrame:
    """Card brands for batch transactions. PayTrace's batch listing masks the whole number, so the
    brand (which the tie-out and the per-brand clearing need) comes from the transaction export
    with the BIN: one call covering the days the batch's transactions were created. (The batch
    summary has per-brand totals only, so it cannot say which transaction is which brand.)"""
    unknown = transactions["card_brand"].isna() | transactions["card_brand"].isin(["", "UNKNOWN"])
    if not unknown.any():
        return transactions
    created = transactions.loc[unknown, "created_at"].dropna().dt.tz_convert(client.zone).dt.date
    if created.empty:
        return transactions
    export = client.read_transactions(created.min(), created.max(), include_bin=True)  # bad records: no brand
    brands = {record.transaction_id: record.card.brand for record in export.transactions if record.card}
    found = transactions["transaction_id"].map(brands)
    return transactions.assign(card_brand=transactions["card_brand"].where(~unknown | found.isna(), found))
