"""Sage -> PayTrace refund requests over the real sandbox and the demo company.

Each test pays part of a demo invoice with a sandbox card sale, posts the receipt in Sage, asks for
a refund (a clerk's marked credit memo, or `request_refund` as the shell does) and runs the flow.

The lost-answer test uses a memo left open (a CM item) linked to its sale by hand; the others use
memos applied to the invoice the sale paid, as a clerk enters them.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sage_paytrace_pipeline.domain.refunds.requests import request_invoice_id
from sage_paytrace_pipeline.paytrace import CardInput, PayTraceClient, RetryPolicy, TransactionStatus
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline.refunds.requests import (
    RequestRefused,
    RunResult,
    request_refund,
    run_requests,
)
from sage_paytrace_pipeline.sage100.documents import CardReceipt, CreditMemo, ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TODAY = date(2026, 3, 2)  # the sandbox's frozen business day (conftest SANDBOX_START)
REFUND_ROUTE = "/v1/transactions/refund/for_transaction"
VOID_ROUTE = "/v1/transactions/void"
PAYMENT_TYPES = ("VISA", "MC", "AMEX", "DISC")
VISA = CardInput(number="4012000098765439", expiration_month=12, expiration_year=2030, csc="999")


@pytest.fixture(scope="module")
def company_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("refund_requests") / "template.db"
    create_demo_company(path, seed=7, customers=40, today=TODAY)
    return path


def post_receipt(writer, transaction_id: int, invoice, amount: Decimal) -> None:
    """The sale's card receipt in Sage, paying `amount` of `invoice`."""
    writer.post_card_receipt(CardReceipt(
        transaction_id=str(transaction_id), division=invoice.division, customer_no=invoice.customer_no,
        deposit_date=TODAY, bank_code="A", deposit_description="PayTrace test", payment_type="VISA",
        amount=amount, authorization_no="TAS521", last4="5439", expiration_year=2030,
        expiration_month=12, card_type="VISA", cardholder_name="Ana Chen", credit_card_guid="",
        lines=(ReceiptLine(invoice_no=invoice.invoice_no, amount=amount),)))


class World:
    """The sandbox, the demo company, the warehouse's request store, and the flow's run."""

    def __init__(self, sandbox, company: Path, warehouse: Path) -> None:
        self.sandbox = sandbox
        self.company = company
        self.client = PayTraceClient(sandbox.base_url, username=sandbox.username, password=sandbox.password,
                                     integrator_id="SAGEPIPE0001", sleep=lambda seconds: None,
                                     retry=RetryPolicy(jitter=False, base_delay=0.0))
        self.writer = DemoCompanyWriter(company, clock=lambda: datetime(2026, 3, 2, 10, 0))
        self.reader = Sage100Reader.for_sqlite(company)
        self.connection = duckdb.connect(str(warehouse))
        self.store = RequestStore(self.connection)
        self._used: set[str] = set()

    def close(self) -> None:
        self.client.close()
        self.connection.close()

    def paid_sale(self, amount: str, *, settle: bool = True) -> tuple[int, str, str, str]:
        """A card sale paying `amount` of an open invoice (its balance stays above it), posted in Sage."""
        invoice = next(row for row in self.reader.open_invoices()
                       if row.invoice_type == "IN" and row.balance >= 3 * Decimal(amount)
                       and row.invoice_no not in self._used)
        self._used.add(invoice.invoice_no)
        sale = self.client.sale_keyed(VISA, Decimal(amount), invoice_id=f"INV{invoice.invoice_no}")
        assert sale.transaction_id is not None
        post_receipt(self.writer, sale.transaction_id, invoice, Decimal(amount))
        if settle:
            self.client.settle()
        return sale.transaction_id, invoice.division, invoice.customer_no, invoice.invoice_no

    def request(self, sale_id: int, amount: str, by: str = "alice") -> str:
        return request_refund(self.reader, self.writer, self.store, sale_transaction_id=sale_id, amount=Decimal(amount),
                              reason="damaged goods", requested_by=by, memo_date=TODAY).request_id

    def run(self, *, dry_run: bool = False, auto: str = "25.00") -> RunResult:
        return run_requests(self.reader, self.writer, self.client, self.store, payment_types=PAYMENT_TYPES,
                            auto_approve_up_to=Decimal(auto), dry_run=dry_run, today=TODAY)

    def state(self, request_id: str) -> str:
        request = self.store.get(request_id)
        assert request is not None
        return request.state

    def refunds_of(self, request_id: str) -> list:
        invoice_id = request_invoice_id(request_id)
        return [t for t in self.client.export_transactions(TODAY, TODAY, including_text=invoice_id, include_bin=False)
                if t.transaction_type == "REFUND" and t.invoice_id == invoice_id]

    def calls(self, route: str) -> int:
        return self.sandbox.engine.stats()["calls_by_route"].get(route, 0)

    def sage_refund_rows(self, key: str) -> list:
        import sqlite3

        connection = sqlite3.connect(self.company)
        try:
            return connection.execute("SELECT InvoiceNo, InvoiceType, TransactionAmt FROM AR_TransactionPaymentHistory "
                                      "WHERE CreditCardTransactionID = ?", (key,)).fetchall()
        finally:
            connection.close()


