"""PayTraceClient against an in-memory PayTrace (httpx.MockTransport): auth, retries, reconcile, scrubbing."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import httpx
import pytest

from sage_paytrace_pipeline.paytrace import (
    Address,
    CardInput,
    PayTraceAuthenticationError,
    PayTraceClient,
    PayTraceDeclined,
    PayTraceDuplicateCustomer,
    PayTraceIndeterminateError,
    PayTraceNotFound,
    PayTraceNotRefundable,
    PayTraceTransientError,
    PayTraceValidationError,
    RetryPolicy,
    TransactionStatus,
)

from .conftest import HTML_BLOCK, PASSWORD, TOKEN_PREFIX, VISA, wire_error, wire_json

SALE = "/v1/transactions/sale/keyed"
REFUND = "/v1/transactions/refund/for_transaction"
EXPORT = "/v1/transactions/export/by_date_range"
TOKEN = "/oauth/token"
DAY = date(2026, 11, 24)


@pytest.fixture
def card() -> CardInput:
    return CardInput(number=VISA, expiration_month=12, expiration_year=2028, csc="999")


def http_503(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="<html>Service Unavailable</html>", headers={"content-type": "text/html"})


# ------------------------------------------------------------------ construction


def test_refuses_plain_http_except_loopback():
    with pytest.raises(ValueError):
        PayTraceClient("http://api.paytrace.com", username="u", password="p")
    PayTraceClient("http://127.0.0.1:8123", username="u", password="p").close()
    PayTraceClient("http://localhost:8123", username="u", password="p").close()
    PayTraceClient("http://sandbox.internal", username="u", password="p", allow_insecure_http=True).close()


def test_default_read_timeout_is_generous():
    with PayTraceClient(username="u", password="p") as client:
        assert client._session.http.timeout.read >= 60


# ------------------------------------------------------------------ auth


def test_token_is_form_encoded_cached_and_sent_with_integrator_id(client, fake):
    client.export_transactions(DAY, DAY)
    client.export_transactions(DAY, DAY)
    token_calls = [r for r in fake.requests if r[0] == TOKEN]
    assert len(token_calls) == 1
    assert token_calls[0][2]["content-type"].startswith("application/x-www-form-urlencoded")
    assert token_calls[0][1] == {"grant_type": "password", "username": "api_user", "password": PASSWORD}
    v1_calls = [r for r in fake.requests if r[0].startswith("/v1/")]
    assert all(body["integrator_id"] == "INTEGRATOR12" for _, body, _ in v1_calls)
    assert all(headers["authorization"].startswith(f"Bearer {TOKEN_PREFIX}") for _, _, headers in v1_calls)
    assert fake.calls(EXPORT)[0]["start_date"] == "11/24/2026"


def test_token_renewed_before_expiry_minus_margin(client, fake, clock):
    client.export_transactions(DAY, DAY)
    clock.advance(7200 - 300 - 1)
    client.export_transactions(DAY, DAY)
    assert fake.token_count == 1
    clock.advance(2)
    client.export_transactions(DAY, DAY)
    assert fake.token_count == 2


def test_token_lifetime_starts_at_servers_created_at_when_earlier(make_client, fake, clock):
    fake.send_created_at = True
    original = fake._token

    def issued_a_minute_ago(body):
        response = original(body)
        payload = response.json()
        payload["created_at"] -= 60
        return wire_json(payload)

    fake._token = issued_a_minute_ago
    client = make_client()
    client.export_transactions(DAY, DAY)
    clock.advance(7200 - 300 - 60)
    client.export_transactions(DAY, DAY)
    assert fake.token_count == 2


def test_lowercase_bearer_and_missing_created_at_are_accepted(client, fake):
    fake.token_type = "bearer"
    fake.send_created_at = False
    assert client.export_transactions(DAY, DAY) == []


def test_unknown_token_type_is_an_authentication_error(client, fake):
    fake.token_type = "mac"
    with pytest.raises(PayTraceAuthenticationError):
        client.export_transactions(DAY, DAY)


def test_invalid_token_reauthenticates_and_replays_once(client, fake):
    client.export_transactions(DAY, DAY)
    fake.expire_tokens()
    assert client.export_transactions(DAY, DAY) == []
    assert fake.token_count == 2
    assert len(fake.calls(EXPORT)) == 3


def test_invalid_token_twice_is_an_authentication_error(client, fake):
    fake.fail(EXPORT, wire_json({"error": "invalid_token", "error_description": "The access token is invalid"}, 401),
              times=5)
    with pytest.raises(PayTraceAuthenticationError):
        client.export_transactions(DAY, DAY)
    assert len(fake.calls(EXPORT)) == 2 and fake.token_count == 2


def test_invalid_token_on_a_sale_replays_it_once_safely(client, fake, card):
    client.ping()
    fake.fail(SALE, wire_json({"error": "invalid_token", "error_description": "The access token expired"}, 401))
    result = client.sale_keyed(card, Decimal("5.00"), invoice_id="INV-1")
    assert result.approved and not result.adopted
    assert len(fake.committed(invoice_id="INV-1")) == 1


def test_wrong_password_is_not_retried(make_client, fake):
    client = make_client(password="wrong")
    with pytest.raises(PayTraceAuthenticationError) as caught:
        client.export_transactions(DAY, DAY)
    assert "invalid_grant" in str(caught.value)
    assert len([r for r in fake.requests if r[0] == TOKEN]) == 1


def test_token_call_retried_on_transient_errors(client, fake, sleeps):
    fake.fail(TOKEN, http_503, times=2)
    assert client.export_transactions(DAY, DAY) == []
    assert fake.token_count == 1 and len(sleeps) == 2


# ------------------------------------------------------------------ reads and retries


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text=""),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503, text="<html>Service Unavailable</html>"),
        httpx.Response(504, text="<html>Gateway Timeout</html>"),
        httpx.Response(200, text=HTML_BLOCK, headers={"content-type": "text/html"}),
        httpx.Response(403, text=HTML_BLOCK, headers={"content-type": "text/html"}),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["500", "502", "503", "504", "html-200", "html-403", "read-timeout", "connect-error", "reset"],
)
def test_reads_retry_transient_failures(client, fake, failure, sleeps):
    fake.add_transaction(invoice_id="INV-9")
    fake.fail(EXPORT, failure, times=2)
    records = client.export_transactions(DAY, DAY)
    assert [r.invoice_id for r in records] == ["INV-9"]
    assert len(fake.calls(EXPORT)) == 3 and sleeps == [1.0, 2.0]


def test_429_honours_retry_after(client, fake, sleeps):
    fake.fail(EXPORT, httpx.Response(429, text="", headers={"Retry-After": "7"}))
    client.export_transactions(DAY, DAY)
    assert sleeps == [7.0]


def test_reads_give_up_after_max_attempts(make_client, fake):
    client = make_client(retry=RetryPolicy(max_attempts=4, jitter=False))
    fake.fail(EXPORT, http_503, times=10)
    with pytest.raises(PayTraceTransientError) as caught:
        client.export_transactions(DAY, DAY)
    assert caught.value.http_status == 503
    assert len(fake.calls(EXPORT)) == 4


def test_validation_error_with_400_is_not_retried(client, fake):
    fake.fail(EXPORT, wire_error("58", "Please provide a valid start date."))
    with pytest.raises(PayTraceValidationError) as caught:
        client.export_transactions(DAY, DAY)
    assert caught.value.codes == {58} and caught.value.http_status == 400
    assert len(fake.calls(EXPORT)) == 1


def test_success_false_no_records_export_is_empty(client, fake):
    fake.respond(EXPORT, wire_json({"success": False, "response_code": 1, "status_message": "No records found."}))
    assert client.export_transactions(DAY, DAY) == []


def test_export_by_id_and_not_found(client, fake):
    record = fake.add_transaction(amount=Decimal("51.88"), tax_amount="4.20", credit_card={
        "masked_number": "401200******5439", "expiration_month": 1, "expiration_year": 29})
    txn = client.export_transaction(record["transaction_id"])
    assert txn.amount == Decimal("51.88") and txn.tax_amount == Decimal("4.20")
    assert txn.card.brand == "VISA" and txn.card.expiration_year == 2029
    assert txn.created_at.tzinfo is not None and txn.status is TransactionStatus.PENDING
    assert fake.calls("/v1/transactions/export/by_id")[0]["include_bin"] is True
    with pytest.raises(PayTraceNotFound):
        client.export_transaction(1)


def test_batches_parse(client, fake):
    batch = {"number": 572, "created": "11/24/2026 8:00:03 PM", "transaction_count": 2, "net_amount": 90.5,
             "sales_count": 2, "sales_amount": 90.5, "refund_count": 0, "refund_amount": 0,
             "card_brands": {"VISA": {"sales_count": 2, "sales_amount": 90.5, "refund_count": 0, "refund_amount": 0}}}
    fake.respond("/v1/batches/export", wire_json({"success": True, "response_code": 1, "batches": [batch]}))
    fake.respond("/v1/batches/export_one", wire_json({"success": True, "response_code": 1, "batch": batch}))
    fake.respond("/v1/batches/transaction_list", wire_json({"success": True, "response_code": 1, "transactions": []}))
    [exported] = client.export_batches(DAY, DAY)
    assert exported.net_amount == Decimal("90.50") and exported.brands["VISA"].sales_count == 2
    assert client.export_batch(572).number == 572
    assert client.batch_transactions(572) == []
    assert fake.calls("/v1/batches/export")[0]["start_date"] == "11/24/2026"
    assert fake.calls("/v1/batches/export_one")[0]["batch_number"] == 572


def test_ping(client, fake):
    assert client.ping() is True
    assert "authorization" not in fake.requests[-1][2]
    fake.fail("/v1/ping", http_503, times=20)
    assert client.ping() is False


# ------------------------------------------------------------------ money-moving calls


def test_sale_wire_format(client, fake, card):
    result = client.sale_keyed(card, Decimal("110"), invoice_id="INV-1", tax_amount=Decimal("8.1"),
                               billing_address=Address(name="Kevin", zip="99201"), description="Store Purchase")
    body = fake.calls(SALE)[0]
    assert body["amount"] == "110.00" and body["tax_amount"] == "8.10"
    assert body["credit_card"] == {"number": VISA, "expiration_month": "12", "expiration_year": "2028"}
    assert body["csc"] == "999" and body["billing_address"] == {"name": "Kevin", "zip": "99201"}
    assert result.approved and result.response_code == 101 and result.masked_card_number == "************5439"
    assert result.approval_code == "TAS445"


@pytest.mark.parametrize("invoice_id", ["", "   "])
def test_money_calls_refuse_a_blank_invoice_id(client, card, invoice_id):
    with pytest.raises(ValueError):
        client.sale_keyed(card, Decimal("1.00"), invoice_id=invoice_id)
    with pytest.raises(ValueError):
        client.refund_transaction(1, invoice_id=invoice_id)


def test_decline_is_raised_not_retried(client, fake, card):
    with pytest.raises(PayTraceDeclined) as caught:
        client.sale_keyed(card, Decimal("1.12"), invoice_id="INV-D")
    assert caught.value.transaction_id is not None
    assert caught.value.approval_message == "DECLINE - Do not honor"
    assert len(fake.calls(SALE)) == 1


def test_decline_with_http_400_is_still_a_decline(client, fake, card):
    fake.respond(SALE, wire_json({"success": False, "response_code": 102,
                                  "status_message": "Your transaction was not approved.", "transaction_id": 392501201,
                                  "approval_code": "", "approval_message": "DECLINE"}, 400))
    with pytest.raises(PayTraceDeclined):
        client.sale_keyed(card, Decimal("3.00"), invoice_id="INV-D4")


def test_validation_error_on_sale_is_not_retried(client, fake):
    short = CardInput(number="401200009876", expiration_month=1, expiration_year=2030)
    with pytest.raises(PayTraceValidationError) as caught:
        client.sale_keyed(short, Decimal("3.00"), invoice_id="INV-V")
    assert caught.value.codes == {35} and len(fake.calls(SALE)) == 1


def test_sale_answer_lost_after_commit_is_adopted(client, fake, card):
    fake.lose_answer(SALE)
    result = client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-LOST")
    committed = fake.committed(invoice_id="INV-LOST")
    assert len(committed) == 1 and len(fake.calls(SALE)) == 1
    assert result.adopted and result.approved and result.transaction_id == committed[0]["transaction_id"]
    lookup = fake.calls(EXPORT)[0]
    # The server's business day (Date header: 11/24) ±1, not our clock's (11/18).
    assert (lookup["start_date"], lookup["end_date"], lookup["including_text"]) == (
        "11/23/2026", "11/25/2026", "INV-LOST")


def test_refund_answer_lost_after_commit_is_adopted(client, fake):
    original = fake.add_transaction(amount=Decimal("40.00"), status_code="GB571", status_message="GB571",
                                    invoice_id="INV-R")
    fake.lose_answer(REFUND)
    result = client.refund_transaction(original["transaction_id"], Decimal("15.00"), invoice_id="RFD-1")
    refunds = fake.committed(transaction_type="REFUND")
    assert len(refunds) == 1 and len(fake.calls(REFUND)) == 1
    assert result.adopted and result.transaction_id == refunds[0]["transaction_id"] and result.response_code == 106


def test_sale_rejected_before_commit_is_resent_after_lookup(client, fake, card):
    fake.fail(SALE, http_503)
    result = client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-503")
    assert not result.adopted and len(fake.committed(invoice_id="INV-503")) == 1
    assert len(fake.calls(SALE)) == 2 and len(fake.calls(EXPORT)) == 1


def test_connect_error_resends_without_lookup(client, fake, card):
    client.ping()
    fake.fail(SALE, httpx.ConnectError("refused"))
    client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-CE")
    assert len(fake.calls(SALE)) == 2 and fake.calls(EXPORT) == []


def test_lost_answer_of_a_declined_sale_raises_declined(client, fake, card):
    fake.lose_answer(SALE)
    with pytest.raises(PayTraceDeclined) as caught:
        client.sale_keyed(card, Decimal("1.12"), invoice_id="INV-LD")
    assert caught.value.transaction_id == fake.committed(invoice_id="INV-LD")[0]["transaction_id"]
    assert len(fake.calls(SALE)) == 1


def test_lost_answer_of_an_auto_voided_sale_raises_declined_103(client, fake, card):
    fake.add_transaction(invoice_id="INV-AV", amount=Decimal("25.00"), status_code="N", status_message="Voided")
    fake.fail(SALE, http_503)
    with pytest.raises(PayTraceDeclined) as caught:
        client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-AV")
    assert caught.value.response_code == 103 and len(fake.calls(SALE)) == 1


def test_tiny_token_lifetime_still_yields_a_usable_token(client, fake):
    fake.expires_in = 1
    assert client.export_transactions(DAY, DAY) == []
    assert fake.token_count == 1


def test_two_candidate_records_are_indeterminate(client, fake, card):
    fake.add_transaction(invoice_id="INV-DUP", amount=Decimal("25.00"))
    fake.lose_answer(SALE)
    with pytest.raises(PayTraceIndeterminateError) as caught:
        client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-DUP")
    assert "INV-DUP" in str(caught.value) and len(fake.calls(SALE)) == 1


def test_records_that_only_mention_our_invoice_are_not_adopted(client, fake, card):
    fake.add_transaction(invoice_id="INV-7-OLD", description="see INV-7", amount=Decimal("25.00"))
    fake.add_transaction(invoice_id="INV-7", amount=Decimal("99.00"))  # same invoice, other amount
    fake.fail(SALE, http_503)
    result = client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-7")
    assert not result.adopted and len(fake.calls(SALE)) == 2


def test_failed_lookup_is_indeterminate_and_never_resends(make_client, fake, card):
    client = make_client(retry=RetryPolicy(max_attempts=3, jitter=False))
    fake.lose_answer(SALE)
    fake.fail(EXPORT, http_503, times=10)
    with pytest.raises(PayTraceIndeterminateError):
        client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-LF")
    assert len(fake.calls(SALE)) == 1 and len(fake.calls(EXPORT)) == 3


def test_money_attempts_are_capped(client, fake, card):
    fake.fail(SALE, http_503, times=10)
    with pytest.raises(PayTraceTransientError):
        client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-CAP")
    assert len(fake.calls(SALE)) == 3 and len(fake.calls(EXPORT)) == 3


def test_refund_of_unsettled_transaction_is_not_refundable(client, fake):
    original = fake.add_transaction()
    with pytest.raises(PayTraceNotRefundable):
        client.refund_transaction(original["transaction_id"], invoice_id="RFD-2")
    assert len(fake.calls(REFUND)) == 1


def test_void_answer_lost_is_adopted_from_export_by_id(client, fake):
    sale = fake.add_transaction()
    fake.lose_answer("/v1/transactions/void")
    result = client.void(sale["transaction_id"])
    assert result.adopted and result.response_code == 109 and result.transaction_id == sale["transaction_id"]
    assert len(fake.calls("/v1/transactions/void")) == 1


def test_void_rejected_before_commit_is_resent(client, fake):
    sale = fake.add_transaction()
    fake.fail("/v1/transactions/void", http_503)
    result = client.void(sale["transaction_id"])
    assert not result.adopted and result.response_code == 109
    assert len(fake.calls("/v1/transactions/void")) == 2


def test_capture_answer_lost_is_adopted(client, fake):
    auth = fake.add_transaction(transaction_type="AUTHORIZATION", status_code="N", status_message="Authorization Only")
    fake.lose_answer("/v1/transactions/authorization/capture")
    result = client.capture(auth["transaction_id"], Decimal("8.00"))
    assert result.adopted and result.response_code == 112
    assert fake.transactions[auth["transaction_id"]]["amount"] == Decimal("8.00")


def test_capture_refused_as_already_done_after_a_lost_answer_is_adopted(client, fake):
    auth = fake.add_transaction(transaction_type="AUTHORIZATION", status_code="N", status_message="Authorization Only")
    stale = dict(auth)  # the first lookup still sees the authorization open (e.g. replication lag)
    fake.lose_answer("/v1/transactions/authorization/capture")
    fake.respond("/v1/transactions/export/by_id",
                 wire_json({"success": True, "response_code": 1, "transactions": [stale]}))
    result = client.capture(auth["transaction_id"])
    assert result.adopted and len(fake.calls("/v1/transactions/authorization/capture")) == 2


def test_authorize_and_sale_by_customer(client, fake, card):
    client.create_customer("C-1", card, billing_address=Address(name="Nathan"))
    auth = client.authorize_by_customer("C-1", Decimal("12.00"), invoice_id="INV-A")
    assert fake.calls("/v1/transactions/authorization/by_customer")[0]["customer_id"] == "C-1"
    captured = client.capture(auth.transaction_id)
    assert captured.transaction_id == auth.transaction_id
    fake.lose_answer("/v1/transactions/sale/by_customer")
    sale = client.sale_by_customer("C-1", Decimal("3.00"), invoice_id="INV-S")
    assert sale.adopted and len(fake.committed(invoice_id="INV-S")) == 1


def test_settle_and_refund_after_settlement(client, fake, card):
    sale = client.sale_keyed(card, Decimal("20.00"), invoice_id="INV-ST")
    settled = client.settle()
    assert settled.batch_number == 571 and settled.transaction_count == 1 and settled.net_amount == Decimal("20.00")
    refund = client.refund_transaction(sale.transaction_id, Decimal("5.00"), invoice_id="RFD-ST")
    assert refund.approved and refund.response_code == 106
    assert fake.calls(REFUND)[0] == {"transaction_id": sale.transaction_id, "amount": "5.00", "invoice_id": "RFD-ST",
                                     "integrator_id": "INTEGRATOR12"}


# ------------------------------------------------------------------ vault


def test_customer_create_lost_answer_is_adopted(client, fake, card):
    fake.lose_answer("/v1/customer/create")
    result = client.create_customer("C-9", card)
    assert result.customer_id == "C-9" and result.masked_card_number == "************5439"
    assert len(fake.calls("/v1/customer/create")) == 1


def test_duplicate_customer_is_raised(client, card):
    client.create_customer("C-2", card)
    with pytest.raises(PayTraceDuplicateCustomer):
        client.create_customer("C-2", card)


def test_customer_delete_lost_answer_counts_as_deleted(client, fake, card):
    client.create_customer("C-3", card)
    fake.lose_answer("/v1/customer/delete")
    assert client.delete_customer("C-3").response_code == 162
    assert client.export_customers() == []


# ------------------------------------------------------------------ scrubbing


def test_no_secret_reaches_logs_errors_or_reprs(client, fake, card, caplog):
    caplog.set_level(logging.DEBUG)
    fake.lose_answer(SALE)
    client.sale_keyed(card, Decimal("25.00"), invoice_id="INV-LOG")
    fake.fail(SALE, wire_error("35", f"Please provide a valid Credit Card Number: {VISA} csc 999"))
    with pytest.raises(PayTraceValidationError) as caught:
        client.sale_keyed(card, Decimal("26.00"), invoice_id="INV-LOG2")
    token = next(iter(fake.valid_tokens))
    texts = [caplog.text, str(caught.value), repr(caught.value), repr(client), str(vars(client)),
             repr(client._auth), repr(card), str(card.model_dump())]
    for text in texts:
        for secret in (VISA, PASSWORD, token, token.split(":")[-1], '"999"', "'999'"):
            assert secret not in text
    assert "paytrace POST /v1/transactions/sale/keyed" in caplog.text
    assert "error=ReadTimeout" in caplog.text and "response_code=1 " in caplog.text


def test_one_log_line_per_http_call(client, fake, caplog):
    caplog.set_level(logging.INFO, logger="sage_paytrace_pipeline.paytrace")
    fake.fail(EXPORT, http_503)
    client.export_transactions(DAY, DAY)
    lines = [r.getMessage() for r in caplog.records if r.name == "sage_paytrace_pipeline.paytrace"]
    assert len(lines) == len(fake.requests) == 3
    assert "http=503" in lines[1] and "attempt=1" in lines[1] and "attempt=2" in lines[2]
