"""One business day around the matching core: vault details in, payments already in Sage carried, not re-matched."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.invoices import APPLICATION_COLUMNS
from sage_paytrace_pipeline.paytrace.frames import VAULT_CUSTOMER_COLUMNS
from sage_paytrace_pipeline.receivables.day import carried_forward, match_business_day, with_vault_details
from sage_paytrace_pipeline.receivables.posting_log import Intent
from sage_paytrace_pipeline_tests.domain.matching.builders import cards, customers, invoices, links
from sage_paytrace_pipeline_tests.receivables.conftest import DAY, payments

CUSTOMERS = customers(
    {"customer_no": "EVER0301", "name": "Evergreen Landscaping", "zip_code": "99201"},
    {"customer_no": "NGUY0305", "name": "Maya Nguyen", "zip_code": "83702"},
)
CARDS = cards({"customer_no": "EVER0301", "credit_card_guid": "PTV-EVER"})
# 0001234 was paid in full by the earlier payment 5000: Sage shows it closed, only 0001235 is open.
OPEN = invoices({"customer_no": "EVER0301", "invoice_no": "0001235", "balance_cents": 2500},
                {"customer_no": "NGUY0305", "invoice_no": "0001299", "balance_cents": 4000})


def vault(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame([{"business_date": DAY, **row} for row in rows], columns=list(VAULT_CUSTOMER_COLUMNS))
    return frame.astype({k: v for k, v in VAULT_CUSTOMER_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def posted(transaction_id: int = 5000, *, lines: list[tuple[str, int]] = (("0001234", 10000),),
           link: dict | None = None) -> Intent:
    """What the posting log holds for a payment posted in an earlier run."""
    return Intent(
        transaction_id=transaction_id, business_date=DAY, division="01", customer_no="EVER0301",
        amount_cents=sum(cents for _, cents in lines), payment_type="VISA", payload_sha256="a" * 64,
        applications_json=json.dumps([{"invoice_no": invoice, "invoice_type": "IN", "amount_cents": cents,
                                       "method": "invoice_id_exact", "score": 100.0,
                                       "explanation": f"invoice id {invoice} on the payment"}
                                      for invoice, cents in lines]),
        link_json=json.dumps({"method": "vault_id", "score": 100.0, "explanation": "vault id PTV-EVER"}
                             if link is None else link),
    )


def blank(value) -> bool:
    return value is None or pd.isna(value) or not str(value).strip()


# ------------------------------------------------------------------------------ vault details


def test_blank_details_of_vault_payments_are_filled_from_the_vault():
    paid = payments(
        {"customer_id": "PTV-1", "billing_name": "", "billing_zip": None, "email": "  "},  # all blank
        {"customer_id": "PTV-1", "billing_name": "Own Name", "billing_zip": "11111", "email": "own@x.example"},
        {"customer_id": None, "billing_name": "", "billing_zip": None},  # not a vault payment
        {"customer_id": "PTV-404", "billing_name": ""},  # vault customer not in the vault export
    )
    details = vault({"customer_id": "PTV-1", "billing_name": "Maya Nguyen", "billing_zip": "83702",
                     "email": "maya@x.example"},
                    {"customer_id": "PTV-1", "billing_name": "Later Duplicate", "billing_zip": "0", "email": "d@x"})

    filled = with_vault_details(paid, details)

    rows = filled[["billing_name", "billing_zip", "email"]].values.tolist()
    assert rows[0] == ["Maya Nguyen", "83702", "maya@x.example"]
    assert rows[1] == ["Own Name", "11111", "own@x.example"]  # the payment's own details win
    assert all(blank(value) for value in rows[2] + rows[3])
    assert filled["transaction_id"].tolist() == paid["transaction_id"].tolist()
    assert paid.loc[0, "billing_name"] == ""  # the input frame is not changed


def test_no_vault_or_no_payments_is_a_no_op():
    paid = payments({"customer_id": "PTV-1", "billing_name": ""})
    assert with_vault_details(paid, vault()) is paid
    assert with_vault_details(paid.iloc[0:0], vault({"customer_id": "PTV-1", "billing_name": "X"})).empty


# --------------------------------------------------------------------------- match_business_day


def day(paid: pd.DataFrame, earlier: dict[int, Intent], details: pd.DataFrame | None = None,
        policy: MatchingPolicy | None = None):
    return match_business_day(paid, vault() if details is None else details, CUSTOMERS, CARDS, OPEN, links=links(),
                              policy=policy or MatchingPolicy(), earlier=earlier)


def test_payments_in_sage_are_carried_from_the_log_and_the_rest_matched():
    paid = payments(
        {"transaction_id": 5000, "customer_id": "PTV-EVER", "invoice_id": "0001234", "amount_cents": 10000},
        {"transaction_id": 5001, "customer_id": "PTV-EVER", "invoice_id": "0001235", "amount_cents": 2500},
    )

    result = day(paid, {5000: posted()})

    apps = result.applications
    assert list(apps.columns) == [*APPLICATION_COLUMNS, "posted_earlier"]
    assert apps[["transaction_id", "customer_no", "invoice_no", "amount_cents", "posted_earlier"]].values.tolist() == [
        [5000, "EVER0301", "0001234", 10000, True],  # as the log recorded it, though 0001234 is closed now
        [5001, "EVER0301", "0001235", 2500, False]]
    assert apps["transaction_id"].dtype == "int64" and apps["amount_cents"].dtype == "int64"
    assert apps.loc[0, "explanation"] == "invoice id 0001234 on the payment"
    links_ = result.customer_links
    assert links_[["transaction_id", "customer_no", "method", "posted_earlier"]].values.tolist() == [
        [5000, "EVER0301", "vault_id", True], [5001, "EVER0301", "vault_id", False]]
    assert links_.loc[0, "explanation"] == "vault id PTV-EVER"
    assert result.exceptions.empty  # 5000 is not re-matched against the closed invoice
    assert result.skipped_counts["posted_earlier"] == 1


def test_without_earlier_postings_the_day_is_matched_as_is():
    paid = payments({"transaction_id": 5001, "customer_id": "PTV-EVER", "invoice_id": "0001235", "amount_cents": 2500})
    result = day(paid, {})
    assert result.applications[["transaction_id", "posted_earlier"]].values.tolist() == [[5001, False]]
    assert result.skipped_counts["posted_earlier"] == 0 and result.exceptions.empty


def test_a_day_whose_payments_are_all_in_sage_is_carried_whole():
    paid = payments({"transaction_id": 5000, "customer_id": "PTV-EVER", "invoice_id": "0001234",
                     "amount_cents": 10001},
                    {"transaction_id": 5002, "customer_id": "PTV-EVER", "amount_cents": 500})
    earlier = {5000: posted(lines=[("0001234", 10000), ("0001235", 1)]),
               5002: posted(5002, lines=[("PT05002", 500)], link={})}

    result = day(paid, earlier)

    assert result.applications[["transaction_id", "invoice_no", "amount_cents", "posted_earlier"]].values.tolist() == [
        [5000, "0001234", 10000, True], [5000, "0001235", 1, True], [5002, "PT05002", 500, True]]
    assert result.applications.groupby("transaction_id")["amount_cents"].sum().to_dict() == {5000: 10001, 5002: 500}
    assert result.applications["transaction_id"].dtype == "int64"
    assert result.customer_links[["transaction_id", "method", "explanation"]].values.tolist() == [
        [5000, "vault_id", "vault id PTV-EVER"], [5002, "posted_earlier", "posted in an earlier run"]]
    assert result.exceptions.empty and result.skipped_counts["posted_earlier"] == 2


def test_vault_details_reach_matching():
    """A vault payment without a billing name matches by the vault's name and ZIP (then by amount)."""
    paid = payments({"transaction_id": 5003, "customer_id": "PTV-NEW", "billing_name": "", "billing_zip": None,
                     "amount_cents": 4000})
    details = vault({"customer_id": "PTV-NEW", "billing_name": "Maya Nguyen", "billing_zip": "83702"})

    result = day(paid, {}, details)

    assert result.customer_links[["transaction_id", "customer_no", "method"]].values.tolist() == [
        [5003, "NGUY0305", "fuzzy_name_zip"]]
    assert result.applications[["invoice_no", "amount_cents"]].values.tolist() == [["0001299", 4000]]
    without = day(paid, {}, vault({"customer_id": "PTV-OTHER", "billing_name": "Maya Nguyen", "billing_zip": "83702"}))
    assert without.applications.empty and 5003 in without.exceptions["transaction_id"].tolist()


