"""Linking a PayTrace refund to its sale: original id, invoice id, vault customer, last 4, remaining amount."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.refunds import linking
from sage_paytrace_pipeline.domain.refunds.linking import (
    AMBIGUOUS,
    LINKED,
    UNKNOWN,
    link_refunds,
    linking_keys,
    sale_candidates,
)


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


def _by_the_rules(refunds: pd.DataFrame, sales: pd.DataFrame, already_linked: pd.DataFrame) -> list[tuple]:
    """The linking rules (module docstring) row by row, with dicts: what the frame and array passes must give."""
    candidates = linking_keys(sale_candidates(sales)).to_dict("records")
    ours = set(refunds["transaction_id"])
    refunded: dict[int, int] = {}
    for row in already_linked.itertuples(index=False):
        if row.refund_id not in ours:
            refunded[row.sale_transaction_id] = refunded.get(row.sale_transaction_id, 0) + row.amount_cents
    found: dict[int, tuple[str, list[int]]] = {}
    cents_of = {c["transaction_id"]: c["amount_cents"] for c in candidates}
    keys = linking_keys(refunds).assign(original=refunds.get("original_transaction_id")).sort_values("transaction_id")
    for refund in keys.to_dict("records"):
        if not pd.isna(refund["original"]):
            found[refund["transaction_id"]] = ("original_id", [int(refund["original"])])
            continue
        wanted = [k for k in ("invoice_id", "customer_id") if refund[k]]
        method = {("invoice_id", "customer_id"): "invoice_and_customer", ("invoice_id",): "invoice_id",
                  ("customer_id",): "customer_id"}.get(tuple(wanted))
        cards = (refund["card_last4"],)
        sales_found = sorted(c["transaction_id"] for c in candidates
                             if method and all(c[k] == refund[k] for k in wanted)
                             and ("" in (c["card_last4"], *cards) or (c["card_last4"],) == cards)
                             and (pd.isna(c["created_at"]) or pd.isna(refund["created_at"])
                                  or c["created_at"] <= refund["created_at"]))
        if sales_found:
            found[refund["transaction_id"]] = (method, sales_found)
    remaining = {sale: cents_of.get(sale, 0) - refunded.get(sale, 0) for _, sales in found.values() for sale in sales}
    rows = []
    for refund in keys.to_dict("records"):
        if refund["transaction_id"] not in found:
            rows.append((refund["transaction_id"], None, UNKNOWN, "", ""))
            continue
        method, sales_found = found[refund["transaction_id"]]
        fits = [s for s in sales_found if remaining[s] >= refund["amount_cents"] and cents_of.get(s, 0) > 0]
        if len(fits) == 1:
            remaining[fits[0]] -= refund["amount_cents"]
        outcome = LINKED if len(fits) == 1 else AMBIGUOUS if fits else UNKNOWN
        rows.append((refund["transaction_id"], fits[0] if len(fits) == 1 else None, outcome, method,
                     ",".join(map(str, sales_found))))
    return rows


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dense_span", [linking._DENSE_SPAN, 0])  # 0: the sale ids hashed, not tabled
def test_linking_gives_what_the_rules_give_row_by_row(seed, dense_span, monkeypatch):
    monkeypatch.setattr(linking, "_DENSE_SPAN", dense_span)
    rng = np.random.default_rng(seed)

    def pick(options: list, size: int) -> list:
        return [options[i] for i in rng.integers(0, len(options), size)]

    def at(size: int) -> list:
        return [None if rng.random() < 0.05 else f"2026-03-0{rng.integers(1, 4)} {rng.integers(8, 18)}:00"
                for _ in range(size)]

    sales = _tx(list(zip(range(100, 160), pick(["SALE", "SALE", "AUTHORIZATION", "REFUND"], 60),
                         pick(["SETTLED", "PENDING", "DECLINED"], 60), pick([1000, 2000, 3000, 5000], 60),
                         pick(["", "INV-1", "INV-2", "INV-3"], 60), pick(["", "C-1", "C-2"], 60),
                         pick(["", "1111", "2222"], 60), at(60), strict=True)))
    refunds = _tx(list(zip(range(900, 930), ["REFUND"] * 30, ["PENDING"] * 30, pick([500, 1000, 2000, 3000], 30),
                           pick(["", "INV-1", "INV-2", "INV-9"], 30), pick(["", "C-1", "C-2"], 30),
                           pick(["", "1111", "2222"], 30), at(30), strict=True)))
    refunds["original_transaction_id"] = pick([None] * 8 + [100, 101, 7], 30)
    earlier = pd.DataFrame({"refund_id": [800, 801, 905], "sale_transaction_id": pick([100, 101, 102, 103], 3),
                            "amount_cents": [500, 1000, 700]})

    links = link_refunds(refunds, sales, earlier).frame
    got = [(r.refund_id, None if pd.isna(r.sale_transaction_id) else r.sale_transaction_id, r.outcome, r.method,
            r.candidates) for r in links.itertuples(index=False)]
    assert got == _by_the_rules(refunds, sales, earlier)
    assert {LINKED, AMBIGUOUS, UNKNOWN} <= set(links["outcome"])


@pytest.mark.parametrize("spread", [1, 10**9])  # ids close together (tabled), and far apart (hashed)
def test_factorized_ids_name_each_distinct_id_once(spread):
    ids = np.array([7, 3, 7, 12, 3, 3, 40], dtype=np.int64) * spread + 1_000_000

    inverse, distinct = linking._factorized(ids)

    assert (distinct[inverse] == ids).all() and len(distinct) == len(set(ids.tolist())) == 4
    assert linking._factorized(np.empty(0, np.int64))[0].size == 0
