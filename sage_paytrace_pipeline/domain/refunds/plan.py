"""The Sage documents of a PayTrace refund, and which voids need a reversal (pure rules, no I/O).

A linked refund becomes (Sage's recipe, reference refunds-and-voids.md §1.3):

- one credit memo per invoice the sale's receipt paid, for the part of the refund taken from it,
  newest application first (the receipt's last line first), never more than that line applied less
  what earlier refunds of the same sale took from it; references ``PT-R<refund id>`` (one memo) or
  ``PT-R<refund id>-<n>``;
- the part taken from a prepayment line (a sale that sat as a PP credit) needs no memo: the refund
  consumes that prepayment;
- then one card refund (CreditCardTransactionID = the refund id) consuming those credits.

Reversals: a sale PayTrace voided after its receipt posted gets ``reverse_card_receipt`` with
reference ``PT-V<sale id>``; a refund PayTrace voided after Sage recorded it gets
``reverse_card_refund`` with ``PT-VR<refund id>``. Each once (the reference is the key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

REQUEST_INVOICE_PREFIX = "SPR"  # refunds the Sage -> PayTrace flow sent (domain/refunds/requests.py): not ours
REFUNDABLE_LINE_TYPES = frozenset({"IN", "PP"})


def memo_reference(refund_id: int, number: int | None = None) -> str:
    return f"PT-R{refund_id}" if number is None else f"PT-R{refund_id}-{number}"


def receipt_reversal_reference(sale_id: int) -> str:
    return f"PT-V{sale_id}"


def refund_reversal_reference(refund_id: int) -> str:
    return f"PT-VR{refund_id}"


def request_void_key(sale_id: int) -> str:
    """The CreditCardTransactionID under which a Sage-initiated void of a sale is recorded."""
    return f"V{sale_id}"


# ------------------------------------------------------------------------------ which refunds


@dataclass(frozen=True)
class RefundSelection:
    """The day's refunds this flow posts, and how many it leaves alone and why."""

    to_post: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)


def select_refunds(transactions: pd.DataFrame, start_date: date) -> RefundSelection:
    """Approved REFUNDs (pending or settled), created on/after `start_date`, not sent by a Sage request."""
    if transactions.empty:
        return RefundSelection(transactions, {})
    kind = transactions["transaction_type"].astype("string").fillna("").str.upper()
    # only refunds are selected or counted: the other tests read the refunds' rows alone (a day is mostly sales)
    refunds = transactions[(kind == "REFUND").to_numpy()]
    status = refunds["status"].astype("string").fillna("").str.upper()
    invoice = refunds["invoice_id"].astype("string").fillna("").str.strip().str.upper()
    created = pd.to_datetime(refunds["created_at"], utc=True).dt.date if "created_at" in refunds else None
    approved = status.isin(["PENDING", "SETTLED"])
    requested = invoice.str.startswith(REQUEST_INVOICE_PREFIX)
    before_start = (created < start_date) if created is not None else pd.Series(False, index=refunds.index)
    before_start = before_start.fillna(False).astype(bool)
    keep = approved & ~requested & ~before_start
    skipped = {
        "sent_by_a_sage_request": int((approved & requested).sum()),
        "before_start_date": int((approved & ~requested & before_start).sum()),
        "not_approved": int((~approved).sum()),
    }
    return RefundSelection(refunds[keep.to_numpy()], {k: v for k, v in skipped.items() if v})


# ------------------------------------------------------------------------------- refund documents


@dataclass(frozen=True)
class ReceiptApplication:
    """One line of the sale's receipt in Sage: what it applied to which open item."""

    invoice_no: str
    invoice_type: str  # IN, PP (prepayment), DM, FC
    amount_cents: int


@dataclass(frozen=True)
class SaleReceipt:
    """The receipt Sage holds for the refunded sale."""

    sale_id: int
    division: str
    customer_no: str
    payment_type: str
    lines: tuple[ReceiptApplication, ...]


@dataclass(frozen=True)
class PlannedMemo:
    reference: str
    invoice_no: str
    amount_cents: int


@dataclass(frozen=True)
class RefundPlan:
    refund_id: int
    sale_id: int
    division: str
    customer_no: str
    payment_type: str
    amount_cents: int
    memos: tuple[PlannedMemo, ...]
    prepayment_no: str | None
    prepayment_cents: int

    def allocations(self) -> dict[str, int]:
        """What this refund takes from each open item, "<type>:<invoice>" -> cents (stored in the log)."""
        taken = {f"IN:{memo.invoice_no}": memo.amount_cents for memo in self.memos}
        if self.prepayment_no:
            taken[f"PP:{self.prepayment_no}"] = self.prepayment_cents
        return taken


