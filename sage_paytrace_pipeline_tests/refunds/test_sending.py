"""Sending decisions with a scripted PayTrace: the 817/818 fallback once, a crash after `sent`, a decline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.refunds.requests import request_invoice_id
from sage_paytrace_pipeline.paytrace.errors import PayTraceDeclined, PayTraceNotRefundable, PayTraceNotVoidable
from sage_paytrace_pipeline.paytrace.models import Transaction, TransactionResult, TransactionStatus
from sage_paytrace_pipeline.refunds.request_store import RefundRequest, RequestStore
from sage_paytrace_pipeline.refunds.sending import send_requests
from sage_paytrace_pipeline.sage100.documents import CardRefund, DocumentResult

TODAY = date(2026, 3, 2)
SALE = 7001
NO_REFUNDS = pd.DataFrame({c: pd.Series(dtype="object") for c in
                           ("transaction_id", "invoice_id", "amount_cents", "status", "card_last4")})


def sale(status: str) -> Transaction:
    return Transaction(transaction_id=SALE, transaction_type="SALE", amount=Decimal("20.00"), status_code="",
                       status_message="", status=TransactionStatus(status), invoice_id="INV1")


class ScriptedPayTrace:
    def __init__(self, statuses: list[str], *, void_error=None, refund_error=None) -> None:
        self.statuses = statuses
        self.void_error = void_error
        self.refund_error = refund_error
        self.calls: list[tuple] = []
        self.exported: list[Transaction] = []

    def export_transaction(self, transaction_id: int, *, include_bin: bool = True) -> Transaction:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return sale(status)

    def void(self, transaction_id: int) -> TransactionResult:
        self.calls.append(("void", transaction_id))
        if self.void_error:
            raise self.void_error
        return TransactionResult(transaction_id=transaction_id, response_code=109, approved=True)

    def refund_transaction(self, transaction_id: int, amount=None, *, invoice_id=None) -> TransactionResult:
        self.calls.append(("refund", transaction_id, amount, invoice_id))
        if self.refund_error:
            raise self.refund_error
        return TransactionResult(transaction_id=8001, response_code=106, approved=True)

    def server_today(self) -> date:
        return TODAY

    def export_transactions(self, start, end, *, including_text=None, include_bin=True) -> list[Transaction]:
        return self.exported


class Ledger:
    def __init__(self) -> None:
        self.refunds: list[CardRefund] = []

    def record_card_refund(self, refund: CardRefund) -> DocumentResult:
        self.refunds.append(refund)
        return DocumentResult(operation="record_card_refund", reference=refund.transaction_id,
                              documents={"CreditCardEntryNo": "000001"}, created=True)


@pytest.fixture
def store() -> RequestStore:
    return RequestStore(duckdb.connect(":memory:"))


def approved(store: RequestStore, amount_cents: int = 2000) -> str:
    now = datetime.now(UTC)
    key = "CM-01-0000900-000000"
    store.add(RefundRequest(key, "01", "ABC", "0000900", "000000", "0000100", SALE, amount_cents, "VISA", "r",
                            "alice", now, "requested", "", None, request_invoice_id(key), "", "", now),
              actor="alice", reason="test")
    store.transition(key, "approved", actor="auto", approved_by="auto", reason="test")
    return key


def run(store, client, ledger):
    return send_requests(store, client, ledger, refunds=NO_REFUNDS, today=TODAY, dry_run=False)


def test_818_on_a_void_falls_back_to_a_refund_once(store):
    key = approved(store)
    client = ScriptedPayTrace(["PENDING", "SETTLED"], void_error=PayTraceNotVoidable("settled", response_code=1))
    ledger = Ledger()
    run(store, client, ledger)
    assert [c[0] for c in client.calls] == ["void", "refund"]
    request = store.get(key)
    assert (request.state, request.action, request.paytrace_transaction_id) == ("recorded", "refund", 8001)
    assert [r.transaction_id for r in ledger.refunds] == ["8001"]


def test_817_then_818_stops_after_one_fallback(store):
    key = approved(store)
    client = ScriptedPayTrace(["SETTLED", "PENDING"], refund_error=PayTraceNotRefundable("not settled"),
                              void_error=PayTraceNotVoidable("settled"))
    result = run(store, client, Ledger())
    assert [c[0] for c in client.calls] == ["refund", "void"]
    assert store.get(key).state == "failed"
    assert set(result.exceptions["kind"]) == {"refund_refused_by_paytrace"}


def test_817_on_a_partial_refund_waits_for_settlement(store):
    key = approved(store, amount_cents=500)
    client = ScriptedPayTrace(["SETTLED", "PENDING"], refund_error=PayTraceNotRefundable("not settled"))
    run(store, client, Ledger())
    assert store.get(key).state == "waiting_for_settlement" and len(client.calls) == 1


def test_decline_fails_with_the_message(store):
    key = approved(store)
    client = ScriptedPayTrace(["SETTLED"], refund_error=PayTraceDeclined("no", approval_message="DECLINED BY BANK"))
    result = run(store, client, Ledger())
    assert store.get(key).state == "failed" and "DECLINED BY BANK" in store.get(key).error
    assert set(result.exceptions["kind"]) == {"refund_declined"}


def test_a_request_left_sent_by_a_crash_is_found_not_resent(store):
    key = approved(store, amount_cents=500)
    store.transition(key, "sent", actor="pipeline", action="refund", reason="crash after this")
    client = ScriptedPayTrace(["SETTLED"])
    found = Transaction(transaction_id=8123, transaction_type="REFUND", amount=Decimal("5.00"), status_code="",
                        status_message="", status=TransactionStatus.PENDING, invoice_id=request_invoice_id(key))
    client.exported = [found, replace_invoice(found, "OTHER")]
    ledger = Ledger()
    run(store, client, ledger)
    assert client.calls == []
    assert (store.get(key).state, store.get(key).paytrace_transaction_id) == ("recorded", 8123)


def test_a_request_left_sent_without_a_trace_is_sent_again(store):
    key = approved(store, amount_cents=500)
    store.transition(key, "sent", actor="pipeline", action="refund", reason="crash before the call")
    client = ScriptedPayTrace(["SETTLED"])
    run(store, client, Ledger())
    assert [c[0] for c in client.calls] == ["refund"] and store.get(key).state == "recorded"


def replace_invoice(record: Transaction, invoice_id: str) -> Transaction:
    return record.model_copy(update={"invoice_id": invoice_id, "transaction_id": record.transaction_id + 1})


def test_paytrace_side_refunds_in_the_warehouse_count_against_the_sale(store):
    from sage_paytrace_pipeline.paytrace.frames import transactions_frame
    from sage_paytrace_pipeline.paytrace.models import CardSummary
    from sage_paytrace_pipeline.refunds.remaining import warehouse_refunds

    card = CardSummary(masked_number="401200******5439", last4="5439", brand="VISA")
    terminal_refund = Transaction(transaction_id=8500, transaction_type="REFUND", amount=Decimal("15.00"),
                                  status_code="", status_message="", status=TransactionStatus.SETTLED,
                                  invoice_id="INV1", card=card)
    frame = transactions_frame([terminal_refund], TODAY)
    store.connection.register("rows", frame)
    store.connection.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM rows")
    refunds = warehouse_refunds(store.connection)
    assert refunds["transaction_id"].tolist() == [8500]

    key = approved(store, amount_cents=600)  # 20.00 - 15.00 leaves 5.00
    client = ScriptedPayTrace(["SETTLED"])
    client.export_transaction = lambda transaction_id, include_bin=True: sale("SETTLED").model_copy(
        update={"card": card})
    result = send_requests(store, client, Ledger(), refunds=refunds, today=TODAY, dry_run=False)
    assert client.calls == [] and store.get(key).state == "failed"
    assert set(result.exceptions["kind"]) == {"refund_above_remaining"}
