"""The refund requests' money checks over the warehouse's refunds, worked out once for a range (`LiveRefunds`).

The checks run for each day of a range over the same refunds; what they ask of every refund (live,
made in PayTrace or by a request, SPR ids carried twice) is computed once, and must decide as a
check over the raw rows does.
"""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.defs.refunds.requests import LiveRefunds, no_refund_sent_twice, refunds_within_sale
from sage_paytrace_pipeline.domain.refunds.requests import request_invoice_id

A, B, C = (request_invoice_id(f"R{n}") for n in "ABC")


def _refunds(rows: list[tuple[int, str, int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["transaction_id", "invoice_id", "amount_cents", "status", "card_last4"])


def _requests(rows: list[tuple[str, str, int, str, str, int, int | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["request_id", "invoice_id", "sale_transaction_id", "state", "action",
                                        "amount_cents", "paytrace_transaction_id"])
    frame["paytrace_amount_cents"] = float("nan")  # not converted, as the store reads it
    return frame


REFUNDS = _refunds([
    (901, A, 300, "SETTLED", "1111"),
    (902, A, 300, "SETTLED", "1111"),  # request A refunded twice in PayTrace
    (903, B, 400, "SETTLED", "2222"),
    (904, B, 400, "VOIDED", "2222"),  # a voided second refund of B does not count
    (905, "INV-7", 500, "SETTLED", "3333"),  # made in PayTrace itself, on sale 7's invoice and card
    (906, "INV-7", 900, "SETTLED", "4444"),  # another card: not sale 7's
])
REQUESTS = _requests([
    ("RA", A, 5, "recorded", "refund", 300, 901),
    ("RB", B, 6, "recorded", "refund", 400, 903),
    ("RC", C, 7, "sent", "refund", 600, None),  # in flight: not in the warehouse yet
])
SALES = pd.DataFrame({"transaction_id": [5, 6, 7], "amount_cents": [1_000, 400, 1_000],
                      "invoice_id": ["INV-5", "INV-6", "INV-7"], "card_last4": ["1111", "2222", "3333"],
                      "status": "SETTLED"})


def test_a_request_refunded_twice_fails_and_a_voided_second_refund_does_not():
    check = no_refund_sent_twice(REQUESTS, LiveRefunds.of(REFUNDS))

    assert not check.passed and check.metadata["failing_request_ids"].value == ["RA"]


def test_paytrace_made_refunds_on_the_sales_invoice_and_card_count_with_those_in_flight():
    # sale 7: 500 refunded in PayTrace (same invoice and card) + 600 in flight > 1,000; sale 5: 600 of 1,000
    check = refunds_within_sale(REQUESTS, LiveRefunds.of(REFUNDS), SALES)

    assert not check.passed and check.metadata["failing_sale_ids"].value == [7]


def test_no_refunds_in_the_warehouse_passes_both():
    live = LiveRefunds.of(REFUNDS.head(0))

    assert no_refund_sent_twice(REQUESTS, live).passed
    assert refunds_within_sale(REQUESTS.head(2), live, SALES.head(2)).passed


def test_only_voided_refunds_count_as_none():
    voided = REFUNDS.assign(status="VOIDED")

    assert no_refund_sent_twice(REQUESTS, LiveRefunds.of(voided)).passed
    assert LiveRefunds.of(voided).invoice_ids == frozenset()
