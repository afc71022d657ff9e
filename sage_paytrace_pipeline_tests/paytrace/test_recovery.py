"""LostAnswerRecovery on its own: adopt what a lookup finds, resend only when nothing was committed,
stop as indeterminate when the lookup is ambiguous or fails. Sends go to the in-memory PayTrace;
lookups are answered by a stub, so each test states exactly what PayTrace "has"."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from sage_paytrace_pipeline.paytrace import (
    PayTraceDeclined,
    PayTraceIndeterminateError,
    PayTraceNotFound,
    PayTraceNotVoidable,
    PayTraceTransientError,
    RetryPolicy,
    Transaction,
)
from sage_paytrace_pipeline.paytrace.auth import PayTraceAuth
from sage_paytrace_pipeline.paytrace.models import parse_transaction
from sage_paytrace_pipeline.paytrace.recovery import (
    ExpectedTransaction,
    LostAnswerRecovery,
)
from sage_paytrace_pipeline.paytrace.session import PayTraceSession

from .conftest import PASSWORD, USERNAME, VISA, ZONE, wire_json

SALE = "/v1/transactions/sale/keyed"
VOID = "/v1/transactions/void"
PAYLOAD = {"amount": "25.00", "invoice_id": "INV-R1",
           "credit_card": {"number": VISA, "expiration_month": "12", "expiration_year": "2028"}}
EXPECTED = ExpectedTransaction("SALE", "INV-R1", Decimal("25.00"), customer_id=None)


class Lookups:
    """What PayTrace's exports show; every lookup is recorded."""

    def __init__(self, fake) -> None:
        self.fake = fake
        self.records: list[Transaction] = []
        self.failure: Exception | None = None
        self.asked: list[tuple] = []

    def add(self, **fields) -> Transaction:
        record = parse_transaction(self.fake.add_transaction(**fields), ZONE)
        self.records.append(record)
        return record

    def export_transactions(self, start_date: date, end_date: date, *, including_text=None, include_bin=True):
        self.asked.append(("range", start_date, end_date, including_text))
        if self.failure:
            raise self.failure
        return [r for r in self.records if including_text is None or including_text in (r.invoice_id or "")]

    def export_transaction(self, transaction_id: int, *, include_bin=True) -> Transaction:
        self.asked.append(("by_id", transaction_id))
        found = [r for r in self.records if r.transaction_id == transaction_id]
        if not found:
            raise PayTraceNotFound("not found", route="/v1/transactions/export/by_id")
        return found[0]

    def export_customers(self, customer_id=None):
        return []

    def server_now(self) -> datetime:
        return self.fake.server_now


@pytest.fixture
def lookups(fake) -> Lookups:
    return Lookups(fake)


@pytest.fixture
def recovery(fake, clock, sleeps, lookups):
    with PayTraceSession("https://api.sandbox.paytrace.com", integrator_id="INTEGRATOR12", timeout=httpx.Timeout(5.0),
                         transport=httpx.MockTransport(fake), retry=RetryPolicy(jitter=False), sleep=sleeps.append,
                         clock=clock) as session:
        auth = PayTraceAuth(session, username=USERNAME, password=PASSWORD, clock=clock, refresh_margin=300.0)
        yield LostAnswerRecovery(session, auth, lookups)


def lost(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def test_a_lost_answer_whose_record_is_found_is_adopted_and_never_resent(recovery, lookups, fake):
    fake.fail(SALE, lost)
    committed = lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"))
    result = recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert result.adopted and result.transaction_id == committed.transaction_id and result.response_code == 101
    assert len(fake.calls(SALE)) == 1
    # Looked up on PayTrace's business day ±1 (11/24 per its Date header), by our invoice_id.
    assert lookups.asked == [("range", date(2026, 11, 23), date(2026, 11, 25), "INV-R1")]


def test_nothing_found_means_nothing_committed_so_the_call_is_sent_again(recovery, lookups, fake):
    fake.fail(SALE, lost)
    result = recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert not result.adopted and len(fake.calls(SALE)) == 2 and len(lookups.asked) == 1


def test_records_that_differ_or_predate_the_call_are_not_candidates(recovery, lookups, fake):
    lookups.add(invoice_id="INV-R1", amount=Decimal("99.00"))
    lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"), transaction_type="REFUND")
    old = fake.server_now - timedelta(minutes=10)
    lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"), created={"through": "API", "by": USERNAME,
                "at": f"{old.month}/{old.day}/{old.year} 1:50:00 PM", "from_ip": "10.0.0.1"})
    fake.fail(SALE, lost)
    result = recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert not result.adopted and len(fake.calls(SALE)) == 2