@pytest.fixture
def world(paytrace_sandbox, company_template, tmp_path) -> World:
    company = tmp_path / "company.db"
    shutil.copy(company_template, company)
    built = World(paytrace_sandbox, company, tmp_path / "warehouse.duckdb")
    yield built
    built.close()


def assert_recorded(world: World, request_id: str, key: str) -> None:
    """Recorded in Sage once under `key`."""
    request = world.store.get(request_id)
    assert request is not None
    assert request.state == "recorded"
    assert len([row for row in world.sage_refund_rows(key) if Decimal(str(row[2])) < 0]) >= 1


def test_under_the_threshold_is_approved_sent_and_recorded(world):
    sale_id, *_ = world.paid_sale("20.00")
    request_id = world.request(sale_id, "12.50")

    world.run()

    request = world.store.get(request_id)
    assert request is not None and request.approved_by == "auto" and request.action == "refund"
    [refund] = world.refunds_of(request_id)
    assert (refund.amount, request.paytrace_transaction_id) == (Decimal("12.50"), refund.transaction_id)
    world.run()  # a re-run sends nothing again
    assert world.calls(REFUND_ROUTE) == 1 and len(world.refunds_of(request_id)) == 1
    assert_recorded(world, request_id, str(refund.transaction_id))


def test_above_the_threshold_waits_for_another_person(world):
    sale_id, *_ = world.paid_sale("40.00")
    request_id = world.request(sale_id, "30.00", by="alice")

    world.run()
    assert world.state(request_id) == "awaiting_approval" and world.calls(REFUND_ROUTE) == 0

    from sage_paytrace_pipeline.refunds.requests import approve_request

    with pytest.raises(RequestRefused, match="maker-checker"):
        approve_request(world.store, request_id, approver="Alice")
    approve_request(world.store, request_id, approver="bob")
    with pytest.raises(RequestRefused, match="not awaiting approval"):
        approve_request(world.store, request_id, approver="carol")
    world.run()

    [refund] = world.refunds_of(request_id)
    assert refund.amount == Decimal("30.00")
    assert world.store.get(request_id).approved_by == "bob"
    assert_recorded(world, request_id, str(refund.transaction_id))


def test_rejected_request_sends_nothing(world):
    from sage_paytrace_pipeline.refunds.requests import reject_request

    sale_id, *_ = world.paid_sale("40.00")
    request_id = world.request(sale_id, "30.00")
    world.run()
    reject_request(world.store, request_id, reason="customer kept the goods", by="bob")
    world.run()
    assert world.state(request_id) == "rejected"
    assert world.calls(REFUND_ROUTE) == 0 and world.calls(VOID_ROUTE) == 0


def test_partial_refund_of_an_unsettled_sale_waits_for_the_batch(world):
    sale_id, *_ = world.paid_sale("20.00", settle=False)
    request_id = world.request(sale_id, "5.00")

    world.run()
    assert world.state(request_id) == "waiting_for_settlement"
    assert world.calls(REFUND_ROUTE) == 0 and world.calls(VOID_ROUTE) == 0

    world.client.settle()
    world.run()
    [refund] = world.refunds_of(request_id)
    assert refund.amount == Decimal("5.00")
    assert_recorded(world, request_id, str(refund.transaction_id))


def test_whole_amount_of_an_unsettled_sale_is_voided(world):
    sale_id, *_ = world.paid_sale("20.00", settle=False)
    request_id = world.request(sale_id, "20.00")

    world.run()

    assert world.client.export_transaction(sale_id).status is TransactionStatus.VOIDED
    request = world.store.get(request_id)
    assert (request.action, request.paytrace_transaction_id) == ("void", sale_id)
    assert world.calls(REFUND_ROUTE) == 0 and world.calls(VOID_ROUTE) == 1
    assert_recorded(world, request_id, f"V{sale_id}")


