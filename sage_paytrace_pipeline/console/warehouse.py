"""The console's access to the pipeline's DuckDB warehouse: the refund request store.

DuckDB lets one process write a file at a time: the console opens it only for the moment of a read
or a decision, one at a time (a lock), and says so when a running step holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

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
