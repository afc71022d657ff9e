"""What a person can decide in the console, each authorized by role, applied through the store the
pipeline reads, and recorded (decision + audit) in one place.

- link_payer: the customer link matching reads (receivables.customer_links.link_payer, the CLI's rules);
- apply_to_invoice: the invoice a held payment pays (receivables.invoice_choices, read by the next run);
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
from sage_paytrace_pipeline.domain.ledger import OpenInvoice
from sage_paytrace_pipeline.receivables.customer_links import Link, LinkRefused, link_payer
from sage_paytrace_pipeline.receivables.invoice_choices import InvoiceChoice, insert_choice
from sage_paytrace_pipeline.refunds.request_store import RefundRequest
from sage_paytrace_pipeline.refunds.requests import RequestRefused, approve_request, reject_request
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_VAULT_ID = re.compile(r"\bvault:(\S+)")
_PAYMENT = re.compile(r"\bpaytrace:(\d+)\b")
_CUSTOMER = re.compile(r"\bcustomer:(\d{2}-[A-Z0-9]{1,20})\b")
_PAYER = re.compile(r"\bof (\d{2}-[A-Z0-9]{1,20})\b")


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

    def invoice_target(self, item: Item) -> PaymentTarget | None:
        """The payment an apply-to-invoice item is about and its payer, read from the exception's text."""
        return payment_target(item.source_ids, item.problem)

    def open_invoices(self, item: Item) -> list[OpenInvoice]:
        """The payer's open invoices (IN, with a balance) the clerk picks from; none without Sage."""
        target = self.invoice_target(item)
        if target is None or target.customer is None or self.sage_reader is None:
            return []
        division, customer_no = target.customer
        return [invoice for invoice in self.sage_reader().open_invoices(division, customer_no)
                if invoice.invoice_type == "IN" and invoice.balance > 0]

    def apply_to_invoice(self, actor: Actor, item: Item, invoice_no: str) -> InvoiceChoice:
        """Record the invoice a held payment pays; the next run posts the receipt applied to it, once."""
        self._authorize(actor, "resolve", "apply_to_invoice", item.key)
        target = self.invoice_target(item)
        if target is None or target.customer is None:
            raise self._refused(actor, "apply_to_invoice", item.key, "this exception names no PayTrace payment of a "
                                "known Sage customer: link the payer first, or enter the receipt by hand")
        if self.sage_reader is None:
            raise self._refused(actor, "apply_to_invoice", item.key, "choosing an invoice needs SAGE100_DATABASE set "
                                "where the console runs")
        reader = self.sage_reader()
        division, customer_no = target.customer
        invoice_no = invoice_no.strip().upper()
        if reader.receipt_for_transaction_id(str(target.transaction_id)) is not None:
            raise self._refused(actor, "apply_to_invoice", item.key, f"Sage already holds the receipt of payment "
                                f"{target.transaction_id} (posted on account?): apply it in Sage's Cash Receipts Entry")
        invoice = reader.open_invoice(division, customer_no, invoice_no) if invoice_no else None
        if invoice is None or invoice.balance <= 0:
            raise self._refused(actor, "apply_to_invoice", item.key, f"invoice {invoice_no or '(none)'} is not an open "
                                f"invoice of {division}-{customer_no} in Sage: pick one of the list")
        choice = InvoiceChoice(target.transaction_id, division, customer_no, invoice_no, actor.name, item.key)
        detail = {"transaction_id": target.transaction_id, "customer": f"{division}-{customer_no}",
                  "invoice_no": invoice_no, "balance": str(invoice.balance)}
        self.store.record(Decision(actor.name, "apply_to_invoice", item.key, item.area, item.kind, item.source_ids,
                                   detail),
                          before={"state": "held", "problem": item.problem}, after=detail, address=actor.address,
                          also=lambda connection: insert_choice(connection, choice))
        return choice

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


@dataclass(frozen=True)
class PaymentTarget:
    transaction_id: int
    customer: tuple[str, str] | None  # (division, customer no) the payment was matched to


def payment_target(source_ids: str, problem: str) -> PaymentTarget | None:
    """`paytrace:<id>` and the payer's DIVISION-CUSTOMERNO (`customer:` in the evidence, else "of 01-X" in
    the problem, as matching writes them)."""
    payment = _PAYMENT.search(source_ids or "")
    if payment is None:
        return None
    customer = _CUSTOMER.search(source_ids or "") or _PAYER.search(problem or "")
    if customer is None:
        return PaymentTarget(int(payment.group(1)), None)
    division, _, customer_no = customer.group(1).partition("-")
    return PaymentTarget(int(payment.group(1)), (division, customer_no))


def vault_id(source_ids: str) -> str | None:
    """The PayTrace vault customer id an exception's source ids name (`vault:ID`), if any."""
    found = _VAULT_ID.search(source_ids or "")
    return found.group(1) if found else None
