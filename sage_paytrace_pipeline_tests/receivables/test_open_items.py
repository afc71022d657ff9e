"""A range's open items kept as arrays (`ArrayOpenItems`) give each day what carrying the frame with
`after_receipts` and indexing it again (`ReindexedOpenItems`) gives: the same frame, an equal index,
so the same links, applications and exceptions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.open_invoices import (
    OpenInvoiceIndex,
    OpenInvoiceRows,
    index_open_invoices,
)
from sage_paytrace_pipeline.paytrace.frames import VAULT_CUSTOMER_COLUMNS
from sage_paytrace_pipeline.receivables.day import match_business_day
from sage_paytrace_pipeline.receivables.open_items import ArrayOpenItems, ReindexedOpenItems, open_items
from sage_paytrace_pipeline_tests.domain.matching.builders import cards, customers, invoices, links, payments

POLICY = MatchingPolicy()
CUSTOMER_NOS = [f"C{number:04d}" for number in range(30)]


def assert_same_index(found: OpenInvoiceIndex, expected: OpenInvoiceIndex) -> None:
    for field in dataclasses.fields(OpenInvoiceIndex):
        got, want = getattr(found, field.name), getattr(expected, field.name)
        if isinstance(want, pd.Index):
            assert got.equals(want) and got.dtype == want.dtype, field.name
        elif isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want), field.name
        else:
            assert got == want, field.name


def open_book(rng: np.random.Generator, count: int = 400) -> pd.DataFrame:
    """Invoices of two divisions with the awkward cases: numbers that are not 7 digits, one number under
    two types and under two customers, types nobody pays, zero and negative balances."""
    owner = rng.choice(CUSTOMER_NOS, count)
    number = np.array([f"{n:07d}" for n in rng.permutation(np.arange(1, 10 * count))[:count]], dtype=object)
    number[::37] = [f"CM-{n}" for n in range(len(number[::37]))]
    number[5], number[9] = number[4], number[8]  # 4 and 5: one number, two types; 8 and 9: two customers
    owner[5] = owner[4]
    invoice_type = rng.choice(["IN", "IN", "IN", "DM", "FC", "CM"], count)
    invoice_type[4], invoice_type[5] = "DM", "IN"
    balance = rng.integers(100, 50_000, count)
    balance[::23], balance[::41] = 0, -500
    rows = zip(owner, number, invoice_type, balance, strict=True)
    frame = invoices(*({"customer_no": customer_no, "invoice_no": invoice_no, "invoice_type": kind,
                        "balance_cents": int(cents)} for customer_no, invoice_no, kind, cents in rows))
    frame.loc[frame.index % 11 == 0, "division"] = "02"
    return frame


@pytest.mark.parametrize("seed", range(5))
def test_indexing_new_balances_equals_indexing_the_frame_with_them(seed: int):
    rng = np.random.default_rng(seed)
    frame = open_book(rng)
    rows = OpenInvoiceRows(frame, POLICY)
    for _ in range(4):  # paid off, part paid and overpaid rows, the first rows of customers among them
        balance = frame["balance_cents"].to_numpy().copy()
        balance[rng.random(len(balance)) < 0.3] = 0
        balance[rng.random(len(balance)) < 0.05] = -100
        assert_same_index(rows.index(balance), index_open_invoices(frame.assign(balance_cents=balance), POLICY))


def test_an_index_of_no_payable_row_equals_indexing_the_frame():
    frame = open_book(np.random.default_rng(9), count=40)
    nothing = np.zeros(len(frame), dtype="int64")
    assert_same_index(OpenInvoiceRows(frame, POLICY).index(nothing),
                      index_open_invoices(frame.assign(balance_cents=nothing), POLICY))


def day_payments(rng: np.random.Generator, book: pd.DataFrame, day: int, count: int = 40) -> pd.DataFrame:
    """Payments naming open invoices: in full, part (the rest paid on a later day), overpaid, twice in a
    day; some by e-mail alone (the customer's only invoice of that amount), some naming unknown numbers."""
    picked = book.iloc[rng.integers(0, len(book), count)]
    share = rng.choice([1.0, 1.0, 0.5, 0.3, 1.2], count)
    amount = np.maximum((picked["balance_cents"].abs().to_numpy() * share).astype("int64"), 100)
    reference = picked["invoice_no"].to_numpy().copy()
    by_email = rng.random(count) < 0.2
    reference[by_email] = ""
    reference[rng.random(count) < 0.05] = "0999999"
    rows = [{"transaction_id": 10_000 * (day + 1) + i, "amount_cents": int(cents), "invoice_id": ref,
             "email": f"{customer_no.lower()}@x.example" if email else None, "billing_name": "Someone Else"}
            for i, (cents, ref, customer_no, email)
            in enumerate(zip(amount, reference, picked["customer_no"], by_email, strict=True))]
    return payments(*rows)


def test_a_range_matches_the_same_against_the_array_book_as_against_the_reindexed_frame():
    rng = np.random.default_rng(3)
    snapshot = open_book(rng)
    company = customers(*({"customer_no": number, "email": f"{number.lower()}@x.example"} for number in CUSTOMER_NOS))
    vault = pd.DataFrame(columns=list(VAULT_CUSTOMER_COLUMNS))
    reindexed, arrays = ReindexedOpenItems(snapshot, POLICY), open_items(snapshot, POLICY)
    assert isinstance(arrays, ArrayOpenItems)
    paid_off = 0
    for day in range(6):  # each day pays from the balances the days before left, some invoices across days
        paid = day_payments(rng, reindexed.frame(), day)
        assert_same_index(arrays.index(), reindexed.index())
        pd.testing.assert_frame_equal(arrays.frame(), reindexed.frame())
        expected = match_business_day(paid, vault, company, cards(), reindexed.frame(), links=links(), policy=POLICY,
                                      earlier={})
        found = match_business_day(paid, vault, company, cards(), arrays.index(), links=links(), policy=POLICY,
                                   earlier={})
        for name in ("customer_links", "applications", "exceptions"):
            pd.testing.assert_frame_equal(getattr(found, name), getattr(expected, name))
        assert found.skipped_counts == expected.skipped_counts
        before = len(reindexed.frame())
        reindexed.add_receipts(expected.applications)
        arrays.add_receipts(found.applications)
        paid_off += before - len(reindexed.frame())
    pd.testing.assert_frame_equal(arrays.frame(), reindexed.frame())
    assert_same_index(arrays.index(), reindexed.index())
    assert paid_off > 50  # the days did pay invoices off (and the frame shrank as they did)


def test_receipts_posted_earlier_or_naming_no_open_invoice_change_no_balance():
    snapshot = invoices({"customer_no": "C0001", "invoice_no": "0000001", "balance_cents": 5000},
                        {"customer_no": "C0001", "invoice_no": "0000002", "balance_cents": 0})
    book = open_items(snapshot, POLICY)
    applications = pd.DataFrame({
        "division": "01", "customer_no": "C0001", "invoice_no": ["0000001", "0000003", "", "0000001"],
        "invoice_type": "IN", "amount_cents": [1000, 700, 300, 2000], "posted_earlier": [True, False, False, False]})
    book.add_receipts(applications)
    reindexed = ReindexedOpenItems(snapshot, POLICY)
    reindexed.add_receipts(applications)
    # only the last line applies; the zero-balance row leaves the frame, as after_receipts drops it
    pd.testing.assert_frame_equal(book.frame(), reindexed.frame())
    assert book.frame()["balance_cents"].tolist() == [3000]


def test_a_snapshot_with_missing_keys_is_reindexed_each_day():
    snapshot = invoices({"customer_no": "C0001", "invoice_no": None, "balance_cents": 5000})
    assert isinstance(open_items(snapshot, POLICY), ReindexedOpenItems)


def test_rows_sharing_an_invoice_key_each_lose_what_is_applied_to_it_as_after_receipts_has_it():
    snapshot = invoices({"customer_no": "C0001", "invoice_no": "0000001", "balance_cents": 5000},
                        {"customer_no": "C0001", "invoice_no": "0000001", "balance_cents": 3000},
                        {"customer_no": "C0002", "invoice_no": "0000002", "balance_cents": 4000})
    applications = pd.DataFrame({"division": "01", "customer_no": ["C0001", "C0002"],
                                 "invoice_no": ["0000001", "0000002"], "invoice_type": "IN",
                                 "amount_cents": [3000, 1000]})
    book, reindexed = open_items(snapshot, POLICY), ReindexedOpenItems(snapshot, POLICY)
    for each in (book, reindexed):
        each.add_receipts(applications)
    pd.testing.assert_frame_equal(book.frame(), reindexed.frame())
    assert book.frame()["balance_cents"].tolist() == [2000, 3000]
    assert_same_index(book.index(), reindexed.index())
