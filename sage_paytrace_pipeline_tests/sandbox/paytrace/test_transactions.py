"""The v1 transaction state machine: sale, authorization, capture, void, refund, declines, errors."""

from decimal import Decimal

import pytest

VISA = "4012000098765439"
MASTERCARD = "5499740000000057"
AMEX = "371449635392376"


def keyed(amount="25.00", number=VISA, **extra):
    return {"amount": amount, "csc": "999", "invoice_id": "INV-1001",
            "credit_card": {"number": number, "expiration_month": "12", "expiration_year": "2028"},
            "billing_address": {"name": "Kevin Example", "zip": "99201"}, **extra}


def settle(api):
    status, body = api.post("/v1/transactions/settle")
    assert status == 200 and body["response_code"] == 175
    return body


def record(api, transaction_id):
    status, body = api.post("/v1/transactions/export/by_id", {"transaction_id": transaction_id})
    assert status == 200, body
    return body["transactions"][0]


def test_keyed_sale_is_approved_with_id_code_and_masked_number(paytrace_api):
    status, body = paytrace_api.post("/v1/transactions/sale/keyed", keyed())
    assert status == 200
    assert body["success"] is True and body["response_code"] == 101
    assert body["status_message"] == "Your transaction was successfully approved."
    assert isinstance(body["transaction_id"], int) and len(str(body["transaction_id"])) == 9
    assert body["approval_code"].startswith("TAS") and len(body["approval_code"]) == 6
    assert body["masked_card_number"] == "xxxxxxxxxxxx5439"
    assert body["avs_response"] == "Full Exact Match" and body["csc_response"] == "Match"
    assert body["external_transaction_id"] == ""
    second = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]
    assert second["transaction_id"] == body["transaction_id"] + 1


@pytest.mark.parametrize(("amount", "number", "message"), [
    ("1.12", VISA, "    DECLINE - Do not honor"),
    ("0.29", VISA, "    DECLINE - Do not honor"),
    ("0.29", MASTERCARD, "  EXPIRED CARD - Expired card"),
])
def test_trigger_amounts_decline_with_an_id_and_export_as_n(paytrace_api, amount, number, message):
    status, body = paytrace_api.post("/v1/transactions/sale/keyed", keyed(amount, number))
    assert status == 200
    assert body["success"] is False and body["response_code"] == 102
    assert body["approval_code"] == "" and body["approval_message"] == message
    exported = record(paytrace_api, body["transaction_id"])
    assert (exported["status_code"], exported["status_message"]) == ("N", "Declined")


def test_decline_http_status_is_configurable(paytrace_api):
    paytrace_api.handle.engine.update_settings(decline_http_status=400)
    assert paytrace_api.post("/v1/transactions/sale/keyed", keyed("1.12"))[0] == 400


def test_bad_card_fields_come_back_together_as_400(paytrace_api):
    body = keyed(number="4012000098765438")  # Luhn fails
    body["credit_card"].update(expiration_month="13", expiration_year="1999")
    status, answer = paytrace_api.post("/v1/transactions/sale/keyed", body)
    assert status == 400
    assert answer["success"] is False and answer["response_code"] == 1
    assert answer["status_message"] == "One or more errors has occurred."
    assert set(answer["errors"]) == {"35", "43", "44"}
    assert answer["errors"]["35"] == ["Please provide a valid Credit Card Number."]


@pytest.mark.parametrize("amount", ["", "abc", "0", "-5.00", "1.234"])
def test_bad_amounts_are_rejected(paytrace_api, amount):
    status, answer = paytrace_api.post("/v1/transactions/sale/keyed", keyed(amount))
    assert status == 400 and set(answer["errors"]) == {"39"}


def test_expired_card_is_error_44(paytrace_api):
    body = keyed()
    body["credit_card"].update(expiration_month="2", expiration_year="2026")  # clock is March 2026
    assert set(paytrace_api.post("/v1/transactions/sale/keyed", body)[1]["errors"]) == {"44"}


def test_void_while_pending_then_818_after_settlement(paytrace_api):
    voided = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    status, body = paytrace_api.post("/v1/transactions/void", {"transaction_id": voided})
    assert status == 200 and body["response_code"] == 109 and body["transaction_id"] == voided
    assert record(paytrace_api, voided)["status_message"] == "Voided"
    assert "818" in paytrace_api.post("/v1/transactions/void", {"transaction_id": voided})[1]["errors"]
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    settle(paytrace_api)
    status, body = paytrace_api.post("/v1/transactions/void", {"transaction_id": sale})
    assert status == 400
    assert body["errors"]["818"][0].startswith("The Transaction ID that you provided could not be voided")