@pytest.mark.parametrize("status", ["VOIDED", "DECLINED", "voided"])
def test_a_posted_payment_now_voided_is_an_exception_and_still_carried(status):
    paid = payments(
        {"transaction_id": 5000, "status": status, "customer_id": "PTV-EVER", "invoice_id": "0001234"},
        {"transaction_id": 5001, "status": "VOIDED", "customer_id": "PTV-EVER", "invoice_id": "0001235",
         "amount_cents": 2500},  # voided but never posted: matching skips it, no reversal needed
    )

    result = day(paid, {5000: posted()})

    assert result.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["posted_then_voided", "error", 5000]]
    row = result.exceptions.iloc[0]
    assert row["source_ids"] == "paytrace:5000"
    assert row["problem"] == (f"transaction 5000 is in Sage as a cash receipt of 01-EVER0301 but PayTrace now shows "
                              f"it {status.lower()}; the customer's balance is understated")
    assert "Reverse the receipt in Sage" in row["action"] and "5000" in row["action"]
    assert result.applications[["transaction_id", "posted_earlier"]].values.tolist() == [[5000, True]]


REFUND_FLOW = MatchingPolicy(refund_flow=True)


def test_with_the_refund_flow_a_posted_payment_now_voided_is_left_to_it_and_still_carried():
    paid = payments({"transaction_id": 5000, "status": "VOIDED", "customer_id": "PTV-EVER", "invoice_id": "0001234"})

    result = day(paid, {5000: posted()}, policy=REFUND_FLOW)

    assert result.exceptions.empty  # the refund flow reverses the receipt (PT-V5000) and reports what it cannot
    assert result.applications[["transaction_id", "posted_earlier"]].values.tolist() == [[5000, True]]


