"""Exports for a range of business days in one call, split into the days in memory.

PayTrace's date-range exports select by the merchant-zone date of a record's timestamp (transactions
by creation, batches by closing), so one call from the first to the last day, split by that local
date, gives each day exactly what its own one-day call gives. Where a split could differ from the
one-day calls (a record with no timestamp, a malformed record whose day cannot be told, a repeated
transaction id, whose "first copy kept" depends on the call) the days are read one call each, as a
single-day run reads them, so a range run's output never depends on how the days were grouped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.models import Batch
from sage_paytrace_pipeline.paytrace.records import TransactionExport


def transactions_by_day(client: PayTraceClient, days: Sequence[date]) -> dict[date, TransactionExport]:
    """Each day's transaction export (include_bin, as `read_transactions` defaults): one call for the range."""
    if len(days) == 1:
        return {days[0]: client.read_transactions(days[0], days[0])}
    export = client.read_transactions(min(days), max(days))
    if export.rejected or any(record.created_at is None for record in export.transactions):
        return {day: client.read_transactions(day, day) for day in days}
    split: dict[date, list] = {day: [] for day in days}
    for record in export.transactions:
        wanted = split.get(_local_day(client, record.created_at))
        if wanted is not None:  # a day between the run's days that is not one of them (not a business day)
            wanted.append(record)
    return {day: TransactionExport(records, []) for day, records in split.items()}


def batches_by_day(client: PayTraceClient, days: Sequence[date]) -> dict[date, list[Batch]]:
    """The batches PayTrace closed on each day: one batch export for the range."""
    if len(days) == 1:
        return {days[0]: client.export_batches(days[0], days[0])}
    batches = client.export_batches(min(days), max(days))
    if any(batch.created_at is None for batch in batches):
        return {day: client.export_batches(day, day) for day in days}
    split: dict[date, list[Batch]] = {day: [] for day in days}
    for batch in batches:
        wanted = split.get(_local_day(client, batch.created_at))
        if wanted is not None:
            wanted.append(batch)
    return split


def _local_day(client: PayTraceClient, moment: datetime | None) -> date:
    assert moment is not None  # callers fall back to one call per day when a timestamp is missing
    return moment.astimezone(client.zone).date()
