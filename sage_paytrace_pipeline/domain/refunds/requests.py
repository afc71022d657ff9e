"""Sage-initiated refund requests: states, allowed transitions, the approval rule and what to send.

A clerk asks for a card refund with a credit memo in Sage (a card payment type in its PaymentType,
applied to the invoice a PayTrace sale paid). Each memo becomes one request, keyed by the memo
(`request_id`), and moves through

    requested -> awaiting_approval -> approved -> sent -> confirmed -> recorded
                                        |  ^
                                        v  |
                              waiting_for_settlement

or ends `rejected` (a person said no) or `failed` (PayTrace declined, or the amount is above what
remains of the sale). `sent` is written *before* the money call: a crash leaves a `sent` request,
resolved by looking the call up (its `invoice_id`), never by sending blindly again.

The PayTrace call carries `request_invoice_id(request_id)`, unique per request, so the client's
lost-answer look-up and the PayTrace -> Sage flow recognise it ("SPR" prefix).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

REQUESTED = "requested"
AWAITING_APPROVAL = "awaiting_approval"
APPROVED = "approved"
WAITING_FOR_SETTLEMENT = "waiting_for_settlement"
SENT = "sent"
CONFIRMED = "confirmed"
RECORDED = "recorded"
REJECTED = "rejected"
FAILED = "failed"

STATES = (REQUESTED, AWAITING_APPROVAL, APPROVED, WAITING_FOR_SETTLEMENT, SENT, CONFIRMED, RECORDED, REJECTED,
          FAILED)
FINAL_STATES = frozenset({RECORDED, REJECTED, FAILED})
# Money may have moved (or be moving) for these: they count against what remains of the sale.
IN_FLIGHT_STATES = frozenset({SENT, CONFIRMED})

TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({AWAITING_APPROVAL, APPROVED, REJECTED, FAILED}),
    AWAITING_APPROVAL: frozenset({APPROVED, REJECTED, FAILED}),
    APPROVED: frozenset({SENT, WAITING_FOR_SETTLEMENT, FAILED}),
    WAITING_FOR_SETTLEMENT: frozenset({SENT, FAILED, REJECTED}),
    # -> waiting: PayTrace answered 817 (not settled yet) to a partial refund, so nothing moved
    SENT: frozenset({CONFIRMED, FAILED, WAITING_FOR_SETTLEMENT}),
    CONFIRMED: frozenset({RECORDED}),
    RECORDED: frozenset(),
    REJECTED: frozenset(),
    FAILED: frozenset(),
}

AUTO_APPROVER = "auto"
INVOICE_ID_PREFIX = "SPR"
VOID_KEY_PREFIX = "V"  # Sage CreditCardTransactionID of a void a request made: "V<sale id>"

Action = Literal["void", "refund", "wait", "refuse"]


class TransitionError(ValueError):
    """A state change the request's life cycle does not allow."""


def request_id(division: str, memo_no: str, header_seq_no: str) -> str:
    """The request's key: its credit memo in Sage (one memo, one request)."""
    return f"CM-{division}-{memo_no}-{header_seq_no}"


def request_invoice_id(request_id: str) -> str:
    """The PayTrace invoice_id of the request's refund: "SPR" + 17 hex of sha256 (20 characters)."""
    return INVOICE_ID_PREFIX + hashlib.sha256(request_id.encode()).hexdigest()[:17].upper()


def is_request_invoice_id(invoice_id: str | None) -> bool:
    return bool(invoice_id) and str(invoice_id).startswith(INVOICE_ID_PREFIX)


def void_key(sale_transaction_id: int) -> str:
    return f"{VOID_KEY_PREFIX}{sale_transaction_id}"


def check_transition(from_state: str, to_state: str) -> None:
    """Raise `TransitionError` unless the life cycle allows from_state -> to_state."""
    if from_state not in TRANSITIONS:
        raise TransitionError(f"unknown request state {from_state!r}")
    if to_state not in TRANSITIONS[from_state]:
        allowed = ", ".join(sorted(TRANSITIONS[from_state])) or "none (final)"
        raise TransitionError(f"a request {from_state} cannot become {to_state} (allowed: {allowed})")


