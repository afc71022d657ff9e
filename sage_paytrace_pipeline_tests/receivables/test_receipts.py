"""`plan_receipts`: matched applications -> one valid `CardReceipt` per payment, or an exception row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.config import SageSettings
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.domain.matching.exceptions import EXCEPTION_COLUMNS
from sage_paytrace_pipeline.receivables.receipts import deposit_description, payment_type_for, plan_receipts
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline_tests.receivables.conftest import DAY, applications, payments

PAN = "4111 1111 1111 1111"


def test_two_invoices_and_a_prepayment_make_one_receipt_with_the_card_facts(settings):
    apps = applications(
        {"transaction_id": 5000, "customer_no": "COLU0036", "invoice_no": "0050082", "amount_cents": 4950},
        {"transaction_id": 5000, "customer_no": "COLU0036", "invoice_no": "0050084", "amount_cents": 100001},
        {"transaction_id": 5000, "customer_no": "COLU0036", "invoice_no": "PT05000", "invoice_type": "PP",
         "amount_cents": 7, "method": "prepayment"},
    )
    paid = payments({"amount_cents": 104958, "card_brand": "VISA", "card_last4": "5439", "approval_code": "TAS521",
                     "card_expiration_month": 4, "card_expiration_year": 2028, "billing_name": "  Ana Chen ",
                     "customer_id": "PTVAULT-1002"})

    plan = plan_receipts(apps, paid, settings, DAY)

    assert list(plan.exceptions.columns) == list(EXCEPTION_COLUMNS) and plan.exceptions.empty
    assert list(plan.receipts) == [5000]
    receipt = plan.receipts[5000]
    assert (receipt.transaction_id, receipt.division, receipt.customer_no) == ("5000", "01", "COLU0036")
    assert receipt.amount == Decimal("1049.58")
    assert receipt.lines == (
        ReceiptLine(invoice_no="0050082", invoice_type="IN", amount=Decimal("49.50")),
        ReceiptLine(invoice_no="0050084", invoice_type="IN", amount=Decimal("1000.01")),
        ReceiptLine(invoice_no="PT05000", invoice_type="IN", amount=Decimal("0.07"), prepayment=True),
    )
    assert [line.open_item_type for line in receipt.lines] == ["IN", "IN", "PP"]
    assert all(isinstance(line.amount, Decimal) for line in receipt.lines)
    assert (receipt.deposit_date, receipt.bank_code, receipt.payment_type) == (DAY, "A", "VISA")
    assert receipt.deposit_description == "PAYTRACE 2026-03-02 VISA"
    assert (receipt.authorization_no, receipt.last4, receipt.expiration_month, receipt.expiration_year) == (
        "TAS521", "5439", 4, 2028)
    assert receipt.card_type == "4"  # Sage's CardType code of VISA
    assert receipt.cardholder_name == "Ana Chen"
    assert receipt.credit_card_guid == "PTVAULT-1002"
    assert receipt.comment == "PayTrace 5000"


def test_one_receipt_per_payment_each_with_its_own_payment_type_and_deposit(settings):
    apps = applications(
        {"transaction_id": 5001, "customer_no": "B", "invoice_no": "0000002", "amount_cents": 250},
        {"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 125},
    )
    paid = payments({"card_brand": "VISA"}, {"card_brand": "MasterCard", "customer_id": None, "approval_code": None,
                                             "card_expiration_month": None, "card_expiration_year": None})

    plan = plan_receipts(apps, paid, settings, DAY)

    assert sorted(plan.receipts) == [5000, 5001]
    visa, mastercard = plan.receipts[5000], plan.receipts[5001]
    assert (visa.customer_no, visa.amount, visa.payment_type) == ("A", Decimal("1.25"), "VISA")
    assert (mastercard.customer_no, mastercard.amount, mastercard.payment_type) == ("B", Decimal("2.50"), "MC")
    assert mastercard.deposit_description == "PAYTRACE 2026-03-02 MC"
    assert mastercard.card_type == "5"
    # missing card facts stay blank instead of becoming "nan" or "<NA>"
    assert (mastercard.authorization_no, mastercard.credit_card_guid) == ("", "")
    assert (mastercard.expiration_month, mastercard.expiration_year) == (None, None)


def test_unmapped_brand_is_an_exception_naming_brand_and_config_key_and_no_receipt(settings):
    apps = applications(
        {"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 100},
        {"transaction_id": 5001, "customer_no": "B", "invoice_no": "0000002", "amount_cents": 200},
    )
    paid = payments({"card_brand": "VISA"}, {"card_brand": "JCB"})

    plan = plan_receipts(apps, paid, settings, DAY)

    assert list(plan.receipts) == [5000]
    assert plan.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["unmapped_payment_type", "error", 5001]]
    row = plan.exceptions.iloc[0]
    assert row["source_ids"] == "paytrace:5001 brand:JCB"
    assert "JCB card" in row["problem"] and "sage.payment_types" in row["problem"]
    assert "JCB" in row["action"] and "sage.payment_types" in row["action"]


def test_payment_without_brand_needs_an_unknown_mapping(settings):
    apps = applications({"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 100})
    paid = payments({"card_brand": None})

    unmapped = plan_receipts(apps, paid, settings, DAY)
    assert unmapped.receipts == {} and unmapped.exceptions["source_ids"].tolist() == ["paytrace:5000 brand:UNKNOWN"]

    mapped = plan_receipts(apps, paid, SageSettings(payment_types={"UNKNOWN": "VISA"}), DAY)
    assert mapped.exceptions.empty and mapped.receipts[5000].payment_type == "VISA"
    assert mapped.receipts[5000].card_type == ""


@pytest.mark.parametrize("change, field", [
    ({"invoice_no": "00500821"}, "invoice_no"),  # 8 characters; Sage's InvoiceNo holds 7
    ({"division": "1"}, "division"),
    ({"customer_no": ""}, "customer_no"),
])
def test_application_sage_would_refuse_is_receipt_invalid_and_others_go_on(settings, change, field):
    apps = applications(
        {"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 100, **change},
        {"transaction_id": 5001, "customer_no": "B", "invoice_no": "0000002", "amount_cents": 200},
    )
    plan = plan_receipts(apps, payments({}, {}), settings, DAY)

    assert list(plan.receipts) == [5001]
    assert plan.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["receipt_invalid", "error", 5000]]
    problem = plan.exceptions.iloc[0]["problem"]
    assert field in problem and "nothing was posted" in problem


def test_two_lines_on_the_same_invoice_are_refused_not_merged(settings):
    apps = applications(
        {"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 100},
        {"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 200},
    )
    plan = plan_receipts(apps, payments({}), settings, DAY)
    assert plan.receipts == {} and plan.exceptions["kind"].tolist() == ["receipt_invalid"]


def test_card_number_in_the_billing_name_is_masked(settings):
    apps = applications({"transaction_id": 5000, "customer_no": "A", "invoice_no": "0000001", "amount_cents": 100})
    plan = plan_receipts(apps, payments({"billing_name": f"Ana Chen {PAN}"}), settings, DAY)

    receipt = plan.receipts[5000]
    assert receipt.cardholder_name == "Ana Chen xxxxxxxxxxxx1111"
    assert find_card_numbers(receipt.model_dump_json()) == []


def test_no_applications_plan_nothing(settings):
    plan = plan_receipts(applications(), payments({}), settings, DAY)
    assert plan.receipts == {}
    assert plan.exceptions.empty and list(plan.exceptions.columns) == list(EXCEPTION_COLUMNS)


@pytest.mark.parametrize("brand, expected", [
    ("VISA", "VISA"), ("visa", "VISA"), ("MASTERCARD", "MC"), ("AMEX", "AMEX"), ("DISCOVER", "DISC"),
    ("JCB", None), (None, None), ("", None),
])
def test_payment_type_for(settings, brand, expected):
    assert payment_type_for(brand, settings) == expected


@pytest.mark.parametrize("template, payment_type, expected", [
    ("PAYTRACE {date} {payment_type}", "VISA", "PAYTRACE 2026-03-02 VISA"),
    ("PAYTRACE {date} {payment_type}", "DISC", "PAYTRACE 2026-03-02 DISC"),
    ("Cards {payment_type} {date}", "AMEX", "Cards AMEX 2026-03-02"),
    ("Batch {date} {date} {date}", "AMEX", "Batch 2026-03-02 2026-03-02 20"),  # cut to Sage's 30
])
def test_deposit_description(template, payment_type, expected):
    description = deposit_description(SageSettings(deposit_description=template), date(2026, 3, 2), payment_type)
    assert description == expected and len(description) <= 30
