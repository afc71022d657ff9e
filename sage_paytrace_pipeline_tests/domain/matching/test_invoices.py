from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, apply_payments
from sage_paytrace_pipeline_tests.domain.matching.builders import invoices, links_for, payments

INVOICES = invoices(
    {"customer_no": "A", "invoice_no": "0001234", "balance_cents": 10000},
    {"customer_no": "A", "invoice_no": "0001235", "balance_cents": 5000},
    {"customer_no": "A", "invoice_no": "0001236", "balance_cents": 7500},
    {"customer_no": "A", "invoice_no": "0001237", "balance_cents": 7500},
    {"customer_no": "A", "invoice_no": "0001238", "balance_cents": -2000, "invoice_type": "CM"},
    {"customer_no": "B", "invoice_no": "0009999", "balance_cents": 10000},
    {"customer_no": "C", "invoice_no": "0005555", "balance_cents": 4200},
)

HOLD_UNAPPLIED = MatchingPolicy(post_unapplied_as_prepayment=False)


def apply(*rows, customer="A", policy=None, open_invoices=INVOICES):
    frame = payments(*rows)
    owners = dict.fromkeys(frame["transaction_id"], customer)
    return apply_payments(frame, links_for(owners), open_invoices, policy=policy or MatchingPolicy())


def lines(applications: pd.DataFrame) -> list[tuple]:
    return list(zip(applications["transaction_id"], applications["invoice_no"], applications["invoice_type"],
                    applications["amount_cents"], applications["method"]))


@pytest.mark.parametrize(
    ("payment", "expected"),
    [
        ({"invoice_id": "INV-1234", "amount_cents": 10000}, [("0001234", 10000, "invoice_id_exact")]),
        ({"description": "inv 1234 and 1235", "amount_cents": 15000},
         [("0001234", 10000, "description_reference"), ("0001235", 5000, "description_reference")]),
        # allocation follows the order written, each invoice up to its balance
        ({"invoice_id": "1235, 1234", "amount_cents": 12000},
         [("0001235", 5000, "invoice_id_exact"), ("0001234", 7000, "invoice_id_exact")]),
        # partial payment: the invoice stays open, no exception
        ({"invoice_id": "#1234", "amount_cents": 2500}, [("0001234", 2500, "invoice_id_exact")]),
        ({"amount_cents": 5000}, [("0001235", 5000, "customer_amount_unique")]),
    ],
)
def test_applications(payment, expected):
    applications, problems = apply(payment)
    assert problems.empty
    assert lines(applications) == [(1000, number, "IN", cents, method) for number, cents, method in expected]
    assert applications["explanation"].str.len().gt(0).all()


def test_partial_payment_says_what_stays_open():
    applications, _ = apply({"invoice_id": "1234", "amount_cents": 2500})
    assert "$75.00 stays open" in applications["explanation"].iloc[0]


def test_overpayment_posts_the_rest_as_prepayment_with_a_warning():
    applications, problems = apply({"invoice_id": "1235", "amount_cents": 6234})
    assert lines(applications) == [(1000, "0001235", "IN", 5000, "invoice_id_exact"),
                                   (1000, "0001235", "PP", 1234, "prepayment")]
    row = problems.iloc[0]
    assert (len(problems), row["kind"], row["severity"]) == (1, "overpayment", "warning")
    assert "$12.34" in row["problem"] and "$62.34" in row["problem"]


@pytest.mark.parametrize(
    ("payment", "kind"),
    [
        ({"invoice_id": "9999", "amount_cents": 10000}, "invoice_of_another_customer"),
        ({"invoice_id": "1234, 9999", "amount_cents": 20000}, "invoice_of_another_customer"),
        ({"invoice_id": "4444", "amount_cents": 10000}, "invoice_not_open"),
        ({"invoice_id": "1238", "amount_cents": 2000}, "invoice_not_open"),  # a credit memo is not payable
    ],
)
def test_never_another_customers_invoice_nor_a_closed_one(payment, kind):
    applications, problems = apply(payment)
    assert applications.empty  # the payment is held whole
    assert list(problems["kind"]) == [kind]
    assert problems["severity"].eq("error").all()


