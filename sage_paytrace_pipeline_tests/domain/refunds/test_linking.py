"""Linking a PayTrace refund to its sale: original id, invoice id, vault customer, last 4, remaining amount."""

from __future__ import annotations

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.refunds.linking import AMBIGUOUS, LINKED, UNKNOWN, link_refunds


def _tx(rows: list[tuple]) -> pd.DataFrame:
    columns = ["transaction_id", "transaction_type", "status", "amount_cents", "invoice_id", "customer_id",
               "card_last4", "created_at"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


SALES = _tx([
    (100, "SALE", "SETTLED", 10000, "INV-1", "", "1111", "2026-03-01 10:00"),
    (101, "SALE", "SETTLED", 5000, "INV-2", "C-9", "2222", "2026-03-01 11:00"),
    (102, "SALE", "SETTLED", 5000, "INV-2", "C-9", "2222", "2026-03-01 12:00"),
    (103, "SALE", "DECLINED", 5000, "INV-3", "", "3333", "2026-03-01 12:00"),
    (104, "SALE", "SETTLED", 7000, "", "C-7", "4444", "2026-03-01 12:00"),
])
NOTHING = pd.DataFrame({"refund_id": pd.Series(dtype="int64"), "sale_transaction_id": pd.Series(dtype="int64"),
                        "amount_cents": pd.Series(dtype="int64")})


def _refund(tid: int, cents: int, invoice: str = "", customer: str = "", last4: str = "1111") -> tuple:
    return (tid, "REFUND", "PENDING", cents, invoice, customer, last4, "2026-03-03 09:00")


def _outcome(links, refund_id: int) -> tuple:
    row = links.frame.set_index("refund_id").loc[refund_id]
    sale = None if pd.isna(row["sale_transaction_id"]) else int(row["sale_transaction_id"])
    return row["outcome"], sale, row["candidates"]


def test_refund_links_by_invoice_id_and_card():
    links = link_refunds(_tx([_refund(900, 10000, "INV-1")]), SALES, NOTHING)
    assert _outcome(links, 900) == (LINKED, 100, "100")
    assert links.frame.loc[0, "method"] == "invoice_id"


def test_two_refunds_on_one_sale_share_its_remaining_amount():
    refunds = _tx([_refund(900, 6000, "INV-1"), _refund(901, 4000, "INV-1"), _refund(902, 1, "INV-1")])
    links = link_refunds(refunds, SALES, NOTHING)
    assert [_outcome(links, r)[:2] for r in (900, 901)] == [(LINKED, 100), (LINKED, 100)]
    assert _outcome(links, 902) == (UNKNOWN, None, "100")  # nothing left: named, not linked


def test_earlier_links_count_against_the_remaining_amount():
    earlier = pd.DataFrame({"refund_id": [800], "sale_transaction_id": [100], "amount_cents": [9000]})
    links = link_refunds(_tx([_refund(900, 2000, "INV-1")]), SALES, earlier)
    assert _outcome(links, 900)[0] == UNKNOWN
    assert _outcome(link_refunds(_tx([_refund(900, 1000, "INV-1")]), SALES, earlier), 900)[:2] == (LINKED, 100)


def test_two_sales_fitting_are_ambiguous_and_named():
    links = link_refunds(_tx([_refund(900, 5000, "INV-2", "C-9", "2222")]), SALES, NOTHING)
    assert _outcome(links, 900) == (AMBIGUOUS, None, "101,102")


def test_customer_id_alone_links_and_last4_alone_does_not():
    links = link_refunds(_tx([_refund(900, 7000, customer="C-7", last4="4444"), _refund(901, 10, last4="1111")]),
                         SALES, NOTHING)
    assert _outcome(links, 900)[:2] == (LINKED, 104)
    assert _outcome(links, 901) == (UNKNOWN, None, "")


def test_other_card_or_declined_sale_is_not_a_candidate():
    refunds = _tx([_refund(900, 100, "INV-1", last4="9999"), _refund(901, 100, "INV-3", last4="3333")])
    links = link_refunds(refunds, SALES, NOTHING)
    assert [_outcome(links, r)[0] for r in (900, 901)] == [UNKNOWN, UNKNOWN]


@pytest.mark.parametrize(("original", "expected"), [(102, (LINKED, 102)), (555, (UNKNOWN, None))])
def test_original_transaction_id_wins_when_the_export_gives_it(original, expected):
    refunds = _tx([_refund(900, 5000, "INV-2", "C-9", "2222")]).assign(original_transaction_id=[original])
    assert _outcome(link_refunds(refunds, SALES, NOTHING), 900)[:2] == expected


def test_a_captured_authorization_is_a_sale_an_open_one_is_not():
    # PayTrace exports a captured authorization with its type AUTHORIZATION, settled like a sale.
    sales = _tx([(200, "AUTHORIZATION", "SETTLED", 8000, "INV-8", "C-8", "8888", "2026-03-01 10:00"),
                 (201, "AUTHORIZATION", "AUTHORIZED", 8000, "INV-9", "C-8", "8888", "2026-03-01 10:00")])
    links = link_refunds(_tx([_refund(900, 8000, "INV-8", "C-8", "8888"), _refund(901, 8000, "INV-9", "C-8", "8888")]),
                         sales, NOTHING)
    assert _outcome(links, 900)[:2] == (LINKED, 200)
    assert _outcome(links, 901)[:2] == (UNKNOWN, None)
