"""What a person can decide in the console, each authorized by role, applied through the store the
pipeline reads, and recorded (decision + audit) in one place.

- link_payer: the customer link matching reads (receivables.customer_links.link_payer, the CLI's rules);
- approve_refund / reject_refund: the refund request store, through refunds.requests' maker-checker rules;
- mark_reviewed: the console's decisions table (the queue then shows the item as reviewed, with the reason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sage_paytrace_pipeline.console.roles import allowed
from sage_paytrace_pipeline.console.store import ConsoleStore, Decision
from sage_paytrace_pipeline.console.warehouse import with_request_store
from sage_paytrace_pipeline.domain.free_text import storable_text
from sage_paytrace_pipeline.receivables.customer_links import Link, LinkRefused, link_payer
from sage_paytrace_pipeline.refunds.request_store import RefundRequest
from sage_paytrace_pipeline.refunds.requests import RequestRefused, approve_request, reject_request
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_VAULT_ID = re.compile(r"\bvault:(\S+)")


class Refused(Exception):
    """An action not taken: not allowed for the role, or refused by the rules; the message says why."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    address: str = ""


@dataclass(frozen=True)
class Item:
    """The exception a decision is about (a queue row)."""

    key: str
    area: str
    kind: str
    source_ids: str
    problem: str = ""


@dataclass
class Actions:
    store: ConsoleStore
    warehouse: Path
    config_path: Path | None
    sage_reader: Callable[[], Sage100Reader] | None

    def _authorize(self, actor: Actor, permission: str, action: str, subject: str) -> None:
        if not allowed(actor.role, permission):
            self.store.audit(actor=actor.name, action=action, subject=subject, outcome="refused",
                             after=f"role {actor.role} may not {permission}", address=actor.address)
            raise Refused(f"your role ({actor.role}) may not do this")

    def _refused(self, actor: Actor, action: str, subject: str, reason: str) -> Refused:
        self.store.audit(actor=actor.name, action=action, subject=subject, outcome="refused", after=reason,
                         address=actor.address)
        return Refused(reason)

    # -------------------------------------------------------------- exceptions

    def link_payer(self, actor: Actor, item: Item, customer: str, *, replace: bool = False) -> Link:
        self._authorize(actor, "resolve", "link_payer", item.key)
        vault = vault_id(item.source_ids)
        if vault is None:
            raise self._refused(actor, "link_payer", item.key, "this exception names no PayTrace vault customer id: "
                                "create the customer in Sage, or record the payment by hand")
        if self.config_path is None or self.sage_reader is None:
            raise self._refused(actor, "link_payer", item.key, "links need SAGE_PAYTRACE_CONFIG and SAGE100_DATABASE "
                                "set where the console runs")
        try:
            link = link_payer(self.config_path, self.sage_reader(), vault, customer, replace=replace)
        except (LinkRefused, ValueError) as error:
            raise self._refused(actor, "link_payer", item.key, str(error)) from None
        self.store.record(
            Decision(actor.name, "link_payer", item.key, item.area, item.kind, item.source_ids,
                     {"vault_id": vault, "customer": link.customer, "name": link.name}),
            before={"vault_id": vault, "customer": link.previous},
            after={"vault_id": vault, "customer": link.customer, "name": link.name}, address=actor.address)
        return link

    def mark_reviewed(self, actor: Actor, items: list[Item], reason: str) -> int:
        reason = storable_text(reason, length=500).strip()
        self._authorize(actor, "resolve", "mark_reviewed", ", ".join(item.key for item in items))
        if not reason:
            raise self._refused(actor, "mark_reviewed", ", ".join(i.key for i in items),
                                "say why it needs nothing more (the reason is kept in the audit trail)")
        for item in items:
            self.store.record(Decision(actor.name, "mark_reviewed", item.key, item.area, item.kind, item.source_ids,
                                       {"reason": reason}),
                              before={"state": "open", "problem": item.problem},
                              after={"state": "reviewed", "reason": reason}, address=actor.address)
        return len(items)

    # -------------------------------------------------------------- refund requests

    def approve_refund(self, actor: Actor, request_id: str) -> RefundRequest:
        self._authorize(actor, "approve", "approve_refund", request_id)
        return self._refund(actor, "approve_refund", request_id,
                            lambda store: approve_request(store, request_id, approver=actor.name), {})

    def reject_refund(self, actor: Actor, request_id: str, reason: str) -> RefundRequest:
        self._authorize(actor, "approve", "reject_refund", request_id)
        reason = storable_text(reason, length=500).strip()
        return self._refund(actor, "reject_refund", request_id,
                            lambda store: reject_request(store, request_id, reason=reason, by=actor.name),
                            {"reason": reason})

    def _refund(self, actor: Actor, action: str, request_id: str, change, detail: dict) -> RefundRequest:
        before: dict[str, str] = {}

        def apply(store) -> RefundRequest:
            current = store.get(request_id)
            if current is not None:
                before.update(state=current.state, approved_by=current.approved_by)
            return change(store)

        try:
            request = with_request_store(self.warehouse, apply)
        except RequestRefused as error:
            raise self._refused(actor, action, request_id, str(error)) from None
        self.store.record(Decision(actor.name, action, request_id, "refund requests", "refund_awaiting_approval",
                                   request_id, detail),
                          before=before, after={"state": request.state, "approved_by": request.approved_by},
                          address=actor.address)
        return request


def vault_id(source_ids: str) -> str | None:
    """The PayTrace vault customer id an exception's source ids name (`vault:ID`), if any."""
    found = _VAULT_ID.search(source_ids or "")
    return found.group(1) if found else None
