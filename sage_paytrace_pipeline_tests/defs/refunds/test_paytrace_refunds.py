"""PayTrace -> Sage refunds end to end on the sandboxes: the day is run by Dagster, Sage checked to the cent.

A day of crafted card payments is posted intraday by the daily job; then in PayTrace one sale is
voided, the batch settles, one sale is refunded in full, another twice in part, and a keyed refund
of no known sale is made. Running the day again (the daily job, then the refunds group) records the
refunds in Sage, reverses the voided sale's receipt, and a third run changes nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import duckdb

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline.sage100.models import OpenInvoice
from sage_paytrace_pipeline_tests.conftest import SandboxApi
from sage_paytrace_pipeline_tests.defs.receivables.conftest import FIRST_DAY, REPO, World

DAY = date(2026, 3, 4)
VISA = "4012000098765439"
CARD = CardInput(number=VISA, expiration_month=12, expiration_year=2029, csc="999")


def _run_refunds(day: date) -> dg.ExecuteInProcessResult:
    job = dg.define_asset_job("refunds_under_test", selection=dg.AssetSelection.groups("refunds"))
    definitions = dg.Definitions.merge(defs(), dg.Definitions(jobs=[job]))
    return definitions.resolve_job_def("refunds_under_test").execute_in_process(
        partition_key=day.isoformat(), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _refund(api: SandboxApi, body: dict, route: str = "for_transaction") -> int:
    status, answer = api.post(f"/v1/transactions/refund/{route}", body)
    assert status == 200 and answer["success"], answer
    return int(answer["transaction_id"])


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {check.check_name: check.passed for check in result.get_asset_check_evaluations()}


def _gl(world: World, account: str) -> Decimal:
    with sqlite3.connect(world.sage_db) as connection:
        rows = connection.execute(
            "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting g JOIN GL_Account a USING (AccountKey) "
            "WHERE a.Account = ?", (account,)).fetchall()
    return sum((Decimal(str(d)) - Decimal(str(c)) for d, c in rows), Decimal("0.00")).quantize(Decimal("0.01"))


def _three_invoices(world: World) -> list[OpenInvoice]:
    """Three open invoices of three different customers, each above $20."""
    chosen: list[OpenInvoice] = []
    for invoice in world.reader().open_invoices():
        if invoice.invoice_type == "IN" and invoice.balance > Decimal("20.00") and invoice.customer_no not in {
                i.customer_no for i in chosen}:
            chosen.append(invoice)
    return chosen[:3]


def test_refunds_and_a_void_after_posting_land_in_sage_once(world):
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 9, 0))
    reader = world.reader()
    customers = {(c.division, c.customer_no): c for c in reader.customers()}
    full, partial, voided = _three_invoices(world)
    with world.client() as client:
        sales = {
            invoice.invoice_no: client.sale_keyed(
                CARD, amount=invoice.balance, description=f"Payment for invoice #{invoice.invoice_no}",
                invoice_id=f"WEB{invoice.invoice_no}",
                billing_address=Address(name=customers[(invoice.division, invoice.customer_no)].name))
            for invoice in (full, partial, voided)}
    balances_before = {(c.division, c.customer_no): c.current_balance for c in reader.customers()}
    assert world.run_day(DAY).success  # intraday: the three receipts post
    assert {r.transaction_id for r in reader.receipts_for_transaction_ids(
        str(s.transaction_id) for s in sales.values())} == {str(s.transaction_id) for s in sales.values()}
    clearing_after_receipts = _gl(world, "1061-00")

    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 12, 0))
    with world.client() as client:
        client.void(sales[voided.invoice_no].transaction_id)
        client.settle()
    # Refunds as staff make them in PayTrace's virtual terminal: no invoice_id given, so PayTrace keeps the
    # sale's (the pipeline's own client always sends a look-up key instead).
    api = SandboxApi(world.handle)
    try:
        refund_full = _refund(api, {"transaction_id": sales[full.invoice_no].transaction_id})
        refund_a = _refund(api, {"transaction_id": sales[partial.invoice_no].transaction_id, "amount": "5.00"})
        refund_b = _refund(api, {"transaction_id": sales[partial.invoice_no].transaction_id, "amount": "2.50"})
        stranger = _refund(api, {"amount": "12.34", "credit_card": {  # keyed: names no sale
            "number": VISA, "expiration_month": 12, "expiration_year": 2029}}, route="keyed")
    finally:
        api.close()

    assert world.run_day(DAY).success
    result = _run_refunds(DAY)
    assert result.success and all(_checks(result).values()), _checks(result)

    after = {(i.invoice_no, i.invoice_type): i.balance for i in world.reader().open_invoices(with_balance_only=False)
             if i.customer_no in {full.customer_no, partial.customer_no, voided.customer_no}}
    assert after[(full.invoice_no, "IN")] == Decimal("0.00")
    assert after[(partial.invoice_no, "IN")] == Decimal("0.00")
    assert after[(voided.invoice_no, "IN")] == voided.balance  # reinstated
    balances = {(c.division, c.customer_no): c.current_balance for c in world.reader().customers()}
    for invoice in (full, partial):
        key = (invoice.division, invoice.customer_no)
        assert balances[key] == balances_before[key] - invoice.balance
    assert balances[(voided.division, voided.customer_no)] == balances_before[(voided.division, voided.customer_no)]
    refunded = full.balance + Decimal("7.50")
    assert _gl(world, "1061-00") == clearing_after_receipts - refunded - voided.balance

    recorded = {r.transaction_id: r.amount for r in world.reader().card_refunds_for_transaction_ids(
        str(r) for r in (refund_full, refund_a, refund_b))}
    assert recorded == {str(refund_full): full.balance, str(refund_a): Decimal("5.00"), str(refund_b): Decimal("2.50")}
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        log = connection.execute("SELECT kind, state, count(*) FROM pipeline.sage_refund_log GROUP BY ALL "
                                 "ORDER BY kind").fetchall()
    assert log == [("receipt_reversal", "confirmed", 1), ("refund", "confirmed", 3)]
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        kinds = dict(connection.execute("SELECT transaction_id, kind FROM pipeline.refund_exceptions").fetchall())
    assert kinds == {stranger: "refund_sale_unknown"}

    posted = world.sage_rows()
    again = _run_refunds(DAY)
    assert again.success and all(_checks(again).values())
    assert world.sage_rows() == posted


def test_without_a_refunds_section_the_assets_touch_nothing_and_say_so(world, tmp_path, monkeypatch):
    text = (REPO / "config" / "example.yaml").read_text()
    start = text.index("\nrefunds:")
    end = text.index("\nbank:")
    config = tmp_path / "no-refunds.yaml"
    config.write_text(text[:start] + text[end:])
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    assert world.run_day(FIRST_DAY).success
    posted = world.sage_rows()

    result = _run_refunds(FIRST_DAY)

    assert result.success and all(_checks(result).values())
    assert world.sage_rows() == posted
    materialized = result.asset_materializations_for_node("record_paytrace_refunds")
    flows = {m.asset_key.to_user_string(): m.metadata["flow"].value for m in materialized}
    assert set(flows) == {"sage_card_refunds", "refund_exceptions"}
    assert all(flow.startswith("off") for flow in flows.values())