# ------------------------------------------------------------------------------ approval


def initial_approval(amount_cents: int, auto_approve_up_to_cents: int) -> str:
    """Up to the threshold a request is approved by "auto"; above it a person must approve."""
    return APPROVED if 0 < amount_cents <= auto_approve_up_to_cents else AWAITING_APPROVAL


def same_person(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def approval_refusal(state: str, requested_by: str, approver: str) -> str | None:
    """Why `approver` may not approve this request (maker-checker), or None when they may."""
    if not approver.strip():
        return "name who approves (--by NAME)"
    if same_person(approver, AUTO_APPROVER):
        return f"{AUTO_APPROVER!r} is reserved for the automatic approval under the threshold"
    if state != AWAITING_APPROVAL:
        return f"the request is {state}, not awaiting approval"
    if same_person(approver, requested_by):
        return f"{approver} requested this refund and cannot approve it too (maker-checker): ask someone else"
    return None


def rejection_refusal(state: str) -> str | None:
    if state in (REQUESTED, AWAITING_APPROVAL, WAITING_FOR_SETTLEMENT):
        return None
    return f"the request is {state}: only a request not yet sent can be rejected"


# ------------------------------------------------------------------------------ what to send


@dataclass(frozen=True)
class SaleSnapshot:
    """The sale as PayTrace says just before the call, and what is already refunded of it."""

    transaction_id: int
    status: str  # PENDING, SETTLED, VOIDED, DECLINED, AUTHORIZED
    amount_cents: int
    refunded_cents: int  # PayTrace refunds of this sale (warehouse), not voided
    in_flight_cents: int  # other requests sent or confirmed, not yet in the warehouse
    refunded_in_paytrace_cents: int = 0  # of refunded_cents: refunds made in PayTrace itself (no request)

    @property
    def remaining_cents(self) -> int:
        return self.amount_cents - self.refunded_cents - self.in_flight_cents


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(sale: SaleSnapshot, amount_cents: int) -> Decision:
    """Void, refund, wait or refuse, from the sale's settlement state and amounts.

    Unsettled and for the whole, untouched sale -> void (the money never moves); unsettled and
    partial -> wait for the batch (PayTrace refunds only settled sales, 817); settled -> refund.
    Never above what remains unrefunded.
    """
    if sale.status in ("VOIDED", "DECLINED"):
        return Decision("refuse", f"sale {sale.transaction_id} is {sale.status.lower()}: nothing to refund")
    if amount_cents <= 0:
        return Decision("refuse", "the amount must be greater than zero")
    if amount_cents > sale.remaining_cents:
        return Decision("refuse", f"{_dollars(amount_cents)} is above what remains of sale {sale.transaction_id}: "
                                  f"{_dollars(max(sale.remaining_cents, 0))} of {_dollars(sale.amount_cents)} "
                                  f"({_dollars(sale.refunded_cents)} refunded, {_dollars(sale.in_flight_cents)} "
                                  "in flight)")
    untouched = sale.refunded_cents == 0 and sale.in_flight_cents == 0
    if sale.status in ("PENDING", "AUTHORIZED"):
        if untouched and amount_cents == sale.amount_cents:
            return Decision("void", f"sale {sale.transaction_id} is not settled yet: void it (the whole amount)")
        return Decision("wait", f"sale {sale.transaction_id} is not settled yet and the refund is partial: "
                                "it is refunded once the batch settles")
    return Decision("refund", f"sale {sale.transaction_id} is settled: refund {_dollars(amount_cents)}")


def fallback(attempted: Action, code: int, fresh: Decision) -> Action | None:
    """After 817 (not refundable: not settled yet) or 818 (not voidable: settled meanwhile), the
    other call, once: the re-read sale's decision if it is the other call, else none (never a loop)."""
    other = {("refund", 817): ("void", "wait"), ("void", 818): ("refund",)}.get((attempted, code))
    if other is None or fresh.action not in other:
        return None
    return fresh.action


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100}.{abs(cents) % 100:02d}"
