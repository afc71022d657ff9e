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
from sage_paytrace_pipeline.refunds.request_store import RefundRequest, RequestStore

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


def read_requests(warehouse: Path, state: str | None = None) -> list[RefundRequest]:
    """The refund requests (in `state`); none before the pipeline has written the warehouse."""
    if not warehouse.is_file():
        return []
    with request_store(warehouse) as store:
        return store.all(state)


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
