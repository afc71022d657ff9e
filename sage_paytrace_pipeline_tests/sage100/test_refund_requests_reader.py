"""Refund requests in Sage: credit memos marked with a card payment type, and the card payments on an invoice."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from sage_paytrace_pipeline.sage100.documents import CreditMemo, ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.sqlite_connection import open_demo_database
from sage_paytrace_pipeline_tests.sage100.writer_support import TODAY, customer_with_open_invoices, query, receipt


def test_marked_credit_memos_are_read_as_refund_requests_in_one_read(company, writer):
    division, customer, [(invoice, _)] = customer_with_open_invoices(company, 1)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount="1.00")],
                                     transaction_id="700101"))
    marked = writer.create_credit_memo(CreditMemo(
        reference="REQ-1", division=division, customer_no=customer, memo_date=TODAY, amount="0.50",
        apply_to_invoice_no=invoice, account="4950-00", payment_type="visa", entered_by="clerk1"))
    writer.create_credit_memo(CreditMemo(reference="RMA-PLAIN", division=division, customer_no=customer,
                                         memo_date=TODAY, amount="0.25", account="4950-00"))
    writer.create_credit_memo(CreditMemo(reference="PT-R9001", division=division, customer_no=customer,
                                         memo_date=TODAY, amount="0.25", account="4950-00", payment_type="VISA"))
    memo_no = marked.documents["InvoiceNo"]
    assert query(company, "SELECT PaymentType, UserCreatedKey FROM AR_InvoiceHistoryHeader WHERE InvoiceNo=?",
                 (memo_no,)) == [("VISA", "clerk1")]

    reader = Sage100Reader.for_sqlite(company)
    [request] = reader.card_refund_requests(["VISA", "MC"])

    assert (request.division, request.customer_no, request.memo_no, request.header_seq_no) == (
        division, customer, memo_no, "000000")
    assert (request.amount, request.apply_to_invoice_no, request.payment_type, request.entered_by,
            request.reference, request.memo_date) == (Decimal("0.50"), invoice, "VISA", "clerk1", "REQ-1", TODAY)
    assert reader.card_refund_requests([]) == []
    assert reader.card_refund_requests(["AMEX"]) == []

    payments = reader.card_payments_on_invoices([(division, customer, invoice), (division, customer, "9999999")])
    [payment] = payments[(division, customer, invoice)]
    assert (payment.transaction_id, payment.amount, payment.payment_type) == ("700101", Decimal("1.00"), "VISA")
    assert payments[(division, customer, "9999999")] == []


def test_a_memo_without_a_requester_carries_the_writers_user(company, writer):
    division, customer, [(invoice, _)] = customer_with_open_invoices(company, 1)
    result = writer.create_credit_memo(CreditMemo(reference="REQ-2", division=division, customer_no=customer,
                                                  memo_date=TODAY, amount="0.10", apply_to_invoice_no=invoice,
                                                  account="4950-00", payment_type="MC"))
    [(user,)] = query(company, "SELECT UserCreatedKey FROM AR_InvoiceHistoryHeader WHERE InvoiceNo=?",
                      (result.documents["InvoiceNo"],))
    assert user  # the writer's own user, never empty


def test_marked_credit_memos_are_read_by_an_index_seek_in_the_demo_company(company, writer):
    """A read a day: a scan of every history header (a year's invoices) cost the day a tenth of a second."""
    statements: list[str] = []

    def traced() -> sqlite3.Connection:
        connection = open_demo_database(company, read_only=True)
        connection.set_trace_callback(statements.append)
        return connection

    Sage100Reader(traced).card_refund_requests(["VISA", "MC"])
    [select] = [statement for statement in statements if statement.startswith("SELECT")]
    connection = open_demo_database(company, read_only=True)
    plan = " ".join(str(row[-1]) for row in connection.execute(f"EXPLAIN QUERY PLAN {select}"))
    assert "USING INDEX" in plan and "SCAN" not in plan, plan
