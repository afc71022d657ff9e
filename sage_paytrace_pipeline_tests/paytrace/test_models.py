"""Parsing of PayTrace's wire quirks into typed models (reference §7-§9, docs/paytrace-wire.md)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sage_paytrace_pipeline.paytrace import CardInput, RetryPolicy, TransactionStatus, backoff_delay
from sage_paytrace_pipeline.paytrace.models import (
    derive_status,
    parse_batch,
    parse_settle_result,
    parse_transaction,
    parse_transaction_result,
    parse_vault_customer,
)

ZONE = ZoneInfo("America/Los_Angeles")

# Reference §8.1 recorded export record (S-JSONPAGES), verbatim shape.
RECORDED_EXPORT = """{"success":true,"response_code":1,"status_message":"Your request has been successfully completed.",
 "transactions":[{
   "transaction_id":79388123,
   "credit_card":{"masked_number":"************5454","expiration_month":12,"expiration_year":20},
   "transaction_type":"SALE","description":"","amount":110,"invoice_id":"inv1234",
   "shipping_address":{"name":"","street_address":"","street_address2":"","city":"","county":"",
                       "state":"","zip":"85284","country":"US"},
   "billing_address":{"name":"Kevin","street_address":"8320 E. West St.","street_address2":"",
                      "city":"Spokane","state":"WA","zip":"85284","country":"US"},
   "receipt_emailed_to":"","tax_amount":"8.10","customer_reference_id":"PO123456",
   "approval_code":"VTLMC1","approval_message":"EXACT MATCH - Approved and completed",
   "avs_response":"Full Exact Match","csc_response":"Match",
   "status_code":"GB571","status_message":"GB571",
   "created":{"through":"API","at":"4/10/2015 4:06:30 PM","by":"sandbox123","from_ip":"64.106.246.164"},
   "settled":"4/10/2015 8:13:45 PM","customer_id":""}],
 "external_transaction_id":""}"""


def recorded_record(**changes):
    record = json.loads(RECORDED_EXPORT, parse_float=Decimal)["transactions"][0]
    record.update(changes)
    return record


def test_recorded_export_record_parses_every_field():
    txn = parse_transaction(recorded_record(), ZONE)
    assert txn.transaction_id == 79388123
    assert txn.amount == Decimal("110.00") and str(txn.amount) == "110.00"
    assert txn.tax_amount == Decimal("8.10")
    assert txn.status is TransactionStatus.SETTLED and txn.batch_number == 571
    assert txn.created_at == datetime(2015, 4, 10, 16, 6, 30, tzinfo=ZONE)
    assert txn.created_at.utcoffset() is not None
    assert txn.created_raw == "4/10/2015 4:06:30 PM"
    assert txn.settled_at == datetime(2015, 4, 10, 20, 13, 45, tzinfo=ZONE)
    assert txn.card.masked_number == "************5454"
    assert txn.card.bin is None and txn.card.last4 == "5454"
    assert txn.card.expiration_month == 12 and txn.card.expiration_year == 2020
    assert txn.customer_id is None  # "" means no vault profile
    assert txn.billing_address.city == "Spokane" and txn.shipping_address.zip == "85284"
    assert (txn.created_through, txn.created_by, txn.created_from_ip) == ("API", "sandbox123", "64.106.246.164")
    assert txn.invoice_id == "inv1234" and txn.customer_reference_id == "PO123456"


def test_decimal_amounts_never_pass_through_float():
    record = recorded_record(amount=Decimal("51.88"))
    assert parse_transaction(record, ZONE).amount == Decimal("51.88")


@pytest.mark.parametrize(
    "masked, bin_, brand, normalised",
    [
        ("************5454", None, "UNKNOWN", "************5454"),
        ("xxxxxxxxxxxx5439", None, "UNKNOWN", "************5439"),
        ("401200******5439", "401200", "VISA", "401200******5439"),
        ("545454xxxxxx5454", "545454", "MASTERCARD", "545454******5454"),
    ],
)
def test_masks_with_x_or_star_and_optional_bin(masked, bin_, brand, normalised):
    masked_card = {"masked_number": masked, "expiration_month": 1, "expiration_year": 9}
    card = parse_transaction(recorded_record(credit_card=masked_card), ZONE).card
    assert (card.bin, card.brand, card.masked_number, card.last4) == (bin_, brand, normalised, masked[-4:])
    assert card.expiration_year == 2009


def test_full_card_number_in_a_record_is_reduced_to_bin_and_last4():
    card = parse_transaction(recorded_record(credit_card={"masked_number": "4012000098765439"}), ZONE).card
    assert card.masked_number == "401200******5439"


def test_card_numbers_in_description_are_masked():
    txn = parse_transaction(recorded_record(description="paid with 4012000098765439 by phone"), ZONE)
    assert "4012000098765439" not in txn.description and "5439" in txn.description


@pytest.mark.parametrize(
    "status_code, status_message, txn_type, expected, batch",
    [
        ("Y", "Pending Settlement", "SALE", TransactionStatus.PENDING, None),
        ("GB571", "GB571", "SALE", TransactionStatus.SETTLED, 571),
        ("Settled", "Settled", "SALE", TransactionStatus.SETTLED, None),
        ("N", "Voided", "SALE", TransactionStatus.VOIDED, None),
        ("N", "Declined", "SALE", TransactionStatus.DECLINED, None),
        ("N", "Authorization Only", "AUTHORIZATION", TransactionStatus.AUTHORIZED, None),
        ("N", "", "AUTHORIZATION", TransactionStatus.AUTHORIZED, None),
        ("N", "", "SALE", TransactionStatus.DECLINED, None),
        ("Y", "Pending Settlement", "AUTHORIZATION", TransactionStatus.PENDING, None),  # captured
    ],
)
def test_status_derivation(status_code, status_message, txn_type, expected, batch):
    assert derive_status(status_code, status_message, txn_type) == (expected, batch)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1/2/2026 9:05:07 AM", datetime(2026, 1, 2, 9, 5, 7)),
        ("12/31/2026 12:00:00 AM", datetime(2026, 12, 31, 0, 0, 0)),
        ("7/4/2026 12:30:00 PM", datetime(2026, 7, 4, 12, 30, 0)),
    ],
)
def test_timestamps_without_padding_are_merchant_zone(raw, expected):
    txn = parse_transaction(recorded_record(created={"at": raw}), ZONE)
    assert txn.created_at == expected.replace(tzinfo=ZONE)


def test_empty_tax_settled_and_customer_quirks():
    txn = parse_transaction(recorded_record(tax_amount="", settled="", customer_id="C-1", avs_response="0"), ZONE)
    assert txn.tax_amount is None and txn.settled_at is None and txn.settled_raw == ""
    assert txn.customer_id == "C-1"
    assert txn.avs_response is None  # legacy "0" means no AVS result


def test_transaction_is_frozen():
    txn = parse_transaction(recorded_record(), ZONE)
    with pytest.raises(ValidationError):
        txn.amount = Decimal("1.00")


def test_batch_with_brand_breakdown():
    raw = json.loads(
        '{"number":572,"created":"11/24/2026 8:00:03 PM","transaction_count":3,"net_amount":90.5,'
        '"sales_count":2,"sales_amount":100.5,"refund_count":1,"refund_amount":10,'
        '"card_brands":{"VISA":{"sales_count":2,"sales_amount":100.5,"refund_count":1,"refund_amount":10}}}',
        parse_float=Decimal,
    )
    batch = parse_batch(raw, ZONE)
    assert batch.number == 572 and batch.created_at == datetime(2026, 11, 24, 20, 0, 3, tzinfo=ZONE)
    assert batch.net_amount == Decimal("90.50") and batch.refund_amount == Decimal("10.00")
    assert batch.brands["VISA"].sales_amount == Decimal("100.50")


def test_vault_customer_and_results():
    customer = parse_vault_customer(
        {"customer_id": "C1",
         "credit_card": {"masked_number": "xxxxxxxxxxxx5439", "expiration_month": 3, "expiration_year": 27},
         "email": "a@b.c", "created": "11/24/2026 2:00:00 PM"},
        ZONE,
    )
    assert customer.card.last4 == "5439" and customer.card.expiration_year == 2027
    result = parse_transaction_result(
        {"success": True, "response_code": 101, "transaction_id": 125391271, "approval_code": "TAS445",
         "approval_message": "  NO  MATCH - Approved and completed", "avs_response": "No Match", "csc_response": "",
         "masked_card_number": "xxxxxxxxxxxx5439"},
        approved=True,
    )
    assert result.transaction_id == 125391271 and result.csc_response is None
    assert result.masked_card_number == "************5439" and not result.adopted
    settle = parse_settle_result({"success": True, "response_code": 175, "batch_number": None,
                                  "transaction_count": 0, "net_amount": 0})
    assert settle.batch_number is None and settle.net_amount == Decimal("0.00")


def test_card_input_hides_number_and_csc_everywhere():
    card = CardInput(number="4012 0000 9876 5439", expiration_month=12, expiration_year=28, csc="999")
    shown = [repr(card), str(card), str(card.model_dump()), card.model_dump_json(), f"{card}"]
    for text in shown:
        assert "4012000098765439" not in text and "999" not in text.replace("********", "")
    assert card.expiration_year == 2028
    assert card.to_wire() == {
        "credit_card": {"number": "4012000098765439", "expiration_month": "12", "expiration_year": "2028"},
        "csc": "999",
    }


def test_card_input_validation_error_does_not_echo_the_number():
    with pytest.raises(ValidationError) as caught:
        CardInput(number="4012000098765439", expiration_month=13, expiration_year=2028)
    assert "4012000098765439" not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        CardInput(number="4012-0000-9876-543x", expiration_month=1, expiration_year=2028)
    assert "9876" not in str(caught.value)


def test_backoff_is_exponential_capped_and_honours_retry_after():
    assert RetryPolicy().model_dump() == {"max_attempts": 6, "base_delay": 1.0, "max_delay": 30.0, "jitter": True,
                                          "money_max_attempts": 3}
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=False)
    assert [backoff_delay(policy, n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff_delay(policy, 1, retry_after=5.0) == 5.0
    jittered = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=True)
    assert all(0.0 <= backoff_delay(jittered, 3) <= 4.0 for _ in range(50))
