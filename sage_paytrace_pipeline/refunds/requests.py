"""Refund requests from Sage: find the marked credit memos, link each to its sale, apply the approval rule.

One read of Sage per run (`Sage100Reader.card_refund_requests`) plus one chunked read of which card
payments paid the memos' invoices. A memo becomes a request once (keyed by the memo); a request
whose memo is not applied to an invoice a PayTrace payment paid stays `requested` with an exception
each run until the memo is fixed; a linked one is approved by "auto" up to
`refunds.auto_approve_up_to`, otherwise it waits for a person (`sage-paytrace refunds approve`).
The approval rule compares the memo's amount, in the Sage company's currency, under a currency
conversion too (the amount sent to PayTrace is converted later, refunds/sending.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.money import decimal_to_cents, format_decimal
from sage_paytrace_pipeline.domain.refunds.requests import (
    APPROVED,
    AUTO_APPROVER,
    REJECTED,
    REQUESTED,
    approval_refusal,
    initial_approval,
    rejection_refusal,
    request_id,
    request_invoice_id,
)
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.refunds.remaining import warehouse_refunds
from sage_paytrace_pipeline.refunds.request_store import RefundRequest, RequestStore
from sage_paytrace_pipeline.refunds.sending import RequestConversion, SendOutcome, send_requests
from sage_paytrace_pipeline.sage100.documents import CreditMemo
from sage_paytrace_pipeline.sage100.models import CreditMemoRequest, InvoiceCardPayment
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

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


# ------------------------------------------------------------------------------ an operator's request


class RequestRefused(ValueError):
    """A request the shell cannot make (unknown sale, amount above the invoice's payment...)."""


@dataclass(frozen=True)
class CreatedRequest:
    request_id: str
    memo_no: str
    invoice_no: str
    created: bool  # False: the same request was made before (same sale, amount and reason)


def request_refund(
    reader: Sage100Reader, writer: Sage100Writer, store: RequestStore, *, sale_transaction_id: int, amount: Decimal,
    reason: str, requested_by: str, memo_date: date,
) -> CreatedRequest:
    """What `sage-paytrace refunds request` does: the credit memo a clerk would enter, then its request.

    The memo is applied to the invoice the sale paid (the receipt Sage holds for the sale), carries
    the sale's card payment type (the mark) and the requester; the request is linked to the sale at
    once, and the next run applies the approval rule and sends it.
    """
    receipt = reader.receipt_for_transaction_id(str(sale_transaction_id))
    if receipt is None:
        raise RequestRefused(f"Sage holds no receipt for PayTrace transaction {sale_transaction_id}: only a sale "
                             "posted to Sage can be refunded from here")
    invoices = [line for line in receipt.lines if line.invoice_type in ("IN", "DM", "FC")]
    invoice = next((line for line in invoices if line.amount >= amount), None)
    if invoice is None:
        paid = ", ".join(f"{line.invoice_no} {format_decimal(line.amount)}" for line in invoices) or "none"
        raise RequestRefused(f"{format_decimal(amount)} is more than sale {sale_transaction_id} paid on any one "
                             f"invoice (paid: {paid}); request at most that, one request per invoice")
    digest = hashlib.sha256(reason.encode()).hexdigest()[:6]
    # Letters between the numbers: dash-joined digit groups ("RQ-<sale>-<cents>") read as a typed card
    # number whenever the digits happen to be Luhn-valid, and Sage's documents refuse those.
    reference = f"RQ{sale_transaction_id}A{decimal_to_cents(amount)}H{digest}"
    result = writer.create_credit_memo(CreditMemo(
        reference=reference, division=receipt.division, customer_no=receipt.customer_no, memo_date=memo_date,
        amount=amount, apply_to_invoice_no=invoice.invoice_no, comment=reason, payment_type=receipt.payment_type,
        entered_by=requested_by[:10]))
    memo_no = result.documents["InvoiceNo"]
    memo = CreditMemoRequest(division=receipt.division, customer_no=receipt.customer_no, memo_no=memo_no,
                             header_seq_no="000000", memo_date=memo_date, amount=amount,
                             apply_to_invoice_no=invoice.invoice_no, payment_type=receipt.payment_type,
                             reference=reference, entered_by=requested_by[:10], comment=reason)
    request = replace(new_request(memo, reason=reason, requested_by=requested_by),
                      sale_transaction_id=sale_transaction_id)
    store.add(request, actor=requested_by, reason=f"requested from the shell: {reason}")
    return CreatedRequest(request.request_id, memo_no, invoice.invoice_no, result.created)


# ------------------------------------------------------------------------------ a person's decision


def approve_request(store: RequestStore, request_id: str, *, approver: str) -> RefundRequest:
    """`refunds approve ID --by NAME`: refused when NAME requested it, or it is not awaiting approval."""
    request = _existing(store, request_id)
    refusal = approval_refusal(request.state, request.requested_by, approver)
    if refusal:
        raise RequestRefused(f"cannot approve {request_id}: {refusal}")
    return store.transition(request_id, APPROVED, actor=approver.strip(), approved_by=approver.strip(),
                            reason=f"approved by {approver.strip()}")


def reject_request(store: RequestStore, request_id: str, *, reason: str, by: str) -> RefundRequest:
    """`refunds reject ID --reason TEXT`: only a request not sent yet; nothing goes to PayTrace."""
    request = _existing(store, request_id)
    refusal = rejection_refusal(request.state)
    if refusal:
        raise RequestRefused(f"cannot reject {request_id}: {refusal}")
    if not reason.strip():
        raise RequestRefused(f"cannot reject {request_id}: give the reason (--reason TEXT)")
    return store.transition(request_id, REJECTED, actor=by.strip() or SYSTEM, error=reason.strip(),
                            reason=f"rejected: {reason.strip()}")


def _existing(store: RequestStore, request_id: str) -> RefundRequest:
    request = store.get(request_id)
    if request is None:
        raise RequestRefused(f"no refund request {request_id} (see `sage-paytrace refunds list`)")
    return request


# ------------------------------------------------------------------------------ one run


@dataclass(frozen=True)
class RunResult:
    discovery: Discovery
    sending: SendOutcome

    @property
    def exceptions(self) -> pd.DataFrame:
        return EXCEPTIONS.concat([self.discovery.exceptions, self.sending.exceptions])


def run_requests(
    reader: Sage100Reader, writer: Sage100Writer, client: PayTraceClient, store: RequestStore, *,
    payment_types: Iterable[str], auto_approve_up_to: Decimal, dry_run: bool, today: date,
    start_date: date | None = None, disputed: Mapping[int, str] | None = None,
    conversion: RequestConversion | None = None, refunds: pd.DataFrame | None = None,
) -> RunResult:
    """One run of the flow: discover, link, approve, send, record (the asset `sage_refund_requests`);
    `disputed` (sale id -> open dispute case) are sales no refund is sent for; `conversion`: PayTrace's
    currency is not Sage's (the approval rule still compares the memo's amount, in Sage's currency);
    `refunds`: the warehouse's PayTrace refunds when the caller read them already (None: read here)."""
    discovery = discover_requests(reader, store, payment_types=payment_types, auto_approve_up_to=auto_approve_up_to,
                                  start_date=start_date)
    if refunds is None:
        refunds = warehouse_refunds(store.connection)
    sending = send_requests(store, client, writer, refunds=refunds, today=today, dry_run=dry_run, disputed=disputed,
                            conversion=conversion)
    return RunResult(discovery, sending)
