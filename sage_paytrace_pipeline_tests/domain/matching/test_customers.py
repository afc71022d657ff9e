from __future__ import annotations

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, resolve_customers
from sage_paytrace_pipeline_tests.domain.matching.builders import cards, customers, invoices, links, payments

CUSTOMERS = customers(
    {"customer_no": "EVER0301", "name": "Evergreen Landscaping", "zip_code": "99201", "email": "ap@evergreen.example"},
    {"customer_no": "CASC0302", "name": "Cascade Supply", "zip_code": "98101", "email": "Ap@Cascade.example "},
    {"customer_no": "SMIT0303", "name": "Sam Smith", "zip_code": "97205", "email": "shared@ap.example"},
    {"customer_no": "SMIT0304", "name": "Sam Smyth", "zip_code": "97205", "email": "shared@ap.example"},
    {"customer_no": "NGUY0305", "name": "Maya Nguyen", "zip_code": "83702"},
    {"customer_no": "GONE0306", "name": "Closed Corp", "zip_code": "83702", "email": "closed@x.example", "status": "I"},
)
CARDS = cards({"customer_no": "EVER0301", "credit_card_guid": "CUST000012"},
              {"customer_no": "CASC0302", "credit_card_guid": "SHARED"},
              {"customer_no": "EVER0301", "credit_card_guid": "SHARED"})
INVOICES = invoices({"customer_no": "EVER0301", "invoice_no": "0001234"},
                    {"customer_no": "CASC0302", "invoice_no": "0001235"},
                    {"customer_no": "CASC0302", "invoice_no": "0001236"},
                    {"customer_no": "SMIT0303", "invoice_no": "0001236"},
                    {"customer_no": "NGUY0305", "invoice_no": "0001299", "balance_cents": 0})
NO_LINKS = links()


def resolve(*rows, links_frame=NO_LINKS, policy=None):
    return resolve_customers(payments(*rows), CUSTOMERS, CARDS, INVOICES, links=links_frame,
                             policy=policy or MatchingPolicy())


def only(frame: pd.DataFrame) -> dict:
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("payment", "customer_no", "method"),
    [
        ({"customer_id": "CUST000012"}, "EVER0301", "vault_id"),
        ({"customer_id": "UNKNOWN", "invoice_id": "INV-1235"}, "CASC0302", "invoice_reference"),
        ({"description": "payment for invoice 0001234"}, "EVER0301", "invoice_reference"),
        ({"email": " AP@cascade.example"}, "CASC0302", "email"),
        ({"billing_name": "nguyen maya", "billing_zip": "83702-1234"}, "NGUY0305", "fuzzy_name_zip"),
        ({"billing_name": "Evergreen Landscaping Inc", "billing_zip": "99201"}, "EVER0301", "fuzzy_name_zip"),
    ],
)
def test_each_step_of_the_cascade(payment, customer_no, method):
    found, problems = resolve(payment)
    assert problems.empty
    row = only(found)
    assert (row["division"], row["customer_no"], row["method"]) == ("01", customer_no, method)
    assert 0 < row["score"] <= 100 and row["explanation"]


def test_vault_explanation_names_the_card():
    row = only(resolve({"customer_id": "CUST000012"})[0])
    assert row["explanation"] == "vault id CUST000012 is stored on 01-EVER0301"


def test_earlier_steps_win():
    # vault says EVER, email says CASC: the vault id is the stronger key and is taken.
    row = only(resolve({"customer_id": "CUST000012", "email": "ap@cascade.example"})[0])
    assert row["customer_no"] == "EVER0301"
    # invoice says EVER, email says CASC
    row = only(resolve({"invoice_id": "1234", "email": "ap@cascade.example"})[0])
    assert (row["customer_no"], row["method"]) == ("EVER0301", "invoice_reference")