class RefundNotPlannable(ValueError):
    """The refund cannot be placed on what the sale's receipt applied (a problem and the action that fixes it)."""

    def __init__(self, problem: str, action: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.action = action


def plan_refund(refund_id: int, amount_cents: int, receipt: SaleReceipt,
                taken: Mapping[str, int] | None = None) -> RefundPlan:
    """The documents of one refund; `taken`: what earlier refunds of the same sale took per "<type>:<invoice>"."""
    taken = dict(taken or {})
    left = amount_cents
    portions: list[tuple[ReceiptApplication, int]] = []
    for line in reversed(receipt.lines):
        if left == 0:
            break
        if line.invoice_type not in REFUNDABLE_LINE_TYPES:
            continue
        room = line.amount_cents - taken.get(f"{line.invoice_type}:{line.invoice_no}", 0)
        take = min(left, max(room, 0))
        if take > 0:
            portions.append((line, take))
            left -= take
    if left > 0:
        raise RefundNotPlannable(
            f"refund {refund_id} is {left} cents above what sale {receipt.sale_id}'s receipt applied less earlier "
            "refunds",
            f"check the refunds of sale {receipt.sale_id} in PayTrace; enter the excess in Sage by hand")
    prepayments = [(line, cents) for line, cents in portions if line.invoice_type == "PP"]
    if len(prepayments) > 1:
        raise RefundNotPlannable(f"refund {refund_id} would consume {len(prepayments)} prepayments",
                                 "record this refund in Sage by hand against the prepayments")
    invoices = [(line, cents) for line, cents in portions if line.invoice_type == "IN"]
    memos = tuple(PlannedMemo(memo_reference(refund_id, None if len(invoices) == 1 else n), line.invoice_no, cents)
                  for n, (line, cents) in enumerate(invoices, start=1))
    return RefundPlan(
        refund_id=refund_id, sale_id=receipt.sale_id, division=receipt.division, customer_no=receipt.customer_no,
        payment_type=receipt.payment_type, amount_cents=amount_cents, memos=memos,
        prepayment_no=prepayments[0][0].invoice_no if prepayments else None,
        prepayment_cents=prepayments[0][1] if prepayments else 0)


def taken_by_earlier(allocations: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum of the allocations of earlier refunds of one sale."""
    total: dict[str, int] = {}
    for allocation in allocations:
        for key, cents in allocation.items():
            total[key] = total.get(key, 0) + int(cents)
    return total


# ------------------------------------------------------------------------------------ reversals


def voided_sales_to_reverse(transactions: pd.DataFrame, receipts_in_sage: Iterable[int],
                            voided_by_requests: Iterable[int], reversed_references: Iterable[str]) -> list[int]:
    """Sales PayTrace shows VOIDED whose receipt Sage holds, not voided through a Sage request, not reversed yet.

    A voided authorization or a sale never posted has no receipt: nothing to do."""
    if transactions.empty:
        return []
    kind = transactions["transaction_type"].astype("string").fillna("").str.upper()
    status = transactions["status"].astype("string").fillna("").str.upper()
    voided = transactions.loc[(kind != "REFUND") & (kind != "AUTHORIZATION") & (status == "VOIDED"),
                              "transaction_id"].astype("int64")
    posted, by_request, done = set(receipts_in_sage), set(voided_by_requests), set(reversed_references)
    return sorted(int(sale) for sale in voided.unique() if sale in posted and sale not in by_request
                  and receipt_reversal_reference(int(sale)) not in done)


def voided_refunds_to_reverse(transactions: pd.DataFrame, refunds_in_sage: Iterable[int],
                              reversed_references: Iterable[str]) -> list[int]:
    """REFUNDs PayTrace shows VOIDED that Sage recorded and has not reversed yet."""
    if transactions.empty:
        return []
    kind = transactions["transaction_type"].astype("string").fillna("").str.upper()
    status = transactions["status"].astype("string").fillna("").str.upper()
    voided = transactions.loc[(kind == "REFUND") & (status == "VOIDED"), "transaction_id"].astype("int64")
    recorded, done = set(refunds_in_sage), set(reversed_references)
    return sorted(int(refund) for refund in voided.unique() if refund in recorded
                  and refund_reversal_reference(int(refund)) not in done)
