"""Error classification from the JSON envelope, never from HTTP status alone."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.paytrace import (
    PayTraceAuthenticationError,
    PayTraceCustomerNotFound,
    PayTraceDeclined,
    PayTraceDuplicateCustomer,
    PayTraceError,
    PayTraceNotCapturable,
    PayTraceNotFound,
    PayTraceNotRefundable,
    PayTraceNotVoidable,
    PayTraceValidationError,
    error_from_body,
)

ERR = "One or more errors has occurred."


def validation(*codes: str) -> dict:
    return {"success": False, "response_code": 1, "status_message": ERR, "errors": {c: [f"message {c}"] for c in codes}}


def decline(code: int, success: bool = False) -> dict:
    return {"success": success, "response_code": code, "status_message": "Your transaction was not approved.",
            "transaction_id": 392501201, "approval_message": "    DECLINE - Do not honor"}


@pytest.mark.parametrize(
    "body, http_status, expected",
    [
        (decline(102), 200, PayTraceDeclined),
        (decline(102), 400, PayTraceDeclined),
        (decline(103, success=True), 200, PayTraceDeclined),  # auto-voided: not approved despite success
        (decline(105), 200, PayTraceDeclined),
        (decline(107), 200, PayTraceDeclined),
        (decline(110), 200, PayTraceDeclined),
        (decline(113), 200, PayTraceDeclined),
        (decline(125), 200, PayTraceDeclined),
        (validation("35", "43"), 400, PayTraceValidationError),
        (validation("58"), 200, PayTraceValidationError),
        (validation("811"), 400, PayTraceNotFound),
        (validation("812"), 400, PayTraceNotFound),
        (validation("30"), 400, PayTraceCustomerNotFound),
        (validation("817"), 400, PayTraceNotRefundable),
        (validation("818"), 400, PayTraceNotVoidable),
        (validation("816"), 400, PayTraceNotCapturable),
        (validation("171"), 400, PayTraceDuplicateCustomer),
        (validation("981"), 400, PayTraceAuthenticationError),
        (validation("998"), 200, PayTraceAuthenticationError),
        # Precedence: most specific wins when codes come together.
        (validation("35", "811"), 400, PayTraceNotFound),
        (validation("171", "817"), 400, PayTraceNotRefundable),
        (validation("44", "171"), 400, PayTraceDuplicateCustomer),
        (validation("811", "981"), 400, PayTraceAuthenticationError),
        ({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid"}, 400,
         PayTraceAuthenticationError),
        ({"error": "invalid_token", "error_description": "The access token expired"}, 401, PayTraceAuthenticationError),
        ({"success": False, "response_code": 1, "status_message": ERR}, 400, PayTraceValidationError),
        ({"success": False, "response_code": 999, "status_message": "odd"}, 200, PayTraceError),
    ],
)
def test_classification_table(body, http_status, expected):
    error = error_from_body(body, http_status=http_status, route="/v1/x")
    assert type(error) is expected
    assert error.http_status == http_status and error.route == "/v1/x"


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "response_code": 101, "status_message": "Your transaction was successfully approved."},
        {"success": True, "response_code": 1, "status_message": "Your request has been successfully completed."},
        {"success": True, "response_code": 175, "status_message": "The batch was successfully settled."},
    ],
)
def test_success_bodies_are_not_errors_even_with_4xx_status(body):
    assert error_from_body(body, http_status=200, route="/v1/x") is None


def test_decline_carries_transaction_id_and_approval_message():
    error = error_from_body(decline(102), http_status=200, route="/v1/transactions/sale/keyed")
    assert error.transaction_id == 392501201
    assert error.approval_message == "DECLINE - Do not honor"
    assert error.response_code == 102


def test_validation_error_codes_and_subclassing():
    error = error_from_body(validation("35", "43"), http_status=400, route="/v1/x")
    assert error.codes == frozenset({35, 43})
    assert isinstance(error_from_body(validation("30"), http_status=400, route="r"), PayTraceNotFound)
    assert isinstance(error_from_body(validation("817"), http_status=400, route="r"), PayTraceValidationError)


def test_error_text_and_repr_are_scrubbed():
    body = validation("35")
    body["errors"]["35"] = ["Please provide a valid Credit Card Number: 4012000098765439"]
    body["status_message"] = "bad card 4012000098765439 Bearer abc:def:ghi"
    error = error_from_body(body, http_status=400, route="/v1/transactions/sale/keyed")
    for shown in (str(error), repr(error), error.message, str(error.errors), str(error.args)):
        assert "4012000098765439" not in shown and "abc:def:ghi" not in shown
