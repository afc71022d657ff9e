"""Sage -> PayTrace refund requests under a currency conversion (a CAD Sage company, a USD merchant).

Each sale is a real sandbox card sale in USD whose receipt is posted in the demo company in CAD, with
the receivables posting log row receivables writes (its applications carry the USD amount and the
rate), read by the asset's own reader (`defs.exchange.receipt_exchange`). The clerk's memos are in CAD; PayTrace is
asked for USD at the sale's rate; the card refund in Sage credits the memo's CAD amount.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

from sage_paytrace_pipeline.defs.exchange import receipt_exchange
from sage_paytrace_pipeline.domain.currency import RateTable, convert_back_cents, convert_cents
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents
from sage_paytrace_pipeline.receivables.posting_log import Intent, PostingLog
from sage_paytrace_pipeline.refunds.paytrace_to_sage import Conversion, RefundFlowSettings, post_paytrace_refunds
from sage_paytrace_pipeline.refunds.posting_log import RefundLog
from sage_paytrace_pipeline.refunds.requests import RunResult, run_requests
from sage_paytrace_pipeline.refunds.sending import RequestConversion
from sage_paytrace_pipeline.sage100.documents import CreditMemo
from sage_paytrace_pipeline.settlement.refunds import refunds_in_sage_currency, refunds_recorded_in_sage
from sage_paytrace_pipeline_tests.refunds import test_refund_requests as one_currency
from sage_paytrace_pipeline_tests.refunds.test_refund_requests import (
    PAYMENT_TYPES,
    REFUND_ROUTE,
    TODAY,
    VISA,
    VOID_ROUTE,
    World,
)

company_template, world = one_currency.company_template, one_currency.world  # the same fixtures

CAD_PER_USD = Decimal("1.3725")


def cad_sale(world: World, usd: str, rate: Decimal = CAD_PER_USD, *, settle: bool = True,
             recorded_rate: bool = True) -> tuple[int, int]:
    """A USD card sale paying part of a CAD invoice, its receipt posted in CAD at `rate` and logged as
    receivables logs it (without the rate: as a receipt posted before the conversion). (sale id, CAD cents)."""
    usd_cents = decimal_to_cents(Decimal(usd))
    cad_cents = convert_cents(usd_cents, rate)
    invoice = next(row for row in world.reader.open_invoices()
                   if row.invoice_type == "IN" and decimal_to_cents(row.balance) >= 3 * cad_cents
                   and row.invoice_no not in world._used)
    world._used.add(invoice.invoice_no)
    sale = world.client.sale_keyed(VISA, Decimal(usd), invoice_id=f"INV{invoice.invoice_no}")
    assert sale.transaction_id is not None
    line = {"invoice_no": invoice.invoice_no, "amount_cents": cad_cents}
    if recorded_rate:
        line |= {"paytrace_amount_cents": usd_cents, "fx_rate": str(rate)}
    log = PostingLog(world.connection, "receivables")
    log.record_intents([Intent(
        transaction_id=sale.transaction_id, business_date=TODAY, division=invoice.division,
        customer_no=invoice.customer_no, amount_cents=cad_cents, payment_type="VISA", payload_sha256="",
        applications_json=json.dumps([line]), link_json="{}")])
    one_currency.post_receipt(world.writer, sale.transaction_id, invoice, cents_to_decimal(cad_cents))
    log.record_confirmed(None, sale.transaction_id, deposit_no="", entry_no="", found_in_sage=False)  # as read back
    if settle:
        world.client.settle()
    return sale.transaction_id, cad_cents


def run(world: World, *, auto: str = "1000.00", dry_run: bool = False) -> RunResult:
    return run_requests(world.reader, world.writer, world.client, world.store, payment_types=PAYMENT_TYPES,
                        auto_approve_up_to=Decimal(auto), dry_run=dry_run, today=TODAY,
                        conversion=RequestConversion(receipt_exchange(world.connection, "requests"), ("USD", "CAD")))


def recorded_cad(world: World, refund_id: int) -> int:
    """What Sage's card refund of `refund_id` credited (CAD cents)."""
    return sum(-decimal_to_cents(Decimal(str(row[2]))) for row in world.sage_refund_rows(str(refund_id))
               if Decimal(str(row[2])) < 0)