def test_above_what_remains_is_refused_and_nothing_is_sent(world):
    sale_id, *_ = world.paid_sale("20.00")
    first = world.request(sale_id, "15.00")
    world.run()
    assert world.state(first) in ("confirmed", "recorded")
    second = world.request(sale_id, "6.00")
    before = world.calls(REFUND_ROUTE)

    result = world.run()

    assert world.state(second) == "failed" and world.calls(REFUND_ROUTE) == before
    exceptions = result.exceptions
    assert "refund_above_remaining" in set(exceptions["kind"])
    assert "$6.00 is above what remains" in world.store.get(second).error


def test_dry_run_sends_nothing(world):
    sale_id, *_ = world.paid_sale("20.00")
    request_id = world.request(sale_id, "10.00")

    world.run(dry_run=True)

    assert world.state(request_id) == "approved"
    assert world.calls(REFUND_ROUTE) == 0 and world.calls(VOID_ROUTE) == 0
    events = world.store.events(request_id)
    assert events["reason"].str.startswith("dry run: would refund $10.00").any()


def test_lost_answer_after_commit_refunds_once_and_records_once(world):
    sale_id, division, customer, _ = world.paid_sale("30.00")
    # A clerk's memo left open (a CM credit), marked for the card; linked by hand to the sale.
    memo = world.writer.create_credit_memo(CreditMemo(
        reference="RMA-LOST", division=division, customer_no=customer, memo_date=TODAY, amount="12.50",
        account="4950-00", payment_type="VISA", entered_by="carol"))
    result = world.run()
    assert "memo_not_applied_to_card_paid_invoice" in set(result.exceptions["kind"])
    [request] = world.store.all("requested")
    assert (request.memo_no, request.requested_by) == (memo.documents["InvoiceNo"], "carol")
    world.store.note(request.request_id, actor="test", reason="linked by hand", sale_transaction_id=sale_id)
    world.sandbox.engine.set_faults([{"route": REFUND_ROUTE, "kind": "timeout_after_commit", "count": 1}], seed=3)

    world.run()
    world.sandbox.engine.clear_faults()

    [refund] = world.refunds_of(request.request_id)
    assert refund.amount == Decimal("12.50")
    stored = world.store.get(request.request_id)
    assert (stored.state, stored.paytrace_transaction_id) == ("recorded", refund.transaction_id)
    assert [row[2] for row in world.sage_refund_rows(str(refund.transaction_id))] == ["-12.50"]
    assert world.sandbox.engine.stats()["faults_by_kind"].get("timeout_after_commit") == 1

    calls = world.calls(REFUND_ROUTE)
    events = len(world.store.events())
    world.run()
    assert world.calls(REFUND_ROUTE) == calls and len(world.refunds_of(request.request_id)) == 1
    assert len(world.store.events()) == events
    assert [row[2] for row in world.sage_refund_rows(str(refund.transaction_id))] == ["-12.50"]



def test_lost_answer_after_commit_on_the_void_route_voids_once_and_records_once(world):
    sale_id, *_ = world.paid_sale("40.00", settle=False)
    request_id = world.request(sale_id, "40.00")
    world.sandbox.engine.set_faults([{"route": VOID_ROUTE, "kind": "timeout_after_commit", "count": 1}], seed=5)

    world.run(auto="100.00")
    world.sandbox.engine.clear_faults()

    assert world.sandbox.engine.stats()["faults_by_kind"].get("timeout_after_commit") == 1
    assert world.client.export_transaction(sale_id).status is TransactionStatus.VOIDED
    stored = world.store.get(request_id)
    assert stored is not None and (stored.state, stored.action) == ("recorded", "void")
    assert [row[2] for row in world.sage_refund_rows(f"V{sale_id}")] == ["-40.00"]
    # The void was committed once; the lost answer was adopted, not re-sent into an 818.
    calls = world.calls(VOID_ROUTE)
    world.run(auto="100.00")
    assert world.calls(VOID_ROUTE) == calls and world.state(request_id) == "recorded"
    assert [row[2] for row in world.sage_refund_rows(f"V{sale_id}")] == ["-40.00"]


# ------------------------------------------------------------------------------ the shell


@pytest.fixture
def shell(world, tmp_path, monkeypatch):
    config = tmp_path / "pipeline.yaml"
    config.write_text("refunds:\n  auto_approve_up_to: 0\n", encoding="utf-8")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    monkeypatch.setenv("SAGE100_DATABASE", str(world.company))
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("USER", "alice")
    return world