def test_with_the_refund_flow_a_posted_payment_now_declined_is_still_an_exception():
    paid = payments({"transaction_id": 5000, "status": "DECLINED", "customer_id": "PTV-EVER", "invoice_id": "0001234"})

    result = day(paid, {5000: posted()}, policy=REFUND_FLOW)

    assert result.exceptions[["kind", "transaction_id"]].values.tolist() == [["posted_then_voided", 5000]]


@pytest.mark.parametrize("refund_flow", [False, True], ids=["flow_off", "flow_on"])
def test_refunds_are_exceptions_only_without_the_refund_flow(refund_flow):
    paid = payments(
        {"transaction_id": 5000, "customer_id": "PTV-EVER", "invoice_id": "0001235", "amount_cents": 2500},
        {"transaction_id": 5001, "transaction_type": "REFUND", "amount_cents": 1500, "customer_id": "PTV-EVER"},
        {"transaction_id": 5002, "transaction_type": "REFUND", "status": "VOIDED", "amount_cents": 700},
    )

    result = day(paid, {}, policy=MatchingPolicy(refund_flow=refund_flow))

    assert result.applications[["transaction_id", "invoice_no"]].values.tolist() == [[5000, "0001235"]]
    if refund_flow:
        assert result.exceptions.empty
        assert result.skipped_counts == {"refund_flow": 1, "voided": 1, "posted_earlier": 0}
    else:
        assert result.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
            ["refund_not_posted", "warning", 5001]]
        assert result.skipped_counts == {"voided": 1, "posted_earlier": 0}


# ----------------------------------------------------------------------------- carried_forward


def test_carried_forward_rebuilds_links_and_applications_from_the_log():
    links_, apps = carried_forward({5002: posted(5002, lines=[("0001299", 1)], link={}),
                                    5000: posted(lines=[("0001234", 10000), ("0001235", 2)])})
    assert links_.to_dict("records") == [
        {"transaction_id": 5000, "division": "01", "customer_no": "EVER0301", "method": "vault_id", "score": 100.0,
         "explanation": "vault id PTV-EVER"},
        {"transaction_id": 5002, "division": "01", "customer_no": "EVER0301", "method": "posted_earlier",
         "score": 100.0, "explanation": "posted in an earlier run"}]
    assert apps[["transaction_id", "invoice_no", "invoice_type", "amount_cents", "method"]].values.tolist() == [
        [5000, "0001234", "IN", 10000, "invoice_id_exact"], [5000, "0001235", "IN", 2, "invoice_id_exact"],
        [5002, "0001299", "IN", 1, "invoice_id_exact"]]
    empty_links, empty_apps = carried_forward({})
    assert empty_links.empty and empty_apps.empty
