"""The batches PayTrace closed on a day, with their transactions, tied out against each other.

Reads through the PayTrace client: one export call for the run's batches, one per batch for its
transactions (not one per transaction), and one transaction export for the card brands the batch
listing hides; a range of days is read in those same calls and split into its days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.settlement import SettlementPolicy, batch_tie_out
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import PayTraceError
from sage_paytrace_pipeline.paytrace.frames import (
    batch_brands_frame,
    transactions_frame,
)
from sage_paytrace_pipeline.paytrace.models import Batch
from sage_paytrace_pipeline.paytrace.ranges import batches_by_day
from sage_paytrace_pipeline.paytrace.records import ParsedRecords, TransactionExport
from sage_paytrace_pipeline.settlement.frames import batch_input, text_columns


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
    return read_closed_batches_by_day(client, [day], policy)[day]


def read_closed_batches_by_day(
    client: PayTraceClient, days: Sequence[date], policy: SettlementPolicy
) -> dict[date, ClosedBatches]:
    """Each day's batches, as `read_closed_batches` gives them day by day, read for the whole range
    at once: one batch export, one call per batch for its transactions, one transaction export for
    the card brands of all of them; tied out day by day."""
    listed = batches_by_day(client, days)
    parsed = ParsedRecords()  # the brand export repeats the batches' records: only their cards are parsed again
    exports = {day: {number: client.read_batch_transactions(number, parsed=parsed)
                     for number in map(_closed_number, batches)} for day, batches in listed.items()}
    records = {day: transactions_frame([record for export in by_batch.values() for record in export.transactions],
                                       day) for day, by_batch in exports.items()}
    branded = dict(zip(records, brands_for_each(client, list(records.values()), parsed=parsed), strict=True))
    return {day: _tied_out(day, listed[day], exports[day], branded[day], policy) for day in days}


def _tied_out(day: date, batches: list[Batch], exports: dict[int, TransactionExport], transactions: pd.DataFrame,
              policy: SettlementPolicy) -> ClosedBatches:
    rejected = [f"batch {number}: {record.describe()}"
                for number, export in exports.items() for record in export.rejected]
    brands = batch_brands_frame(batches, day)
    tie_out = batch_tie_out(batch_input(brands), transactions, policy=policy)
    summary = text_columns(brands.merge(tie_out, on=["batch_number", "brand"], how="left"))
    return ClosedBatches(len(batches), summary, brands, transactions, tie_out, rejected)


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
    return brands_for_each(client, [transactions])[0]


def brands_for_each(client: PayTraceClient, frames: list[pd.DataFrame], *,
                    parsed: ParsedRecords | None = None) -> list[pd.DataFrame]:
    """`with_brands` for several days' frames with one transaction export covering all of them;
    each frame comes back as `with_brands` alone would return it (untouched when it needs no brand).
    `parsed`: the records of the batch exports read before, which the export repeats."""
    unknown = [frame["card_brand"].isna() | frame["card_brand"].isin(["", "UNKNOWN"]) for frame in frames]
    created = [frame.loc[mask, "created_at"].dropna().dt.tz_convert(client.zone).dt.date
               for frame, mask in zip(frames, unknown, strict=True)]
    needed = [dates for dates in created if not dates.empty]
    if not needed:
        return frames
    first, last = min(dates.min() for dates in needed), max(dates.max() for dates in needed)
    # only the records of the transactions looked up are read (the export holds every transaction created
    # in the days, a third of them in no batch of the run: declines, other days' batches); bad ones: no brand
    wanted = {int(tid) for frame, mask in zip(frames, unknown, strict=True)
              for tid in frame.loc[mask, "transaction_id"].tolist()}
    export = client.read_transactions(first, last, include_bin=True, parsed=parsed, only_ids=wanted)
    brands = _brand_by_id({record.transaction_id: record.card.brand for record in export.transactions if record.card})
    return [frame if dates.empty else _branded(frame, mask, brands)
            for frame, mask, dates in zip(frames, unknown, created, strict=True)]


def _brand_by_id(brands: Mapping[int, object]) -> pd.Series:
    """The export's brands as the Series `Series.map` makes of a dict on every call, made once: a range's
    export holds every day's records, and each day's frame looked its few up in all of them (a year's run
    built a Series of some 365,000 brands, and its hash table, once a day)."""
    return pd.Series(brands, dtype="float64") if not brands else pd.Series(brands)


def _branded(transactions: pd.DataFrame, unknown: pd.Series, brands: pd.Series) -> pd.DataFrame:
    found = transactions["transaction_id"].map(brands)
    return transactions.assign(card_brand=transactions["card_brand"].where(~unknown | found.isna(), found))