def test_refund_is_817_before_settlement_and_106_with_a_new_id_after(paytrace_api):
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed("40.00"))[1]["transaction_id"]
    status, body = paytrace_api.post("/v1/transactions/refund/for_transaction", {"transaction_id": sale})
    assert status == 400
    assert body["errors"]["817"] == ["The Transaction ID that you provided could not be refunded. Only settled "
                                     "transactions can be refunded.  Please try to void the transaction instead."]
    settle(paytrace_api)
    status, body = paytrace_api.post("/v1/transactions/refund/for_transaction",
                                     {"transaction_id": sale, "invoice_id": "RF-1"})
    assert status == 200 and body["response_code"] == 106
    assert body["transaction_id"] != sale and body["masked_card_number"] == "xxxxxxxxxxxx5439"
    refund = record(paytrace_api, body["transaction_id"])
    assert refund["transaction_type"] == "REFUND" and refund["amount"] == Decimal("40")
    assert refund["invoice_id"] == "RF-1" and refund["status_code"] == "Y"


def test_partial_refunds_up_to_the_remaining_amount(paytrace_api):
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed("10.00"))[1]["transaction_id"]
    settle(paytrace_api)
    refund = "/v1/transactions/refund/for_transaction"
    assert paytrace_api.post(refund, {"transaction_id": sale, "amount": "4.00"})[1]["response_code"] == 106
    assert "817" in paytrace_api.post(refund, {"transaction_id": sale, "amount": "6.01"})[1]["errors"]
    _status, body = paytrace_api.post(refund, {"transaction_id": sale})  # the rest: 6.00
    assert body["response_code"] == 106
    assert record(paytrace_api, body["transaction_id"])["amount"] == Decimal("6")
    assert "817" in paytrace_api.post(refund, {"transaction_id": sale, "amount": "0.01"})[1]["errors"]


def test_voided_refund_frees_its_amount_again(paytrace_api):
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed("10.00"))[1]["transaction_id"]
    settle(paytrace_api)
    refund = paytrace_api.post("/v1/transactions/refund/for_transaction", {"transaction_id": sale})[1]
    assert paytrace_api.post("/v1/transactions/void", {"transaction_id": refund["transaction_id"]})[0] == 200
    again = paytrace_api.post("/v1/transactions/refund/for_transaction", {"transaction_id": sale})[1]
    assert again["response_code"] == 106


def test_capture_once_then_816_and_partial_capture(paytrace_api):
    status, auth = paytrace_api.post("/v1/transactions/authorization/keyed", keyed("50.00"))
    assert auth["response_code"] == 101
    assert record(paytrace_api, auth["transaction_id"])["status_message"] == "Authorization Only"
    capture = "/v1/transactions/authorization/capture"
    too_much = {"transaction_id": auth["transaction_id"], "amount": "50.01"}
    assert "39" in paytrace_api.post(capture, too_much)[1]["errors"]
    status, body = paytrace_api.post(capture, {"transaction_id": auth["transaction_id"], "amount": "30.00"})
    assert status == 200 and body["response_code"] == 112 and body["transaction_id"] == auth["transaction_id"]
    captured = record(paytrace_api, auth["transaction_id"])
    assert captured["transaction_type"] == "AUTHORIZATION" and captured["amount"] == Decimal("30")
    assert captured["status_code"] == "Y"
    assert "816" in paytrace_api.post(capture, {"transaction_id": auth["transaction_id"]})[1]["errors"]
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    assert "816" in paytrace_api.post(capture, {"transaction_id": sale})[1]["errors"]


def test_open_authorization_can_be_voided_and_is_never_batched(paytrace_api):
    auth = paytrace_api.post("/v1/transactions/authorization/keyed", keyed())[1]["transaction_id"]
    assert settle(paytrace_api)["batch_number"] is None
    assert paytrace_api.post("/v1/transactions/void", {"transaction_id": auth})[1]["response_code"] == 109


@pytest.mark.parametrize("route", ["/v1/transactions/void", "/v1/transactions/authorization/capture",
                                   "/v1/transactions/refund/for_transaction", "/v1/transactions/export/by_id"])
def test_unknown_id_is_811_and_blank_id_is_58(paytrace_api, route):
    assert paytrace_api.post(route, {"transaction_id": 999999999})[1]["errors"] == {
        "811": ["The Transaction ID that you provided was not found."]}
    status, body = paytrace_api.post(route, {"transaction_id": ""})
    assert status == 400 and body["errors"] == {"58": ["Please provide a valid Transaction ID."]}