@pytest.mark.parametrize(("amount", "candidates"), [(1, 0), (5000, 1), (7500, 2)])
def test_exact_amount_rule_needs_exactly_one_candidate(amount, candidates):
    applications, problems = apply({"amount_cents": amount}, policy=HOLD_UNAPPLIED)
    if candidates == 1:
        assert lines(applications) == [(1000, "0001235", "IN", 5000, "customer_amount_unique")] and problems.empty
    else:
        assert applications.empty
        assert list(problems["kind"]) == ["unapplied_payment"]
        assert ("no open invoice" if candidates == 0 else "several open invoices") in problems["problem"].iloc[0]


def test_amount_tolerance():
    applications, problems = apply({"amount_cents": 5001}, policy=MatchingPolicy(amount_tolerance_cents=1))
    assert lines(applications)[0][1:4] == ("0001235", "IN", 5000)
    assert list(problems["kind"]) == ["overpayment"]


def test_a_known_customers_payment_naming_no_invoice_posts_on_account_by_default():
    applications, problems = apply({"amount_cents": 7500})  # two open invoices of 75.00: no guess
    assert lines(applications) == [(1000, "P001000", "PP", 7500, "prepayment")]
    row = problems.iloc[0]
    assert (len(problems), row["kind"], row["severity"]) == (1, "unapplied_payment", "warning")
    assert "posted on account as prepayment P001000" in row["problem"]
    # the customer's open invoices with their balances, a few of them (A has four payable ones)
    assert ("Open invoices it could apply to: 0001234 ($100.00), 0001235 ($50.00), 0001236 ($75.00) and 1 more"
            in row["problem"])
    assert "A/R Cash Receipts Entry" in row["action"] and "P001000" in row["action"]


def test_unapplied_lists_all_open_invoices_when_few_or_says_there_is_none():
    _, few = apply({"amount_cents": 1}, customer="C")
    assert few["problem"].iloc[0].endswith("Open invoices it could apply to: 0005555 ($42.00)")
    _, none = apply({"amount_cents": 1}, customer="Z")
    assert none["problem"].iloc[0].endswith("The customer has no open invoice in Sage")


def test_unapplied_is_held_as_an_error_when_the_policy_turns_posting_off():
    applications, problems = apply({"amount_cents": 1}, policy=HOLD_UNAPPLIED)
    assert applications.empty
    assert (problems["kind"].tolist(), problems["severity"].tolist()) == (["unapplied_payment"], ["error"])
    assert "matching.post_unapplied_as_prepayment is false" in problems["problem"].iloc[0]


def test_two_payments_on_one_invoice_in_one_run():
    applications, problems = apply(
        {"invoice_id": "1234", "amount_cents": 6000},
        {"invoice_id": "1234", "amount_cents": 6000},  # only 40.00 left; 20.00 becomes a prepayment
        {"invoice_id": "1234", "amount_cents": 1000},  # nothing left at all
    )
    assert lines(applications) == [
        (1000, "0001234", "IN", 6000, "invoice_id_exact"),
        (1001, "0001234", "IN", 4000, "invoice_id_exact"), (1001, "0001234", "PP", 2000, "prepayment"),
        (1002, "0001234", "PP", 1000, "prepayment"),
    ]
    assert problems["kind"].tolist() == ["overpayment", "overpayment"]


def test_processing_order_is_created_time_then_id():
    frame = payments({"invoice_id": "1235", "amount_cents": 5000}, {"invoice_id": "1235", "amount_cents": 5000})
    frame.loc[0, "created_at"] = frame.loc[1, "created_at"] + pd.Timedelta(minutes=1)  # 1000 came later
    applications, _ = apply_payments(frame, links_for({1000: "A", 1001: "A"}), INVOICES)
    assert lines(applications) == [(1000, "0001235", "PP", 5000, "prepayment"),
                                   (1001, "0001235", "IN", 5000, "invoice_id_exact")]


def test_chained_payments_sharing_invoices():
    # 1000 fills 1235 and part of 1234; 1001 gets the rest of 1234, then 1236
    applications, _ = apply({"invoice_id": "1235, 1234", "amount_cents": 8000},
                            {"invoice_id": "1234 1236", "amount_cents": 10000},
                            {"invoice_id": "1236 1237", "amount_cents": 10000})
    assert lines(applications) == [
        (1000, "0001235", "IN", 5000, "invoice_id_exact"), (1000, "0001234", "IN", 3000, "invoice_id_exact"),
        (1001, "0001234", "IN", 7000, "invoice_id_exact"), (1001, "0001236", "IN", 3000, "invoice_id_exact"),
        (1002, "0001236", "IN", 4500, "invoice_id_exact"), (1002, "0001237", "IN", 5500, "invoice_id_exact"),
    ]


