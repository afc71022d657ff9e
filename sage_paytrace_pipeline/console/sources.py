"""Where the queue's exceptions come from: one registered source per area.

A source is a function from the console's context to a frame of open exceptions (COLUMNS); an area
plugs in by registering its source (`register`) and, for kinds that have more than "mark reviewed",
the actions its items offer. The areas of the warehouse's exception tables (receivables, settlement,
statements, refunds, refund requests) share one read of the warehouse; refund requests awaiting a
person come from the refund request store.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sage_paytrace_pipeline import exception_list
from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal

COLUMNS = exception_list.COLUMNS  # business_day, area, kind, severity, source_ids, problem, action


@dataclass
class SourceContext:
    """What sources read: the warehouse file, and a memo so sources sharing a read do it once per page."""

    warehouse: Path
    memo: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # why some area could not be read (shown on the page)


@dataclass(frozen=True)
class Source:
    name: str
    read: Callable[[SourceContext], pd.DataFrame]


_SOURCES: dict[str, Source] = {}
# Actions beyond "mark reviewed", by exception kind (every open item can be marked reviewed).
KIND_ACTIONS: dict[str, tuple[str, ...]] = {}


def register(source: Source, actions: dict[str, tuple[str, ...]] | None = None) -> None:
    """Add an area's source (replacing one of the same name) and the actions its kinds offer."""
    _SOURCES[source.name] = source
    KIND_ACTIONS.update(actions or {})


def sources() -> list[Source]:
    return list(_SOURCES.values())


_ITEMS: dict[str, Any] = {}
_ITEMS_LOCK = threading.Lock()


def open_items(context: SourceContext) -> pd.DataFrame:
    """Every registered source's open exceptions, each with its key (COLUMNS + key).

    While every source returns the very frames it returned before (the warehouse's are kept until a
    run rewrites the file), the result is the one made before: keys are not hashed again."""
    frames = []
    for source in sources():
        try:
            frames.append(source.read(context))
        except (OSError, RuntimeError, ValueError) as error:  # one unreadable area does not empty the queue
            context.notices.append(f"{source.name}: {error}")
    with _ITEMS_LOCK:
        previous = _ITEMS.get("frames")
        if previous is not None and len(previous) == len(frames) and all(
                a is b for a, b in zip(previous, frames, strict=True)):
            return _ITEMS["items"]
    items = pd.concat([pd.DataFrame(columns=list(COLUMNS)), *[f for f in frames if len(f)]], ignore_index=True)
    items = items[list(COLUMNS)].astype(object)
    items["key"] = [item_key(a, k, s) for a, k, s in zip(items["area"], items["kind"], items["source_ids"])]
    items = items.drop_duplicates("key").reset_index(drop=True)
    with _ITEMS_LOCK:
        _ITEMS.update(frames=frames, items=items)
    return items


def item_key(area: object, kind: object, source_ids: object) -> str:
    """A stable id of one exception: its area, kind and source ids (what the lists dedupe on)."""
    return hashlib.sha256(f"{area}\x1f{kind}\x1f{source_ids}".encode()).hexdigest()[:20]


def actions_for(kind: str) -> tuple[str, ...]:
    return (*KIND_ACTIONS.get(kind, ()), "mark_reviewed")


# ------------------------------------------------------------------ the areas wired today


def _warehouse_exceptions(context: SourceContext) -> pd.DataFrame:
    from sage_paytrace_pipeline.console.warehouse import cached

    if "warehouse" not in context.memo:
        try:
            context.memo["warehouse"] = cached("exceptions", context.warehouse, lambda: exception_list.list_exceptions(
                context.warehouse, open_only=True))
        except FileNotFoundError:
            context.notices.append(f"the warehouse {context.warehouse} does not exist yet: no run has written it")
            context.memo["warehouse"] = pd.DataFrame(columns=list(COLUMNS))
    return context.memo["warehouse"]


def warehouse_area(area: str) -> Source:
    """The source of one area whose exceptions are a warehouse exception table (exception_list.TABLES)."""
    def read(context: SourceContext) -> pd.DataFrame:
        from sage_paytrace_pipeline.console.warehouse import cached

        rows = _warehouse_exceptions(context)
        return cached(f"exceptions of {area}", context.warehouse, lambda: rows[rows["area"] == area])

    return Source(area, read)


def awaiting_approval(context: SourceContext) -> pd.DataFrame:
    """Refund requests waiting for a person: an item each, approved or rejected on the Approvals page."""
    from sage_paytrace_pipeline.console.warehouse import cached, read_requests

    return cached("awaiting approval", context.warehouse, lambda: _awaiting_items(
        read_requests(context.warehouse, "awaiting_approval")))


def _awaiting_items(requests: list) -> pd.DataFrame:
    return pd.DataFrame([{
        "business_day": request.requested_at.date().isoformat(), "area": "refund requests",
        "kind": "refund_awaiting_approval", "severity": "warning", "source_ids": request.request_id,
        "problem": f"refund of {format_decimal(cents_to_decimal(request.amount_cents))} on sale "
                   f"{request.sale_transaction_id} (credit memo {request.memo_no}, customer "
                   f"{request.division}-{request.customer_no}) asked by {request.requested_by or '-'} "
                   f"waits for approval: {request.reason}",
        "action": "approve or reject it (an approver other than who asked)",
    } for request in requests], columns=list(COLUMNS))


# The actions of the warehouse areas' kinds, beyond "mark reviewed".
WAREHOUSE_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {"receivables": {
    "unknown_customer": ("link_payer",),
    # a payment of a known customer held for its invoice: the clerk picks one (receivables/invoice_choices.py)
    "unapplied_payment": ("apply_to_invoice",), "invoice_not_open": ("apply_to_invoice",),
    "invoice_of_another_customer": ("apply_to_invoice",),
}}


def flag_area(name: str, table: str, to_items: Callable[[pd.DataFrame], pd.DataFrame]) -> Source:
    """The source of an area whose table is not in the exception list (console/flag_areas.py)."""
    def read(context: SourceContext) -> pd.DataFrame:
        from sage_paytrace_pipeline.console.flag_areas import read_table
        from sage_paytrace_pipeline.console.warehouse import cached

        return cached(f"items of {name}", context.warehouse, lambda: read_table(context.warehouse, table, to_items))

    return Source(name, read)


def register_builtin_sources() -> None:
    from sage_paytrace_pipeline.console.flag_areas import ANOMALY_TABLE, STORE_TABLE, anomaly_items, store_items

    for spec in exception_list.TABLES:
        register(warehouse_area(spec.area), actions=WAREHOUSE_ACTIONS.get(spec.area))
    register(flag_area("store", STORE_TABLE, store_items))
    register(flag_area("anomalies", ANOMALY_TABLE, anomaly_items))
    register(Source("refund approvals", awaiting_approval),
             actions={"refund_awaiting_approval": ("approve_refund", "reject_refund")})
