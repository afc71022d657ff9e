"""Refund requests from Sage: find the marked credit memos, link each to its sale, apply the approval rule.

One read of Sage per run (`Sage100Reader.card_refund_requests`) plus one chunked read of which card
payments paid the memos' invoices. A memo becomes a request once (keyed by the memo); a request
whose memo is not applied to an invoice a PayTrace payment paid stays `requested` with an exception
each run until the memo is fixed; a linked one is approved by "auto" up to
`refunds.auto_approve_up_to`, otherwise it waits for a person (`sage-paytrace refunds approve`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.refunds.requests import (
    APPROVED,
    AUTO_APPROVER,
    REQUESTED,
    initial_approval,
    request_id,
    request_invoice_id,
)
from sage_paytrace_pipeline.refunds.request_store import RefundRequest, RequestStore
from sage_paytrace_pipeline.sage100.models import CreditMemoRequest, InvoiceCardPayment
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

EXCEPTIONS = ExceptionFrames("transaction_id")
SYSTEM = "pipeline"


@dataclass(frozen=True)
class Discovery:
    found: int  # marked memos in Sage
    added: list[str]  # request ids new this run
    exceptions: pd.DataFrame


def new_request(memo: CreditMemoRequest, *, reason: str = "", requested_by: str = "") -> RefundRequest:
    """The request a marked memo makes (state requested, not linked yet)."""
    key = request_id(memo.division, memo.memo_no, memo.header_seq_no)
    now = datetime.now(UTC)
    return RefundRequest(
        request_id=key, division=memo.division, customer_no=memo.customer_no, memo_no=memo.memo_no,
        memo_seq=memo.header_seq_no, apply_to_invoice_no=memo.apply_to_invoice_no, sale_transaction_id=None,
        amount_cents=decimal_to_cents(memo.amount), payment_type=memo.payment_type,
        reason=reason or memo.comment or f"credit memo {memo.memo_no} marked {memo.payment_type} in Sage",
        requested_by=requested_by or memo.entered_by, requested_at=now, state=REQUESTED, action="",
        paytrace_transaction_id=None, invoice_id=request_invoice_id(key), approved_by="", error="", updated_at=now)


def discover_requests(
    reader: Sage100Reader, store: RequestStore, *, payment_types: Iterable[str], auto_approve_up_to: Decimal,
    start_date: date | None = None,
) -> Discovery:
    """Memos -> requests, requests -> their sale, linked requests -> approved or awaiting approval."""
    memos = [m for m in reader.card_refund_requests(payment_types)
             if start_date is None or m.memo_date is None or m.memo_date >= start_date]
    added = [memo_request.request_id for memo_request in map(new_request, memos)
             if store.add(memo_request, actor=memo_request.requested_by or SYSTEM,
                          reason=f"credit memo {memo_request.memo_no} found in Sage")]
    exceptions = link_requests(reader, store)
    approve_linked(store, auto_approve_up_to_cents=decimal_to_cents(auto_approve_up_to))
    return Discovery(found=len(memos), added=added, exceptions=exceptions)


def link_requests(reader: Sage100Reader, store: RequestStore) -> pd.DataFrame:
    """Each unlinked request's sale: the one card payment on the invoice its memo is applied to."""
    unlinked = [r for r in store.all(REQUESTED) if r.sale_transaction_id is None]
    keys = [(r.division, r.customer_no, r.apply_to_invoice_no) for r in unlinked if r.apply_to_invoice_no]
    payments = reader.card_payments_on_invoices(keys) if keys else {}
    problems = []
    for request in unlinked:
        found = payments.get((request.division, request.customer_no, request.apply_to_invoice_no), [])
        sale_ids = sorted({int(p.transaction_id) for p in found if p.transaction_id.isdigit()})
        if len(sale_ids) == 1:
            store.note(request.request_id, actor=SYSTEM, sale_transaction_id=sale_ids[0],
                       reason=f"linked to sale {sale_ids[0]} (the card payment on invoice "
                              f"{request.apply_to_invoice_no})")
        else:
            problems.append(_link_problem(request, found, sale_ids))
    return EXCEPTIONS.concat(problems)


def _link_problem(request: RefundRequest, found: list[InvoiceCardPayment], sale_ids: list[int]) -> pd.DataFrame:
    memo = f"credit memo {request.memo_no} ({request.division}-{request.customer_no})"
    if len(sale_ids) > 1:
        return EXCEPTIONS.rows(
            "refund_request_sale_ambiguous", "error", None, size=1,
            source_ids=f"{request.request_id}; sales {', '.join(map(str, sale_ids))}",
            problem=f"{memo} is applied to invoice {request.apply_to_invoice_no}, which {len(sale_ids)} card "
                    f"payments paid ({', '.join(map(str, sale_ids))}): which card to refund is not certain",
            action="refund it from PayTrace's virtual terminal against the right sale, or split the memo per "
                   "invoice paid by one card; then remove the card payment type from this memo")
    where = f"invoice {request.apply_to_invoice_no}" if request.apply_to_invoice_no else "no invoice"
    return EXCEPTIONS.rows(
        "memo_not_applied_to_card_paid_invoice", "error", None, size=1, source_ids=request.request_id,
        problem=f"{memo} asks for a card refund but is applied to {where}, which no PayTrace card payment paid"
                + (f" (payments found: {', '.join(p.transaction_id for p in found)})" if found else ""),
        action="apply the memo to the invoice the customer paid by card (A/R Invoice Data Entry), or change its "
               "payment type when no card refund is wanted")


def approve_linked(store: RequestStore, *, auto_approve_up_to_cents: int) -> list[str]:
    """Linked `requested` requests: approved by "auto" up to the threshold, else awaiting a person."""
    moved = []
    for request in store.all(REQUESTED):
        if request.sale_transaction_id is None:
            continue
        state = initial_approval(request.amount_cents, auto_approve_up_to_cents)
        if state == APPROVED:
            store.transition(request.request_id, APPROVED, actor=AUTO_APPROVER, approved_by=AUTO_APPROVER,
                             reason=f"within the automatic approval limit ({_cents(auto_approve_up_to_cents)})")
        else:
            store.transition(request.request_id, state, actor=SYSTEM,
                             reason=f"above the automatic approval limit ({_cents(auto_approve_up_to_cents)}): "
                                    "a person must approve (sage-paytrace refunds approve)")
        moved.append(request.request_id)
    return moved


def _cents(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"
