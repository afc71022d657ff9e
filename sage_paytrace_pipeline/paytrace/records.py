"""A PayTrace transaction export read record by record: good records kept, each bad one rejected.

One malformed record must not hold back a day's payments, and must not vanish either: it becomes
a `RejectedRecord` naming the record (transaction id when readable, else its position), the field
and what is wrong, with any quoted value card-masked. A transaction id that appears more than once
keeps its first record; each further copy is rejected as a duplicate.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from sage_paytrace_pipeline.paytrace.models import (
    RecordProblem,
    Transaction,
    parse_transaction,
    record_card,
    transaction_id_of,
)


@dataclass(frozen=True)
class RejectedRecord:
    position: int  # 0-based index of the record in the export answer
    transaction_id: int | None  # None when the id itself is missing or unusable
    field: str
    problem: str  # card-masked, never the record itself
    duplicate: bool = False
    same_as_kept: bool = False  # duplicates only: the copy equals the record kept

    def describe(self) -> str:
        which = f"transaction {self.transaction_id}" if self.transaction_id is not None else (
            f"record #{self.position + 1} (no usable transaction id)")
        return f"{which}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class TransactionExport:
    transactions: list[Transaction]
    rejected: list[RejectedRecord]

    @property
    def malformed(self) -> list[RejectedRecord]:
        """Rejections other than exact repeats of a kept record."""
        return [r for r in self.rejected if not (r.duplicate and r.same_as_kept)]


class ExportShapeError(ValueError):
    """The answer's record list itself is unusable (not a list), so no record can be trusted."""


def export_records(body: Mapping[str, Any], key: str) -> list[Any]:
    """The raw items under `key`: a list as is, one object as a list of one, absent as none."""
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return value
    raise ExportShapeError(f"'{key}' is a JSON {type(value).__name__}, not a list of records")


class ParsedRecords:
    """The records of the exports read so far, to read another export of the same transactions by.

    PayTrace sends a transaction alike in every export but for its card (the batch listing masks the
    whole number, the date-range export shows the BIN). A record written exactly like one parsed before
    in every other field (the same `repr`: values, types and field order) is that transaction with its
    own card: only the card is parsed again. The transaction, or the problem, is the one
    `parse_transaction` gives. Each record is kept as that text, not as the record.
    """

    def __init__(self) -> None:
        self._parsed: dict[tuple[type, object], tuple[ZoneInfo, str, Transaction]] = {}

    def parse(self, raw: Any, zone: ZoneInfo) -> Transaction:
        key = _id_key(raw)
        known = self._parsed.get(key) if key is not None else None
        if known is not None and known[0] == zone and _written(raw) == known[1]:
            return known[2].model_copy(update={"card": record_card(raw.get("credit_card"))})
        transaction = parse_transaction(raw, zone)
        if key is not None and key not in self._parsed:
            self._parsed[key] = (zone, _written(raw), transaction)
        return transaction


def _id_key(raw: Any) -> tuple[type, object] | None:
    value = raw.get("transaction_id") if isinstance(raw, Mapping) else None
    return (type(value), value) if type(value) in (int, str) else None


def _written(raw: Mapping[str, Any]) -> str:
    """The record without its card, as text that tells values of different types apart (1, 1.0, true)."""
    return repr([(name, value) for name, value in raw.items() if name != "credit_card"])


def parse_transaction_export(body: Mapping[str, Any], zone: ZoneInfo, key: str = "transactions",
                             parsed: ParsedRecords | None = None, *,
                             only_ids: Collection[int] | None = None) -> TransactionExport:
    """`parsed`: the records of exports read before, the same transactions read again cheaply (and this
    export's records added to them). `only_ids`: the transactions wanted; a record of another id (or of
    none readable: it could not be read anyway) is skipped unread, neither kept nor rejected, so each
    wanted transaction comes out as the whole export would give it."""
    transactions: list[tuple[int, Transaction]] = []
    rejected: list[RejectedRecord] = []
    parse = parsed.parse if parsed is not None else parse_transaction
    for position, raw in enumerate(export_records(body, key)):
        if only_ids is not None and _readable_id(raw) not in only_ids:
            continue
        try:
            transactions.append((position, parse(raw, zone)))
        except RecordProblem as problem:
            rejected.append(RejectedRecord(position, _readable_id(raw), problem.field, problem.problem))
        except (ValidationError, ValueError, TypeError) as exc:  # a model limit no field check foresaw
            rejected.append(RejectedRecord(position, _readable_id(raw), "record",
                                           f"not a usable transaction record ({type(exc).__name__})"))
    kept, duplicates = _first_of_each_id(transactions)
    return TransactionExport(kept, sorted(rejected + duplicates, key=lambda r: r.position))


def _readable_id(raw: Any) -> int | None:
    try:
        return transaction_id_of(raw)
    except RecordProblem:
        return None


def _first_of_each_id(
    transactions: list[tuple[int, Transaction]],
) -> tuple[list[Transaction], list[RejectedRecord]]:
    kept: dict[int, Transaction] = {}
    duplicates = []
    for position, transaction in transactions:
        first = kept.setdefault(transaction.transaction_id, transaction)
        if first is transaction:
            continue
        same = first == transaction
        duplicates.append(RejectedRecord(
            position, transaction.transaction_id, "transaction_id",
            "appears more than once in the export; the first record was kept"
            + (" (this copy is identical)" if same else " and this differing copy was set aside"),
            duplicate=True, same_as_kept=same))
    return list(kept.values()), duplicates
