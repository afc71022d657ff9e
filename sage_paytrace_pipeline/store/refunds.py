"""Store refunds go through the refund flow (refunds/), never around it.

A refund the store reports (``refunds[]`` of a WooCommerce order, Shopify ``refunds/create``) is
either already a PayTrace refund (the store's PayTrace plugin refunded the sale: PayTrace shows a
refund with the order's invoice id) — then the PayTrace-side flow records it in Sage and nothing is
written here — or it still has to reach the card. Then it becomes a refund *request* the way a clerk
asks for one in Sage: a credit memo applied to the order's invoice with the sale's card payment
type (the refund flow's request marker), which that flow approves, sends to PayTrace once and
records. The memo is written only once the sale's receipt is in Sage (the flow links a request to
the card payment that paid the invoice), and once per refund (``UDF_PAYTRACE_REF`` = ``WEBR-<id>``).
Without the refund flow configured a store refund is an exception for a person.

Under a currency conversion the store refunds in PayTrace's currency and the memo is in Sage's: the
refund of the whole order is the invoice's total (`total_cents`), a part is converted at the rate
the order's invoice was written at (`fx_rate`, the sale's business day's, the rate its receipt
recorded), so the request flow converts the memo back to the store's amount. An order written
without a rate (before the conversion) is an exception for a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.domain.currency import convert_cents
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.sage100.documents import CreditMemo
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer


@dataclass
class RefundOutcome:
    requested: list[dict] = field(default_factory=list)  # credit memos written (or found) as requests
    left_to_paytrace_flow: list[str] = field(default_factory=list)  # refund ids PayTrace already has
    waiting: list[str] = field(default_factory=list)  # the sale's receipt is not in Sage yet
    exceptions: list[dict] = field(default_factory=list)


def memo_reference(platform: str, refund_id: str) -> str:
    return f"WEBR-{platform[:4].upper()}-{refund_id}"[:30]


def request_store_refunds(refunds: Iterable[dict], postings: dict[tuple[str, str], dict], reader: Sage100Reader,
                          writer: Sage100Writer, *, refunded_invoice_ids: set[str], flow_on: bool,
                          today: date, converts: bool = False) -> RefundOutcome:
    """`refunds`: store_refunds rows; `postings`: (platform, order_id) -> store_postings row;
    `refunded_invoice_ids`: invoice ids of PayTrace refunds (the store's plugin refunds under the order's);
    `converts`: PayTrace's currency is not Sage's."""
    outcome = RefundOutcome()
    for refund in refunds:
        key = (refund["platform"], refund["order_id"])
        posting = postings.get(key)
        refund_id = str(refund["refund_id"])
        if posting is None:
            outcome.waiting.append(refund_id)  # the order is not in Sage yet
            continue
        if posting["number"] in refunded_invoice_ids:
            outcome.left_to_paytrace_flow.append(refund_id)
            continue
        order_key = f"{key[0]}:{key[1]}"
        if not flow_on:
            outcome.exceptions.append(_exception(order_key, posting, refund, "the refund flow is off (no `refunds:` "
                                                 "section)", "refund the card in PayTrace, or turn the refund flow on"))
            continue
        receipt = reader.receipt_for_transaction_id(posting["paytrace_transaction_id"])
        if receipt is None:
            outcome.waiting.append(refund_id)
            continue
        cents = int(refund["amount_cents"])
        if converts:
            if not posting.get("fx_rate"):
                outcome.exceptions.append(_exception(
                    order_key, posting, refund, "the order was written to Sage without an exchange rate (before the "
                    "currency conversion), so the memo's amount in Sage's currency is not known",
                    "refund the card in PayTrace's virtual terminal: the pipeline records that refund in Sage"))
                continue
            cents = int(posting["total_cents"]) if cents == posting.get("paytrace_amount_cents") \
                else convert_cents(cents, Decimal(str(posting["fx_rate"])))
        memo = CreditMemo(reference=memo_reference(key[0], refund_id), division=posting["division"],
                          customer_no=posting["customer_no"], memo_date=today,
                          amount=cents_to_decimal(cents),
                          apply_to_invoice_no=posting["invoice_no"], comment=f"Web refund {posting['number']}",
                          payment_type=receipt.payment_type)
        try:
            result = writer.create_credit_memo(memo)
        except Sage100ValidationError as error:
            outcome.exceptions.append(_exception(order_key, posting, refund, f"Sage refused the credit memo: {error}",
                                                 "fix what Sage names; the next run writes the request"))
            continue
        outcome.requested.append({"order_key": order_key, "refund_id": refund_id, "reference": memo.reference,
                                  "amount": memo.amount, "created": result.created, **result.documents})
    return outcome


def _exception(order_key: str, posting: dict, refund: dict, why: str, action: str) -> dict:
    amount = cents_to_decimal(int(refund["amount_cents"]))
    return {"order_key": order_key, "number": posting["number"], "kind": "store_refund",
            "problem": f"order {posting['number']}: the store refunded {amount:.2f} ({refund['reason'] or 'no reason'})"
                       f", which is not in PayTrace: {why}", "action": action}