def test_dm_and_fc_are_payable():
    open_invoices = invoices({"customer_no": "A", "invoice_no": "0000010", "invoice_type": "FC", "balance_cents": 300})
    applications, problems = apply({"invoice_id": "10", "amount_cents": 300}, open_invoices=open_invoices)
    assert lines(applications) == [(1000, "0000010", "FC", 300, "invoice_id_exact")] and problems.empty


def test_property_applications_sum_to_payments_and_never_exceed_balances():
    rng = np.random.default_rng(7)
    customers = [f"C{i}" for i in range(20)]
    open_invoices = invoices(*[
        {"customer_no": customers[i % 20], "invoice_no": f"{i:07d}", "balance_cents": int(rng.integers(100, 50000))}
        for i in range(1, 200)
    ])
    rows, owners = [], {}
    for n in range(600):
        customer = int(rng.integers(0, 20))
        own = [i for i in range(1, 200) if i % 20 == customer]
        named = rng.choice([*own, 0, 0, 9999999], size=int(rng.integers(0, 4)), replace=False)
        rows.append({"invoice_id": ", ".join(str(int(i)) for i in named), "amount_cents": int(rng.integers(1, 60000))})
        owners[1000 + n] = customers[customer]
    frame = payments(*rows)
    applications, problems = apply_payments(frame, links_for(owners), open_invoices)
    assert (applications["amount_cents"] > 0).all()
    # every payment: applications sum exactly to its amount, or it has none and an error says why
    applied = applications.groupby("transaction_id")["amount_cents"].sum()
    amounts = frame.set_index("transaction_id")["amount_cents"]
    assert (applied == amounts[applied.index]).all()
    held = set(frame["transaction_id"]) - set(applied.index)
    errors = set(problems.loc[problems["severity"] == "error", "transaction_id"])
    assert held == errors and held
    # never above a balance, never another customer's invoice
    on_invoices = applications[applications["invoice_type"] == "IN"]
    totals = on_invoices.groupby(["customer_no", "invoice_no"])["amount_cents"].sum().reset_index()
    checked = totals.merge(open_invoices, on=["customer_no", "invoice_no"], how="left")
    assert checked["balance_cents"].notna().all()
    assert (checked["amount_cents"] <= checked["balance_cents"]).all()
    assert (on_invoices["customer_no"] == on_invoices["transaction_id"].map(owners)).all()


@pytest.mark.parametrize("seed", range(3))
def test_links_in_any_order_give_the_same_applications(seed):
    """Links in transaction id order (as match_day makes them) have their rows counted into place; any
    other order is sorted: both give the same frames."""
    from sage_paytrace_pipeline.domain.matching import resolve_customers
    from sage_paytrace_pipeline_tests.domain.matching.test_match_day import messy_day

    frame, customers, cards, open_invoices, links = messy_day(seed)
    linked, _ = resolve_customers(frame, customers, cards, open_invoices, links=links)
    in_order = apply_payments(frame, linked, open_invoices)
    shuffled = apply_payments(frame, linked.sample(frac=1, random_state=seed).reset_index(drop=True), open_invoices)
    assert len(in_order[0]) > 5  # a day with applications
    pd.testing.assert_frame_equal(in_order[0], shuffled[0])
    pd.testing.assert_frame_equal(in_order[1], shuffled[1])


@pytest.mark.parametrize("seed", range(20))
def test_allocation_takes_what_paying_one_pair_at_a_time_takes(seed):
    """Pairs alone on their payment and invoice take min(amount, balance) at once, the others are swept:
    together, what a loop over the pairs in processing order gives."""
    from sage_paytrace_pipeline.domain.matching import allocate

    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 300))
    payment = np.sort(rng.integers(0, size // 2 + 1, size))
    invoice = rng.integers(0, int(rng.integers(1, size + 1)), size)
    owed = rng.integers(1, 500, invoice.max() + 1)
    amount = rng.integers(1, 800, payment.max() + 1)
    pairs = pd.DataFrame({"transaction_id": payment, "invoice_id": invoice, "amount_cents": amount[payment],
                          "balance_cents": owed[invoice]})
    left, open_, expected = amount.copy(), owed.copy(), []
    for p, i in zip(payment, invoice):
        take = min(left[p], open_[i])
        left[p] -= take
        open_[i] -= take
        expected.append(take)
    assert allocate(pairs).tolist() == expected
