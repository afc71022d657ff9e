"""The Sage documents of a refund and which voids need a reversal."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.refunds.plan import (
    ReceiptApplication,
    RefundNotPlannable,
    SaleReceipt,
    plan_refund,
    select_refunds,
    taken_by_earlier,
    voided_refunds_to_reverse,
    voided_sales_to_reverse,
)

RECEIPT = SaleReceipt(sale_id=100, division="01", customer_no="C1", payment_type="VISA", lines=(
    ReceiptApplication("0000010", "IN", 6000), ReceiptApplication("0000011", "IN", 3000),
    ReceiptApplication("PP100", "PP", 1000)))


def test_newest_application_first_one_memo_per_invoice():
    plan = plan_refund(900, 4500, RECEIPT)
    assert (plan.prepayment_no, plan.prepayment_cents) == ("PP100", 1000)
    assert [(m.reference, m.invoice_no, m.amount_cents) for m in plan.memos] == [
        ("PT-R900-1", "0000011", 3000), ("PT-R900-2", "0000010", 500)]
    assert plan.allocations() == {"IN:0000011": 3000, "IN:0000010": 500, "PP:PP100": 1000}


def test_earlier_refunds_of_the_sale_are_not_taken_twice():
    earlier = taken_by_earlier([plan_refund(900, 4500, RECEIPT).allocations()])
    plan = plan_refund(901, 5500, RECEIPT, earlier)
    assert [(m.reference, m.invoice_no, m.amount_cents) for m in plan.memos] == [("PT-R901", "0000010", 5500)]
    with pytest.raises(RefundNotPlannable, match="above what sale 100"):
        plan_refund(902, 5501, RECEIPT, earlier)


def _tx(rows):
    frame = pd.DataFrame(rows, columns=["transaction_id", "transaction_type", "status", "invoice_id", "created_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def test_select_refunds_skips_requests_old_ones_and_unapproved():
    frame = _tx([(1, "REFUND", "PENDING", "", "2026-03-05"), (2, "REFUND", "SETTLED", "SPR0a1b", "2026-03-05"),
                 (3, "REFUND", "PENDING", "", "2026-02-01"), (4, "REFUND", "VOIDED", "", "2026-03-05"),
                 (5, "SALE", "SETTLED", "", "2026-03-05")])
    selection = select_refunds(frame, date(2026, 3, 1))
    assert selection.to_post["transaction_id"].tolist() == [1]
    assert selection.skipped == {"sent_by_a_sage_request": 1, "before_start_date": 1, "not_approved": 1}


def test_reversals_only_for_voids_sage_recorded_once():
    frame = _tx([(10, "SALE", "VOIDED", "", "2026-03-05"), (11, "SALE", "VOIDED", "", "2026-03-05"),
                 (12, "AUTHORIZATION", "VOIDED", "", "2026-03-05"), (13, "SALE", "VOIDED", "", "2026-03-05"),
                 (20, "REFUND", "VOIDED", "", "2026-03-05"), (21, "REFUND", "VOIDED", "", "2026-03-05")])
    assert voided_sales_to_reverse(frame, {10, 11, 12, 13}, voided_by_requests={13},
                                   reversed_references={"PT-V11"}) == [10]
    assert voided_refunds_to_reverse(frame, {20, 21}, reversed_references={"PT-VR21"}) == [20]