def test_stored_link_beats_card_guid():
    stored = links({"customer_id": "SHARED", "customer_no": "CASC0302"})
    row = only(resolve({"customer_id": "SHARED"}, links_frame=stored)[0])
    assert (row["customer_no"], row["method"]) == ("CASC0302", "vault_id")
    assert "linked to" in row["explanation"]


@pytest.mark.parametrize(
    ("payment", "evidence"),
    [
        ({"customer_id": "SHARED"}, "vault id SHARED"),  # one vault id on two customers' cards
        ({"invoice_id": "1236"}, "invoice 0001236"),  # the same number open for two customers
        ({"email": "shared@ap.example"}, "e-mail shared@ap.example"),
        ({"billing_name": "Sam Smith", "billing_zip": "97205"}, "billing name"),  # Smith 100 vs Smyth 89
    ],
)
def test_ambiguous_is_an_exception_never_a_guess(payment, evidence):
    found, problems = resolve(payment, policy=MatchingPolicy(fuzzy_name_threshold=85, fuzzy_ambiguity_margin=15))
    assert found.empty
    row = only(problems)
    assert (row["kind"], row["severity"], row["transaction_id"]) == ("ambiguous_customer", "error", 1000)
    assert evidence in row["problem"] and "sage-paytrace link add" in row["action"]


def test_fuzzy_margin_decides_between_close_names():
    found, problems = resolve({"billing_name": "Sam Smith", "billing_zip": "97205"})
    assert only(found)["customer_no"] == "SMIT0303" and problems.empty


def test_fuzzy_requires_the_zip():
    found, problems = resolve({"billing_name": "Maya Nguyen", "billing_zip": "99999"})
    assert found.empty and only(problems)["kind"] == "unknown_customer"
    found, _ = resolve({"billing_name": "Maya Nguyen", "billing_zip": ""},
                       policy=MatchingPolicy(fuzzy_requires_zip=False))
    assert only(found)["customer_no"] == "NGUY0305"


def test_inactive_customers_are_not_matched_by_email_or_name():
    found, problems = resolve({"email": "closed@x.example"})
    assert found.empty and only(problems)["kind"] == "unknown_customer"


def test_vault_link_contradicted_by_the_invoice_is_a_conflict():
    found, problems = resolve({"customer_id": "CUST000012", "invoice_id": "INV-0001235"})
    assert found.empty
    row = only(problems)
    assert row["kind"] == "customer_conflict"
    assert "01-EVER0301" in row["problem"] and "01-CASC0302" in row["problem"] and "0001235" in row["problem"]


def test_vault_link_with_one_of_its_own_invoices_is_not_a_conflict():
    # the other invoice belongs to another customer: that is for invoice application to report
    found, problems = resolve({"customer_id": "CUST000012", "invoice_id": "1234, 1235"})
    assert only(found)["customer_no"] == "EVER0301" and problems.empty


def test_paid_invoice_does_not_identify_a_customer():
    found, problems = resolve({"invoice_id": "1299"})
    assert found.empty and only(problems)["kind"] == "unknown_customer"


def test_unknown_customer_or_customer_to_create():
    _, problems = resolve({"billing_name": "Nobody", "billing_zip": "11111", "email": "n@x.example"})
    row = only(problems)
    assert row["kind"] == "unknown_customer" and "n@x.example" in row["problem"]
    _, problems = resolve({"billing_name": "Nobody"}, policy=MatchingPolicy(auto_create_customers=True))
    assert (only(problems)["kind"], only(problems)["severity"]) == ("customer_to_create", "info")


def test_each_payment_gets_exactly_one_outcome():
    rows = [{"customer_id": "CUST000012"}, {"invoice_id": "1236"}, {"email": "ap@evergreen.example"}, {},
            {"invoice_id": "1235"}]
    found, problems = resolve(*rows)
    assert sorted([*found["transaction_id"], *problems["transaction_id"]]) == [1000, 1001, 1002, 1003, 1004]
    assert list(found.columns) == ["transaction_id", "division", "customer_no", "method", "score", "explanation"]