def test_a_whole_receipt_refunds_exactly_the_sales_usd_and_records_the_memo_in_cad(world):
    # at this rate 20.03 USD -> 14.64 CAD, and 14.64 / rate rounds to 20.02: the whole receipt still gives 20.03
    rate = Decimal("0.7311")
    sale_id, cad = cad_sale(world, "20.03", rate)
    assert cad == 1464 and convert_back_cents(1464, rate) == 2002
    request_id = world.request(sale_id, "14.64")

    result = run(world, auto="14.64")  # the approval rule compares the memo's CAD amount (20.03 USD is above it)

    request = world.store.get(request_id)
    assert request.approved_by == "auto" and request.state == "recorded" and result.exceptions.empty
    assert (request.amount_cents, request.paytrace_amount_cents, request.fx_rate) == (1464, 2003, "0.7311")
    [refund] = world.refunds_of(request_id)
    assert refund.amount == Decimal("20.03")
    assert recorded_cad(world, refund.transaction_id) == 1464  # the memo's amount, what the receipt debited
    run(world)  # a re-run sends and records nothing again
    assert world.calls(REFUND_ROUTE) == 1 and len(world.refunds_of(request_id)) == 1
    assert recorded_cad(world, refund.transaction_id) == 1464
    # settlement: the refund passes through clearing at the memo's CAD amount and the sale's rate
    assert refunds_recorded_in_sage(world.connection, [refund.transaction_id]) == {refund.transaction_id}
    assert refunds_in_sage_currency(world.connection, [refund.transaction_id]) == {
        refund.transaction_id: (1464, "0.7311")}


def test_a_sale_refunded_in_parts_never_exceeds_the_sale_and_nets_to_the_receipt(world):
    sale_id, cad = cad_sale(world, "50.00")  # 68.63 CAD
    assert cad == 6863
    first = world.request(sale_id, "20.00")
    run(world)
    rest = world.request(sale_id, cents_to_decimal(cad - 2000).to_eng_string())  # the rest of the receipt
    run(world)
    over = world.request(sale_id, "0.01")  # the receipt is refunded in full: one cent more is an over-refund
    result = run(world)

    parts = [world.store.get(key) for key in (first, rest)]
    assert [(r.state, r.amount_cents, r.paytrace_amount_cents, r.fx_rate) for r in parts] == [
        ("recorded", 2000, 1457, "1.3725"),  # 20.00 / 1.3725 = 14.5719 -> 14.57
        ("recorded", 4863, 5000 - 1457, "1.3725")]  # the rest: exactly what remained of the sale
    refunds = [world.refunds_of(key)[0] for key in (first, rest)]
    assert sum(decimal_to_cents(r.amount) for r in refunds) == 5000
    refused = world.store.get(over)
    assert refused.state == "failed" and refused.paytrace_amount_cents is None
    assert result.exceptions["kind"].tolist() == ["refund_above_remaining"]
    assert "0.01 CAD is above what remains" in result.exceptions["problem"].iloc[0]
    assert world.calls(REFUND_ROUTE) == 2
    in_sage = refunds_in_sage_currency(world.connection, [r.transaction_id for r in refunds])
    assert sum(cents for cents, _ in in_sage.values()) == cad  # clearing: credited back what the receipt debited
    assert [recorded_cad(world, r.transaction_id) for r in refunds] == [2000, 4863]


def test_a_clerks_memo_above_the_receipt_is_refused_and_nothing_is_sent(world):
    sale_id, cad = cad_sale(world, "10.00")  # 13.73 CAD
    receipt = world.reader.receipt_for_transaction_id(str(sale_id))
    world.writer.create_credit_memo(CreditMemo(  # entered by a clerk in Sage, marked for a card refund
        reference="CLERK1", division=receipt.division, customer_no=receipt.customer_no, memo_date=TODAY,
        amount=Decimal("13.74"), apply_to_invoice_no=receipt.lines[0].invoice_no, comment="returned",
        payment_type="VISA", entered_by="clerk"))
    result = run(world)
    [request] = world.store.all()
    assert request.sale_transaction_id == sale_id and request.amount_cents == cad + 1
    assert request.state == "failed" and world.calls(REFUND_ROUTE) == 0 == world.calls(VOID_ROUTE)
    assert result.exceptions["kind"].tolist() == ["refund_above_remaining"]
    assert "13.74 CAD is above what remains of sale" in result.exceptions["problem"].iloc[0]


def test_the_dry_run_sends_nothing_and_says_both_amounts(world):
    sale_id, _ = cad_sale(world, "50.00")
    request_id = world.request(sale_id, "20.00")
    result = run(world, dry_run=True)
    assert world.calls(REFUND_ROUTE) == 0 == world.calls(VOID_ROUTE)
    assert result.sending.would_send == [{"request_id": request_id, "action": "refund", "sale_transaction_id": sale_id,
                                          "amount": "20.00", "paytrace_amount": "14.57", "fx_rate": "1.3725"}]
    assert world.state(request_id) == "approved"