def test_two_candidates_are_indeterminate_and_nothing_is_resent(recovery, lookups, fake):
    lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"))
    lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"))
    fake.fail(SALE, lost)
    with pytest.raises(PayTraceIndeterminateError):
        recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert len(fake.calls(SALE)) == 1


def test_a_failed_lookup_is_indeterminate_and_nothing_is_resent(recovery, lookups, fake):
    lookups.failure = PayTraceTransientError("PayTrace answered HTTP 503",
                                             route="/v1/transactions/export/by_date_range")
    fake.fail(SALE, lost)
    with pytest.raises(PayTraceIndeterminateError) as caught:
        recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert "the lookup failed" in str(caught.value) and len(fake.calls(SALE)) == 1


def test_a_found_decline_is_raised_as_a_decline(recovery, lookups, fake):
    lookups.add(invoice_id="INV-R1", amount=Decimal("25.00"), status_code="N", status_message="Declined",
                approval_message="DECLINE")
    fake.fail(SALE, lost)
    with pytest.raises(PayTraceDeclined) as caught:
        recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert caught.value.response_code == 102 and len(fake.calls(SALE)) == 1


def test_a_connect_failure_is_resent_without_a_lookup(recovery, lookups, fake):
    fake.fail(SALE, httpx.ConnectError("refused"))
    result = recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert not result.adopted and len(fake.calls(SALE)) == 2 and lookups.asked == []


def test_sends_are_capped_when_every_answer_is_lost_and_nothing_is_found(recovery, lookups, fake):
    fake.fail(SALE, httpx.Response(503, text=""), times=10)
    with pytest.raises(PayTraceTransientError) as caught:
        recovery.new_transaction(SALE, PAYLOAD, EXPECTED)
    assert "no answer after 3 attempts" in str(caught.value)
    assert len(fake.calls(SALE)) == 3 and len(lookups.asked) == 3


def test_already_done_after_a_lost_answer_is_looked_up_and_adopted(recovery, lookups, fake):
    sale = lookups.add(invoice_id="INV-V")
    voided = parse_transaction({**fake.transactions[sale.transaction_id], "status_code": "N",
                                "status_message": "Voided"}, ZONE)
    fake.fail(VOID, lost)
    fake.fail(VOID, wire_json({"success": False, "response_code": 1, "status_message": "One or more errors",
                               "errors": {"818": ["not voidable"]}}, 400))
    first_lookup = lookups.export_transaction

    def lagging_export(transaction_id, *, include_bin=True):
        """The first lookup still sees the sale open (replication lag); later ones see the void."""
        record = first_lookup(transaction_id, include_bin=include_bin)
        return record if len(lookups.asked) == 1 else voided

    lookups.export_transaction = lagging_export
    result = recovery.void(VOID, sale.transaction_id)
    # Lookup found nothing voided → resent → refused as 818 after a lost answer → looked up → adopted.
    assert result.adopted and result.response_code == 109 and len(fake.calls(VOID)) == 2
    assert len(lookups.asked) == 2


def test_already_done_without_a_lost_answer_is_raised(recovery, lookups, fake):
    fake.fail(VOID, wire_json({"success": False, "response_code": 1, "status_message": "One or more errors",
                               "errors": {"818": ["not voidable"]}}, 400))
    with pytest.raises(PayTraceNotVoidable):
        recovery.void(VOID, 1)
    assert lookups.asked == []