def test_sale_by_customer_and_by_transaction_omit_the_masked_number(paytrace_api):
    paytrace_api.post("/v1/customer/create", {"customer_id": "C-1", "credit_card": {
        "number": MASTERCARD, "expiration_month": 5, "expiration_year": 2029},
        "billing_address": {"name": "Ann Buyer", "zip": "99201"}, "email": "ann@example.com"})
    status, body = paytrace_api.post("/v1/transactions/sale/by_customer", {"customer_id": "C-1", "amount": 12})
    assert status == 200 and body["response_code"] == 101 and "masked_card_number" not in body
    exported = record(paytrace_api, body["transaction_id"])
    assert exported["customer_id"] == "C-1" and exported["credit_card"]["masked_number"] == "************0057"
    assert exported["email"] == "ann@example.com" and exported["billing_address"]["name"] == "Ann Buyer"
    status, again = paytrace_api.post("/v1/transactions/sale/by_transaction",
                                      {"transaction_id": body["transaction_id"], "amount": "3.50"})
    assert again["response_code"] == 101 and again["transaction_id"] != body["transaction_id"]
    assert record(paytrace_api, again["transaction_id"])["credit_card"]["masked_number"].endswith("0057")
    missing = paytrace_api.post("/v1/transactions/sale/by_customer", {"customer_id": "nobody", "amount": 1})[1]
    assert missing["errors"] == {"30": ["Customer ID, nobody, was not found or is incomplete."]}


def test_refund_to_customer_and_keyed_refund(paytrace_api):
    paytrace_api.post("/v1/customer/create", {"customer_id": "C-2", "credit_card": {
        "number": VISA, "expiration_month": 5, "expiration_year": 2029}})
    assert paytrace_api.post("/v1/transactions/refund/to_customer",
                             {"customer_id": "C-2", "amount": "7.25"})[1]["response_code"] == 106
    _status, body = paytrace_api.post("/v1/transactions/refund/keyed", keyed("8.00"))
    assert body["response_code"] == 106 and body["masked_card_number"] == "xxxxxxxxxxxx5439"


def test_email_receipt_is_149_and_recorded(paytrace_api):
    sale = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    _status, body = paytrace_api.post("/v1/transactions/email_receipt",
                                      {"transaction_id": sale, "email": "kevin@example.com"})
    assert body == {"success": True, "response_code": 149, "status_message":
                    f"The receipt for transaction ID {sale} was successfully emailed to kevin@example.com."}
    assert record(paytrace_api, sale)["receipt_emailed_to"] == "kevin@example.com"


def test_avs_no_match_can_auto_void_with_103(paytrace_api):
    plain = paytrace_api.post("/v1/transactions/sale/keyed", keyed(billing_address={"zip": "99999"}))[1]
    assert plain["response_code"] == 101 and plain["avs_response"] == "No Match"
    paytrace_api.handle.engine.update_settings(auto_void_on_avs_no_match=True)
    status, body = paytrace_api.post("/v1/transactions/sale/keyed", keyed(billing_address={"zip": "99999"}))
    assert status == 200 and body["response_code"] == 103
    assert record(paytrace_api, body["transaction_id"])["status_message"] == "Voided"


def test_amex_gets_no_csc_result(paytrace_api):
    body = paytrace_api.post("/v1/transactions/sale/keyed", keyed(number=AMEX))[1]
    assert body["csc_response"] == "" and body["masked_card_number"] == "xxxxxxxxxxx2376"


def test_settle_reports_batch_and_nothing_to_settle(paytrace_api):
    paytrace_api.post("/v1/transactions/sale/keyed", keyed("10.00"))
    paytrace_api.post("/v1/transactions/sale/keyed", keyed("2.50"))
    body = settle(paytrace_api)
    assert body["status_message"] == "The batch was successfully settled."
    assert (body["batch_number"], body["transaction_count"], body["net_amount"]) == (1, 2, Decimal("12.5"))
    empty = settle(paytrace_api)
    assert empty == {"success": True, "response_code": 175, "status_message": "There were no transactions to settle.",
                     "batch_number": None, "transaction_count": 0, "net_amount": 0}


def test_engine_call_works_without_http(paytrace_sandbox):
    status, body = paytrace_sandbox.engine.call("/v1/transactions/sale/keyed", keyed(Decimal("3.00")))
    assert status == 200 and body["response_code"] == 101
    status, body = paytrace_sandbox.engine.call("/v1/no/such/route", {})
    assert status == 404