def test_a_sale_whose_receipt_recorded_no_rate_is_excepted_and_nothing_is_sent(world):
    sale_id, _ = cad_sale(world, "50.00", recorded_rate=False)
    request_id = world.request(sale_id, "20.00")
    result = run(world)
    assert world.state(request_id) == "failed" and world.calls(REFUND_ROUTE) == 0 == world.calls(VOID_ROUTE)
    [problem] = result.exceptions.to_dict("records")
    assert problem["kind"] == "missing_exchange_rate"
    assert "recorded no USD->CAD rate" in problem["problem"] and "virtual terminal" in problem["action"]


def test_an_unsettled_whole_sale_is_voided_for_its_usd(world):
    sale_id, cad = cad_sale(world, "20.00", settle=False)
    request_id = world.request(sale_id, cents_to_decimal(cad).to_eng_string())
    run(world)
    request = world.store.get(request_id)
    assert (request.action, request.state, request.paytrace_amount_cents) == ("void", "recorded", 2000)
    assert world.calls(VOID_ROUTE) == 1 and world.calls(REFUND_ROUTE) == 0
    assert recorded_cad(world, f"V{sale_id}") == cad


def test_the_requests_refund_coming_back_from_paytrace_is_not_recorded_twice(world):
    sale_id, _ = cad_sale(world, "50.00")
    request_id = world.request(sale_id, "20.00")
    run(world)
    [refund] = world.refunds_of(request_id)
    day = pd.DataFrame([
        {"transaction_id": sale_id, "transaction_type": "SALE", "amount_cents": 5000, "invoice_id": "",
         "status": "SETTLED"},
        {"transaction_id": refund.transaction_id, "transaction_type": "REFUND", "amount_cents": 1457,
         "invoice_id": refund.invoice_id, "status": "PENDING"}]).assign(
        customer_id="", card_last4="5439", approval_code="A1", business_date=TODAY,
        created_at=pd.Timestamp(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)))
    settings = RefundFlowSettings(start_date=TODAY, conversion=Conversion(
        RateTable.from_rows([(TODAY, CAD_PER_USD)], 0), lambda ids: {}, ("USD", "CAD")))
    outcome = post_paytrace_refunds(day, day.head(0), day=TODAY, settings=settings, reader=world.reader,
                                    writer=world.writer, log=RefundLog(world.connection, "refunds"))
    assert outcome.selected == [] and outcome.written == [] and outcome.problems == []
    assert outcome.skipped  # recognised by its request's invoice id: the memo's own refund
    assert recorded_cad(world, refund.transaction_id) == 2000  # one card refund: the memo's, no second memo


def test_a_lost_answer_is_found_by_the_clients_look_up_and_the_usd_refunded_once(world):
    sale_id, _ = cad_sale(world, "30.00")
    request_id = world.request(sale_id, "12.50")  # 12.50 / 1.3725 = 9.1075 -> 9.11 USD
    world.sandbox.engine.set_faults([{"route": REFUND_ROUTE, "kind": "timeout_after_commit", "count": 1}], seed=3)
    run(world)
    world.sandbox.engine.clear_faults()
    assert world.sandbox.engine.stats()["faults_by_kind"].get("timeout_after_commit") == 1
    [refund] = world.refunds_of(request_id)
    stored = world.store.get(request_id)
    assert refund.amount == Decimal("9.11") and (stored.state, stored.paytrace_transaction_id) == (
        "recorded", refund.transaction_id)
    calls = world.calls(REFUND_ROUTE)
    run(world)
    assert world.calls(REFUND_ROUTE) == calls and len(world.refunds_of(request_id)) == 1
    assert recorded_cad(world, refund.transaction_id) == 1250


def test_a_reader_of_a_warehouse_written_before_the_currency_columns_reads_unconverted_requests(tmp_path):
    import duckdb

    from sage_paytrace_pipeline.refunds.request_store import RequestStore

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as connection:
        store = RequestStore(connection)
        connection.execute("ALTER TABLE pipeline.refund_requests DROP COLUMN paytrace_amount_cents")
        connection.execute("ALTER TABLE pipeline.refund_requests DROP COLUMN fx_rate")
        connection.execute("INSERT INTO pipeline.refund_requests VALUES ('CM-01-1-000000', '01', 'ABF', '1', "
                           "'000000', '0100', 7001, 1250, 'VISA', 'r', 'alice', now(), 'approved', '', NULL, "
                           "'SPR1', '', '', now())")
        del store
    with duckdb.connect(str(path), read_only=True) as connection:
        [request] = RequestStore(connection, create=False).all()
    assert (request.amount_cents, request.paytrace_amount_cents, request.fx_rate, request.paytrace_cents) == (
        1250, None, "", 1250)