def test_shell_request_list_approve_reject(shell, capsys):
    from sage_paytrace_pipeline.cli import main

    sale_id, _, _, invoice = shell.paid_sale("40.00")
    assert main(["refunds", "request", "--transaction", str(sale_id), "--amount", "15.00",
                 "--reason", "returned two items"]) == 0
    printed = capsys.readouterr().out
    request_id = printed.strip().rsplit(" ", 1)[-1]
    assert printed.startswith("credit memo ") and f"on invoice {invoice}" in printed and request_id.startswith("CM-")
    [memo] = shell.reader.card_refund_requests(PAYMENT_TYPES)
    assert (memo.apply_to_invoice_no, memo.payment_type, memo.entered_by, memo.amount) == (
        invoice, "VISA", "alice", Decimal("15.00"))

    shell.run(auto="0")  # every refund needs a person
    assert main(["refunds", "list", "--state", "awaiting_approval"]) == 0
    assert request_id in capsys.readouterr().out

    assert main(["refunds", "approve", request_id, "--by", "alice"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "maker-checker" in error
    assert main(["refunds", "approve", request_id, "--by", "bob"]) == 0
    assert main(["refunds", "approve", request_id, "--by", "carol"]) == 1
    assert "not awaiting approval" in capsys.readouterr().err

    second_sale, *_ = shell.paid_sale("40.00")
    assert main(["refunds", "request", "--transaction", str(second_sale), "--amount", "5.00", "--reason", "dup",
                 "--by", "dave"]) == 0
    other = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert main(["refunds", "reject", other, "--reason", "duplicate request", "--by", "bob"]) == 0
    assert shell.state(other) == "rejected"
    assert main(["refunds", "request", "--transaction", "999999999", "--amount", "5.00", "--reason", "x"]) == 1
    assert "no receipt" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the asset


def _materialize(world: World, tmp_path: Path, refunds_yaml: str):
    import dagster as dg

    from sage_paytrace_pipeline.config import PipelineConfig
    from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
    from sage_paytrace_pipeline.defs.refunds.requests import build_refund_request_assets
    from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
    from sage_paytrace_pipeline.defs.settings import PipelineSettings
    from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager, WarehouseResource

    config = tmp_path / "pipeline.yaml"
    config.write_text("merchant:\n  first_business_day: '2026-03-01'\n" + refunds_yaml, encoding="utf-8")
    warehouse = str(tmp_path / "warehouse.duckdb")
    sandbox = world.sandbox
    resources = {
        "settings": PipelineSettings(config_path=str(config), check_environment=False),
        "sage100": Sage100Resource(database=str(world.company)),
        "paytrace": PayTraceResource(api_url=sandbox.base_url, username=sandbox.username, password=sandbox.password,
                                     integrator_id="SAGEPIPE0001"),
        "warehouse": WarehouseResource(database=warehouse),
        "io_manager": WarehouseIOManager(database=warehouse, schema="pipeline"),
    }
    assets = build_refund_request_assets(PipelineConfig.model_validate(
        {"merchant": {"first_business_day": "2026-03-01"}}))
    world.connection.close()  # the asset opens the warehouse itself
    try:
        return dg.materialize(assets, resources=resources, partition_key=TODAY.isoformat())
    finally:
        world.connection = duckdb.connect(warehouse)
        world.store = RequestStore(world.connection)


def test_asset_sends_once_reports_and_checks(world, tmp_path):
    sale_id, *_ = world.paid_sale("20.00")
    request_id = world.request(sale_id, "7.25")

    for _ in range(2):  # the second run changes nothing
        result = _materialize(world, tmp_path, "refunds:\n  auto_approve_up_to: 25.00\n")
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"no_refund_sent_twice": True, "refunds_within_sale": True}
    [refund] = world.refunds_of(request_id)
    assert refund.amount == Decimal("7.25") and world.calls(REFUND_ROUTE) == 1
    metadata = result.asset_materializations_for_node("sage_refund_requests")[0].metadata
    assert metadata["requests"].value == 1


def test_asset_with_refunds_off_does_nothing_and_says_so(world, tmp_path):
    sale_id, *_ = world.paid_sale("20.00")
    request_id = world.request(sale_id, "7.25")

    result = _materialize(world, tmp_path, "")

    assert result.success
    metadata = result.asset_materializations_for_node("sage_refund_requests")[0].metadata
    assert "refunds are off" in metadata["mode"].value
    assert world.state(request_id) == "requested" and world.calls(REFUND_ROUTE) == 0
