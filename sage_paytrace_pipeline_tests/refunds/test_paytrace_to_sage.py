"""PayTrace refunds and voids recorded in the demo company through the refund flow, exactly once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.refunds.paytrace_to_sage import RefundFlowSettings, post_paytrace_refunds
from sage_paytrace_pipeline.refunds.posting_log import RefundLog, confirmed_refunds
from sage_paytrace_pipeline.refunds.reversals import reverse_voids, sales_voided_by_requests
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    account_key,
    customer_with_open_invoices,
    dump,
    money,
    query,
    receipt,
)

DAY = date(2026, 3, 2)
SETTINGS = RefundFlowSettings(start_date=date(2026, 3, 1), credit_memo_account="4950-00")


def _tx(rows: list[dict]) -> pd.DataFrame:
    defaults = {"transaction_type": "SALE", "status": "SETTLED", "customer_id": "", "card_last4": "5439",
                "approval_code": "A1", "created_at": "2026-03-02 10:00", "business_date": DAY}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


@pytest.fixture
def sales(company, writer):
    """Three invoices of one customer, each paid in full by a card sale posted in Sage (5001-5003)."""
    division, customer, invoices = customer_with_open_invoices(company, 3)
    for n, (invoice, balance) in enumerate(invoices, start=1):
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)],
                                         transaction_id=str(5000 + n)))
    return division, customer, invoices


def _run(day_tx, warehouse_tx, *, reader, writer, connection, day=DAY):
    log = RefundLog(connection, "run")
    refunds = post_paytrace_refunds(day_tx, warehouse_tx, day=day, settings=SETTINGS, reader=reader, writer=writer,
                                    log=log)
    voids = reverse_voids(day_tx, day=day, reader=reader, writer=writer, log=log,
                          voided_by_requests=lambda ids: sales_voided_by_requests(connection, ids))
    return refunds, voids


def _balance(company, invoice):
    return money(query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo=? AND InvoiceType='IN'",
                       (invoice,))[0][0])


def _clearing(company) -> Decimal:
    rows = query(company, "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting WHERE AccountKey=?",
                 (account_key(company, "1061-00"),))
    return sum((money(d) - money(c) for d, c in rows), Decimal("0.00"))


def test_refunds_and_a_void_land_once_with_balances_to_the_cent(company, writer, reader, warehouse, sales):
    division, customer, [(i1, b1), (i2, b2), (i3, b3)] = sales
    cents = [decimal_to_cents(b) for b in (b1, b2, b3)]
    customer_before = money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE ARDivisionNo=? AND "
                                  "CustomerNo=?", (division, customer))[0][0])
    clearing_before = _clearing(company)
    day = _tx([
        {"transaction_id": 5001, "amount_cents": cents[0], "invoice_id": "WEB-1"},
        {"transaction_id": 5002, "amount_cents": cents[1], "invoice_id": "WEB-2"},
        {"transaction_id": 5003, "amount_cents": cents[2], "invoice_id": "WEB-3", "status": "VOIDED"},
        {"transaction_id": 5004, "amount_cents": 999, "invoice_id": "WEB-4"},  # not in Sage yet
        {"transaction_id": 9001, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": cents[0],
         "invoice_id": "WEB-1", "created_at": "2026-03-02 15:00"},  # full refund
        {"transaction_id": 9002, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 100,
         "invoice_id": "WEB-2", "created_at": "2026-03-02 15:00"},  # two partial refunds of one sale
        {"transaction_id": 9003, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 200,
         "invoice_id": "WEB-2", "created_at": "2026-03-02 15:01"},
        {"transaction_id": 9004, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 500,
         "invoice_id": "NOWHERE", "created_at": "2026-03-02 15:00"},  # unknown sale
        {"transaction_id": 9005, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 999,
         "invoice_id": "WEB-4", "created_at": "2026-03-02 15:00"},  # sale not in Sage yet
        {"transaction_id": 9006, "transaction_type": "REFUND", "status": "SETTLED", "amount_cents": 100,
         "invoice_id": "SPR0123456789abcdef", "created_at": "2026-03-02 15:00"},  # a request's: not ours
    ])

    refunds, voids = _run(day, day, reader=reader, writer=writer, connection=warehouse)

    assert sorted(refunds.written) == [9001, 9002, 9003]
    assert refunds.awaiting_sale == [9005]
    assert refunds.skipped == {"sent_by_a_sage_request": 1}
    kinds = refunds.exceptions().set_index("transaction_id")["kind"].to_dict()
    assert kinds == {9004: "refund_sale_unknown", 9005: "refund_awaiting_sale"}
    assert voids.receipts_reversed == [5003]
    assert (_balance(company, i1), _balance(company, i2), _balance(company, i3)) == (Decimal("0.00"),) * 2 + (b3,)
    customer_after = money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE ARDivisionNo=? AND "
                                 "CustomerNo=?", (division, customer))[0][0])
    assert customer_after == customer_before + b3
    assert _clearing(company) == clearing_before - b1 - Decimal("3.00") - b3
    assert sorted(confirmed_refunds(warehouse)["transaction_id"]) == [9001, 9002, 9003]

    before = dump(company)
    again, again_voids = _run(day, day, reader=reader, writer=writer, connection=warehouse)
    assert dump(company) == before
    assert (again.written, again_voids.receipts_reversed) == ([], [])

    # the sale's receipt arrives; the next day's run posts the waiting refund
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no="PP-5004", amount="9.99",
                                                                      prepayment=True)], transaction_id="5004"))
    later, _ = _run(day.iloc[:0], day, reader=reader, writer=writer, connection=warehouse, day=date(2026, 3, 3))
    assert later.written == [9005]
    assert money(query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo='PP-5004'")[0][0]) == Decimal(
        "0.00")


def test_a_voided_refund_is_reversed_once(company, writer, reader, warehouse, sales):
    _, _, [(i1, b1), _, _] = sales
    cents = decimal_to_cents(b1)
    sale = {"transaction_id": 5001, "amount_cents": cents, "invoice_id": "WEB-1"}
    refund = {"transaction_id": 9001, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": cents,
              "invoice_id": "WEB-1", "created_at": "2026-03-02 15:00"}
    day = _tx([sale, refund])
    _run(day, day, reader=reader, writer=writer, connection=warehouse)
    assert _balance(company, i1) == Decimal("0.00")

    voided = _tx([sale, {**refund, "status": "VOIDED"}])
    _, voids = _run(voided, voided, reader=reader, writer=writer, connection=warehouse)

    assert voids.refunds_reversed == [9001]
    assert _balance(company, i1) == -b1  # the memo's credit is back on the paid invoice
    before = dump(company)
    _, again = _run(voided, voided, reader=reader, writer=writer, connection=warehouse)
    assert again.refunds_reversed == [] and dump(company) == before


@pytest.mark.usefixtures("sales")
def test_two_sales_with_the_same_keys_make_an_ambiguous_refund(writer, reader, warehouse):
    day = _tx([{"transaction_id": 5001, "amount_cents": 1000, "invoice_id": "WEB-9"},
               {"transaction_id": 5002, "amount_cents": 1000, "invoice_id": "WEB-9"},
               {"transaction_id": 9001, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 500,
                "invoice_id": "WEB-9", "created_at": "2026-03-02 15:00"}])
    refunds, _ = _run(day, day, reader=reader, writer=writer, connection=warehouse)
    [row] = refunds.exceptions().to_dict("records")
    assert (row["kind"], row["source_ids"]) == ("refund_sale_ambiguous", "paytrace:9001 candidates:5001,5002")
    assert refunds.written == []



def test_warehouse_sales_include_captured_authorizations():
    """PayTrace exports a captured authorization as AUTHORIZATION (settled): a refund may come from it."""
    import duckdb

    from sage_paytrace_pipeline.refunds.paytrace_to_sage import _WAREHOUSE_COLUMNS, warehouse_transactions

    connection = duckdb.connect()
    types = {"transaction_id": "BIGINT", "amount_cents": "BIGINT", "business_date": "DATE"}
    columns = ", ".join(f"{c} {types.get(c, 'VARCHAR')}" for c in dict.fromkeys(("business_date", *_WAREHOUSE_COLUMNS)))
    connection.execute(f"CREATE SCHEMA pipeline; CREATE TABLE pipeline.paytrace_transactions ({columns})")
    for tid, kind in ((1, "SALE"), (2, "AUTHORIZATION"), (3, "REFUND"), (4, "VOID")):
        connection.execute("INSERT INTO pipeline.paytrace_transactions (business_date, transaction_id, "
                           "transaction_type) VALUES ('2026-03-01', ?, ?)", [tid, kind])
    assert sorted(warehouse_transactions(connection)["transaction_id"]) == [1, 2, 3]


def test_under_a_conversion_a_refund_without_its_sales_rate_waits_for_the_days_rate(
        company, writer, reader, warehouse, sales):
    from sage_paytrace_pipeline.domain.currency import RateTable
    from sage_paytrace_pipeline.refunds.paytrace_to_sage import Conversion

    def settings(rates: RateTable) -> RefundFlowSettings:  # the sales' receipts recorded no rate
        return RefundFlowSettings(start_date=date(2026, 3, 1), credit_memo_account="4950-00",
                                  conversion=Conversion(rates, lambda ids: {}, ("USD", "CAD")))

    day = _tx([{"transaction_id": 5001, "amount_cents": 2000, "invoice_id": "WEB-1"},
               {"transaction_id": 9101, "transaction_type": "REFUND", "status": "PENDING", "amount_cents": 1001,
                "invoice_id": "WEB-1", "created_at": "2026-03-02 15:00"}])
    log = RefundLog(warehouse, "run")
    without = post_paytrace_refunds(day, day.head(0), day=DAY, settings=settings(RateTable.from_rows([], 0)),
                                    reader=reader, writer=writer, log=log)
    assert without.written == [] and [p.kind for p in without.problems] == ["missing_exchange_rate"]
    assert "rate of 2026-03-02" in without.problems[0].problem
    rates = RateTable.from_rows([(DAY, Decimal("0.5"))], 0)
    for _ in range(2):  # the rate added: recorded once, at the refund day's rate (half up)
        post_paytrace_refunds(day, day.head(0), day=DAY, settings=settings(rates), reader=reader, writer=writer,
                              log=log)
    recorded = reader.card_refunds_for_transaction_ids(["9101"])
    assert [decimal_to_cents(r.amount) for r in recorded] == [501]
    assert warehouse.execute("SELECT amount_cents, sage_amount_cents, fx_rate, state FROM pipeline.sage_refund_log "
                             "WHERE transaction_id = 9101").fetchall() == [(1001, 501, "0.5", "confirmed")]
