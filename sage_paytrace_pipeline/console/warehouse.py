"""The console's access to the pipeline's DuckDB warehouse: the refund request store.

DuckDB lets one process write a file at a time: the console opens it only for the moment of a read
or a decision, one at a time (a lock), and says so when a running step holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from sage_paytrace_pipeline.domain.refunds.requests import AWAITING_APPROVAL
from sage_paytrace_pipeline.refunds.remaining import TRANSACTIONS_TABLE, sale_snapshot, warehouse_refunds
from sage_paytrace_pipeline.refunds.request_store import TABLE, RefundRequest, RequestStore

_LOCK = threading.Lock()
T = TypeVar("T")


class WarehouseBusy(RuntimeError):
    """The warehouse is held by a running step; the decision was not made."""


@contextmanager
def request_store(warehouse: Path) -> Iterator[RequestStore]:
    """The refund request store on a connection held only for this block."""
    with _LOCK:
        try:
            connection = duckdb.connect(str(warehouse))
        except duckdb.IOException as error:
            raise WarehouseBusy(f"the warehouse is in use by a running step ({error}); try again in a minute") \
                from None
        try:
            yield RequestStore(connection)
        finally:
            connection.close()


def file_state(warehouse: Path) -> tuple:
    """What changes when anything writes the warehouse (the file and its write-ahead log)."""
    def state(path: Path) -> tuple[int, int] | None:
        try:
            found = path.stat()
        except FileNotFoundError:
            return None
        return found.st_mtime_ns, found.st_size

    return str(warehouse.resolve()), state(warehouse), state(warehouse.with_name(warehouse.name + ".wal"))


_CACHE: dict[tuple, object] = {}
_CACHE_LOCK = threading.Lock()


def cached(name: str, warehouse: Path, read: Callable[[], T]) -> T:
    """`read()`'s result, kept until the warehouse changes: between runs, pages do not read it again."""
    key = (name, *file_state(warehouse))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]  # type: ignore[return-value]
    value = read()
    with _CACHE_LOCK:
        for stale in [k for k in _CACHE if k[0] == name and k[1] == key[1]]:
            del _CACHE[stale]
        _CACHE[key] = value
    return value


def read_requests(warehouse: Path, state: str | None = None) -> list[RefundRequest]:
    """The refund requests (in `state`); none before the pipeline has written the warehouse."""
    if not warehouse.is_file():
        return []

    def read() -> list[RefundRequest]:
        # read-only: a read changes nothing in the file (so the cache holds) and waits on no writer's lock
        with _LOCK:
            connection = duckdb.connect(str(warehouse), read_only=True)
            try:
                schema, _, table = TABLE.partition(".")
                present = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                                             "AND table_name = ?", [schema, table]).fetchall()[0][0]
                return RequestStore(connection, create=False).all() if present else []
            finally:
                connection.close()

    return [r for r in cached("requests", warehouse, read) if state is None or r.state == state]


def with_request_store(warehouse: Path, action: Callable[[RequestStore], T]) -> T:
    with request_store(warehouse) as store:
        return action(store)


@dataclass(frozen=True)
class AwaitingRefund:
    """A request awaiting approval with its sale as the warehouse last saw it (None: not in the warehouse)."""

    request: RefundRequest
    sale_amount_cents: int | None
    sale_status: str
    remaining_cents: int | None  # of the sale: less what PayTrace refunded and other requests in flight


def awaiting_refunds(warehouse: Path) -> list[AwaitingRefund]:
    """The requests awaiting approval, each with its sale and what remains refundable of it (one query each)."""
    if not warehouse.is_file():
        return []
    with request_store(warehouse) as store:
        requests = store.all()
        waiting = [r for r in requests if r.state == AWAITING_APPROVAL]
        sales = _sales(store.connection, [r.sale_transaction_id for r in waiting if r.sale_transaction_id])
        refunds = warehouse_refunds(store.connection)
    result = []
    for request in waiting:
        sale = sales.get(request.sale_transaction_id or -1)
        if sale is None:
            result.append(AwaitingRefund(request, None, "", None))
            continue
        snapshot = sale_snapshot(request, requests, refunds, transaction_id=int(sale["transaction_id"]),
                                 status=str(sale["status"]), amount_cents=int(sale["amount_cents"]),
                                 invoice_id=str(sale["invoice_id"] or ""), card_last4=sale["card_last4"])
        result.append(AwaitingRefund(request, snapshot.amount_cents, snapshot.status, snapshot.remaining_cents))
    return result


def _sales(connection: duckdb.DuckDBPyConnection, sale_ids: list[int]) -> dict[int, dict]:
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'paytrace_transactions'").fetchall()[0][0]
    if not exists or not sale_ids:
        return {}
    rows = connection.execute(f"""
        SELECT transaction_id, status, amount_cents, invoice_id, card_last4 FROM {TRANSACTIONS_TABLE}
        WHERE transaction_id IN (SELECT unnest(?::BIGINT[]))
        QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY business_date DESC) = 1
    """, [sale_ids]).df()
    return {int(row["transaction_id"]): row for row in rows.to_dict("records")}
