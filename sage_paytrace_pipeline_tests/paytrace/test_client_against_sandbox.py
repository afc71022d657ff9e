"""The client against the real sandbox over a real socket: a day's flows, then injected faults."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import httpx
import pytest

from sage_paytrace_pipeline.paytrace import (
    Address,
    CardInput,
    PayTraceClient,
    PayTraceCustomerNotFound,
    PayTraceDeclined,
    PayTraceNotCapturable,
    PayTraceNotRefundable,
    PayTraceNotVoidable,
    RetryPolicy,
    TransactionStatus,
)

BUSINESS_DAY = date(2026, 11, 24)
VISA = "4012000098765439"


@pytest.fixture
def sandbox(paytrace_sandbox):
    """The shared sandbox with its clock frozen on our business day, far from the wall-clock date,
    so lookups after lost answers must use the server's day (from `Date`), not ours."""
    paytrace_sandbox.engine.set_clock(at=datetime(BUSINESS_DAY.year, BUSINESS_DAY.month, BUSINESS_DAY.day, 9, 0))
    return paytrace_sandbox


@pytest.fixture
def connect(sandbox):
    clients: list[PayTraceClient] = []

    def build(**overrides) -> PayTraceClient:
        options = dict(username=sandbox.username, password=sandbox.password, integrator_id="SAGEPIPE0001",
                       sleep=lambda seconds: None, retry=RetryPolicy(jitter=False, base_delay=0.0))
        options.update(overrides)
        client = PayTraceClient(sandbox.base_url, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def card() -> CardInput:
    return CardInput(number=VISA, expiration_month=12, expiration_year=2030, csc="999")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def mine(transactions, tag: str):
    return {t.invoice_id: t for t in transactions if t.invoice_id.startswith(tag)}


def test_a_days_flows(sandbox, connect, card):
    client = connect()
    tag = unique("DAY")
    assert client.ping()

    customer_id = unique("CUST")
    created = client.create_customer(customer_id, card, billing_address=Address(name="Nathan Williams", zip="99201"),
                                      email="nathan@example.com")
    assert created.customer_id == customer_id and created.masked_card_number.endswith("5439")

    sale = client.sale_keyed(card, Decimal("25.00"), invoice_id=f"{tag}-A", billing_address=Address(zip="99201"))
    with pytest.raises(PayTraceDeclined) as declined:
        client.sale_keyed(card, Decimal("1.12"), invoice_id=f"{tag}-X")
    vault_sale = client.sale_by_customer(customer_id, Decimal("40.00"), invoice_id=f"{tag}-B")
    auth = client.authorize_by_customer(customer_id, Decimal("30.00"), invoice_id=f"{tag}-C")
    captured = client.capture(auth.transaction_id, Decimal("20.00"))
    to_void = client.sale_keyed(card, Decimal("15.00"), invoice_id=f"{tag}-D")
    client.void(to_void.transaction_id)
    assert sale.approved and vault_sale.approved and captured.transaction_id == auth.transaction_id

    with pytest.raises(PayTraceNotRefundable):
        client.refund_transaction(sale.transaction_id, invoice_id=f"{tag}-R0")

    today = mine(client.export_transactions(BUSINESS_DAY, BUSINESS_DAY), tag)
    assert today[f"{tag}-A"].status is TransactionStatus.PENDING
    assert today[f"{tag}-X"].status is TransactionStatus.DECLINED
    assert today[f"{tag}-X"].transaction_id == declined.value.transaction_id
    assert today[f"{tag}-C"].status is TransactionStatus.PENDING and today[f"{tag}-C"].amount == Decimal("20.00")
    assert today[f"{tag}-D"].status is TransactionStatus.VOIDED
    assert today[f"{tag}-B"].customer_id == customer_id
    record = today[f"{tag}-A"]
    assert record.created_at.date() == BUSINESS_DAY and record.created_at.tzinfo is not None
    assert record.card.bin == "401200" and record.card.brand == "VISA" and record.card.expiration_year == 2030

    pending = client.export_batch()
    assert pending.sales_amount >= Decimal("85.00")

    settled = client.settle()
    assert settled.batch_number is not None and settled.net_amount >= Decimal("85.00")
    after = client.export_transaction(sale.transaction_id)
    assert after.status is TransactionStatus.SETTLED and after.batch_number == settled.batch_number
    assert after.settled_at is not None

    refund = client.refund_transaction(sale.transaction_id, Decimal("5.00"), invoice_id=f"{tag}-R1")
    credit = client.refund_to_customer(customer_id, Decimal("3.00"), invoice_id=f"{tag}-R2")
    assert refund.approved and refund.transaction_id != sale.transaction_id and credit.approved
    with pytest.raises(PayTraceNotVoidable):
        client.void(sale.transaction_id)
    with pytest.raises(PayTraceNotCapturable):
        client.capture(auth.transaction_id)

    [batch] = [b for b in client.export_batches(BUSINESS_DAY, BUSINESS_DAY + timedelta(days=1))
               if b.number == settled.batch_number]
    assert batch.net_amount == settled.net_amount == batch.sales_amount - batch.refund_amount
    assert sum(b.sales_amount for b in batch.brands.values()) == batch.sales_amount
    in_batch = {t.transaction_id for t in client.batch_transactions(settled.batch_number)}
    assert {sale.transaction_id, vault_sale.transaction_id, auth.transaction_id} <= in_batch
    assert to_void.transaction_id not in in_batch

    refunds = mine(client.export_transactions(BUSINESS_DAY, BUSINESS_DAY, transaction_type="REFUND"), tag)
    assert refunds[f"{tag}-R1"].amount == Decimal("5.00")

    [vaulted] = client.export_customers(customer_id)
    assert vaulted.card.last4 == "5439" and vaulted.email == "nathan@example.com"
    client.update_customer(customer_id, email="nw@example.com")
    assert client.export_customers(customer_id)[0].email == "nw@example.com"
    client.delete_customer(customer_id)
    with pytest.raises(PayTraceCustomerNotFound):
        client.export_customers(customer_id)


def test_a_third_of_calls_failing_still_completes_a_day(sandbox, connect, card):
    client = connect(retry=RetryPolicy(jitter=False, base_delay=0.0, max_attempts=10, money_max_attempts=8))
    tag = unique("FLAKY")
    # Seed 8 fails the very first call (the token) and about a third of the rest.
    sandbox.engine.set_faults([{"route": "*", "kind": "http_503", "rate": 0.33}], seed=8)
    amounts = [Decimal(f"{n}.{n:02d}") for n in range(2, 12)]
    results = [client.sale_keyed(card, amount, invoice_id=f"{tag}-{n}") for n, amount in enumerate(amounts)]
    exported = mine(client.export_transactions(BUSINESS_DAY, BUSINESS_DAY), tag)
    stats = sandbox.engine.stats()
    assert stats["faults_by_kind"]["http_503"] >= 5
    # Failed sales were looked up (by invoice) before being sent again: more exports than our one.
    assert stats["calls_by_route"]["/v1/transactions/export/by_date_range"] > 1

    sandbox.engine.clear_faults()
    truth = list(client.export_transactions(BUSINESS_DAY, BUSINESS_DAY, including_text=tag))
    assert sorted(t.invoice_id for t in truth) == sorted(f"{tag}-{n}" for n in range(len(amounts)))  # each once
    assert {t.transaction_id for t in truth} == {r.transaction_id for r in results}
    assert set(exported) == {t.invoice_id for t in truth}


@pytest.mark.parametrize("latency", [0.0, 1.5], ids=["504-after-commit", "read-timeout-after-commit"])
def test_refund_whose_answer_is_lost_exists_once(sandbox, connect, card, latency):
    # With latency the sandbox sleeps before answering, so our short read timeout fires instead.
    timeout = httpx.Timeout(connect=5.0, read=0.5, write=5.0, pool=5.0) if latency else None
    client = connect(timeout=timeout)
    tag = unique("LOST")
    sale = client.sale_keyed(card, Decimal("60.00"), invoice_id=f"{tag}-S")
    client.settle()
    sandbox.engine.set_faults(
        [{"route": "/v1/transactions/refund/for_transaction", "kind": "timeout_after_commit", "count": 1,
          "latency_seconds": latency}],
        seed=3,
    )
    refund = client.refund_transaction(sale.transaction_id, Decimal("12.50"), invoice_id=f"{tag}-R")
    sandbox.engine.clear_faults()

    assert refund.adopted and refund.approved
    refunds = [t for t in client.export_transactions(BUSINESS_DAY, BUSINESS_DAY, including_text=f"{tag}-R")
               if t.transaction_type == "REFUND"]
    assert [(t.transaction_id, t.amount) for t in refunds] == [(refund.transaction_id, Decimal("12.50"))]
    assert sandbox.engine.stats()["faults_by_kind"].get("timeout_after_commit") == 1


def test_lost_sale_is_not_confused_with_an_earlier_identical_one(sandbox, connect, card):
    """Two equal partial payments on one invoice: after the second answer is lost, the lookup
    must adopt the second, not the first (records created before the call are not candidates)."""
    client = connect()
    first = client.sale_keyed(card, Decimal("50.00"), invoice_id="INV-0000777")
    sandbox.engine.set_clock(advance_seconds=600)
    client.export_batch()  # time passes between the payments; the client sees it in answers
    sandbox.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": "timeout_after_commit", "count": 1}])
    second = client.sale_keyed(card, Decimal("50.00"), invoice_id="INV-0000777")
    assert second.adopted and second.transaction_id != first.transaction_id
    sales = client.export_transactions(BUSINESS_DAY, BUSINESS_DAY, transaction_type="SALE")
    assert sorted(r.transaction_id for r in sales if r.invoice_id == "INV-0000777") == sorted(
        [first.transaction_id, second.transaction_id])


def test_an_omitted_invoice_id_is_generated_so_lost_answers_can_still_be_found(sandbox, connect, card):
    client = connect()
    sandbox.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": "timeout_after_commit", "count": 1}])
    result = client.sale_keyed(card, Decimal("12.34"))
    assert result.adopted
    record = client.export_transaction(result.transaction_id)
    assert record.invoice_id.startswith("SPP") and len(record.invoice_id) == 20
    assert len(client.export_transactions(BUSINESS_DAY, BUSINESS_DAY, including_text=record.invoice_id)) == 1


def test_the_vault_export_asks_for_the_bin_so_brands_and_addresses_reach_the_frame(connect, card):
    from sage_paytrace_pipeline.paytrace.frames import vault_customers_frame

    client = connect()
    customer_id = unique("BRAND")
    address = Address(name="Nathan Williams", street_address="8320 E. West St.", city="Spokane", state="WA",
                      zip="85284")
    client.create_customer(customer_id, card, billing_address=address, email="nw@example.com", phone="509-555-0100")
    frame = vault_customers_frame(client.export_customers(customer_id), BUSINESS_DAY)
    row = frame.iloc[0]
    assert (row["card_brand"], row["card_last4"], row["billing_address1"], row["billing_city"],
            row["billing_state"], row["phone"]) == ("VISA", "5439", "8320 E. West St.", "Spokane", "WA",
                                                    "509-555-0100")
    assert VISA not in frame.to_csv() and "401200" not in frame.to_csv()
    assert client.export_customers(customer_id, include_bin=False)[0].card.brand == "UNKNOWN"


def test_a_vault_card_is_renewed_without_its_number(connect, card):
    client = connect()
    customer_id = unique("RENEW")
    client.create_customer(customer_id, card, billing_address=Address(name="Ana Chen", zip="99201"))
    client.update_customer(customer_id, expiry=(3, 2033))
    renewed = client.export_customers(customer_id)[0].card
    assert (renewed.last4, renewed.expiration_month, renewed.expiration_year) == ("5439", 3, 2033)


class _CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/export/by_date_range"):
            self.bodies.append(request.read())
        return super().handle_request(request)


def test_a_long_range_is_exported_window_by_window_as_one_answer(sandbox, connect, card):
    tag = unique("WIN")
    days = [BUSINESS_DAY - timedelta(days=offset) for offset in range(4, -1, -1)]  # in time order, as ids are
    for day in days:
        sandbox.engine.set_clock(at=datetime(day.year, day.month, day.day, 10, 0))
        connect().sale_keyed(card, Decimal("12.34"), invoice_id=f"{tag}-{day.isoformat()}")
    sandbox.engine.set_clock(at=datetime(BUSINESS_DAY.year, BUSINESS_DAY.month, BUSINESS_DAY.day, 9, 0))

    whole = connect().read_transactions(days[0], days[-1])
    counting = _CountingTransport()
    windowed = connect(export_window_days=2, transport=counting).read_transactions(days[0], days[-1])

    assert [b'"start_date":"11/20/2026","end_date":"11/21/2026"' in body for body in counting.bodies] == [
        True, False, False]  # 20-21, 22-23, 24: three calls of at most two days
    assert b'"start_date":"11/24/2026","end_date":"11/24/2026"' in counting.bodies[-1]
    assert list(mine(windowed.transactions, tag)) == [f"{tag}-{day.isoformat()}" for day in days]
    assert windowed.transactions == whole.transactions and windowed.rejected == whole.rejected == []


def test_export_windows_cover_the_range_once():
    from sage_paytrace_pipeline.paytrace.client import date_windows

    first = date(2025, 12, 7)
    windows = date_windows(first, date(2026, 12, 6), 31)
    assert len(windows) == 12 and windows[0] == (first, date(2026, 1, 6)) and windows[-1][1] == date(2026, 12, 6)
    assert all(later[0] == earlier[1] + timedelta(days=1) for earlier, later in pairwise(windows))
    assert date_windows(first, first, 31) == [(first, first)]
    assert date_windows(first, first - timedelta(days=1), 31) == [(first, first - timedelta(days=1))]
