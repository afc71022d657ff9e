"""Receipts posted in chunks (`DemoCompanyWriter.post_card_receipts`): the same rows as one call per
receipt, each receipt atomic inside its chunk's transaction, and every look-up an indexed point query."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from sage_paytrace_pipeline.sage100.documents import CardReceipt, DocumentResult, ReceiptLine
from sage_paytrace_pipeline.sage100.errors import AmountExceedsBalanceError, Sage100ValidationError, Sage100WriteError
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA
from sage_paytrace_pipeline.sage100.writer import POST_CARD_RECEIPT
from sage_paytrace_pipeline.sandbox.sage100.company import receipts as demo_receipts
from sage_paytrace_pipeline.sandbox.sage100.company import writer as writer_module
from sage_paytrace_pipeline.sandbox.sage100.company.receipt_chunk import ReceiptChunk, can_post
from sage_paytrace_pipeline.sandbox.sage100.company.store import open_writer_connection, transaction_on
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.faults import FaultInjectingDemoWriter, write_fault_file
from sage_paytrace_pipeline_tests.sage100.writer_support import NOW, dump, query, receipt


def open_lines(company: Path, count: int) -> list[tuple[str, str, str, Decimal]]:
    """(division, customer, invoice, balance) of `count` open IN invoices of active customers."""
    rows = query(company, """
        SELECT o.ARDivisionNo, o.CustomerNo, o.InvoiceNo, o.Balance FROM AR_OpenInvoice o
        JOIN AR_Customer c ON c.ARDivisionNo = o.ARDivisionNo AND c.CustomerNo = o.CustomerNo
        WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' AND CAST(o.Balance AS NUMERIC) > 1
        ORDER BY o.InvoiceNo""")
    assert len(rows) >= count, "the demo company has too few open invoices"
    return [(division, customer, invoice, Decimal(balance)) for division, customer, invoice, balance in rows[:count]]


def day_of_receipts(company: Path, count: int = 6) -> list[CardReceipt]:
    """Receipts on several customers: paid in full, in part, one prepayment, two on one invoice."""
    lines = open_lines(company, count)
    receipts = []
    for number, (division, customer, invoice, balance) in enumerate(lines):
        amount = balance if number % 2 == 0 else Decimal("1.00")
        line = ReceiptLine(invoice_no=f"P{number:06d}", amount=Decimal("12.50"), prepayment=True) if number == 3 \
            else ReceiptLine(invoice_no=invoice, amount=amount)
        receipts.append(receipt(division, customer, [line], transaction_id=str(910_000 + number)))
    division, customer, invoice, _ = lines[1]  # a second receipt on an invoice paid in part before
    receipts.append(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=Decimal("0.50"))],
                            transaction_id="910100"))
    return receipts


def too_much(company: Path, transaction_id: str) -> CardReceipt:
    """A receipt Sage refuses: more than the open balance of an invoice the day leaves alone."""
    division, customer, invoice, balance = open_lines(company, 4)[3]
    return receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance + Decimal("100.00"))],
                   transaction_id=transaction_id)


def outcomes_of(writer: DemoCompanyWriter, receipts: list[CardReceipt]) -> list[tuple[str, object]]:
    return [(document.transaction_id, outcome) for chunk in writer.post_card_receipts(receipts)
            for document, outcome in chunk]


def one_call_per_receipt(company, receipts) -> list[tuple[str, object]]:
    """Each receipt's outcome posted alone (its result, or the type of its refusal): what a chunk must equal."""
    single = DemoCompanyWriter(company, clock=lambda: NOW)
    outcomes: list[tuple[str, object]] = []
    for document in receipts:
        try:
            outcomes.append((document.transaction_id, single.post_card_receipt(document)))
        except Sage100ValidationError as refusal:
            outcomes.append((document.transaction_id, type(refusal)))
    return outcomes


def test_a_chunk_writes_the_same_rows_as_one_call_per_receipt(company, tmp_path):
    one_by_one = tmp_path / "one_by_one.db"
    shutil.copy(company, one_by_one)
    receipts = [*day_of_receipts(company), too_much(company, "910200")]

    expected = one_call_per_receipt(one_by_one, receipts)
    chunked = outcomes_of(DemoCompanyWriter(company, clock=lambda: NOW), receipts)

    assert [(tid, type(o) if isinstance(o, Exception) else o) for tid, o in chunked] == expected
    assert dump(company) == dump(one_by_one)


def test_one_bad_receipt_in_a_chunk_rolls_back_only_itself(company, tmp_path):
    """Good, refused, good, failing after its rows are entered, good: the refusal is an outcome, the
    failure ends the call after the two good receipts before it are committed; the books are exactly
    those of the two good receipts alone."""
    good = day_of_receipts(company, count=3)[:3]
    refused = too_much(company, "910300")
    reference = tmp_path / "reference.db"
    shutil.copy(company, reference)
    for document in (good[0], good[1]):
        DemoCompanyWriter(reference, clock=lambda: NOW).post_card_receipt(document)
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "fail", "at": 3}])
    writer = FaultInjectingDemoWriter(company, faults_file=faults, clock=lambda: NOW)
    failing = good[2]
    after = receipt(good[0].division, good[0].customer_no, [ReceiptLine(invoice_no="P999999", amount=Decimal("5.00"),
                                                                        prepayment=True)], transaction_id="910301")

    chunks = writer.post_card_receipts([good[0], refused, good[1], failing, after])
    outcomes = next(chunks)
    with pytest.raises(Sage100WriteError, match="injected"):
        next(chunks)

    assert [document.transaction_id for document, _ in outcomes] == [good[0].transaction_id, "910300",
                                                                      good[1].transaction_id]
    assert isinstance(outcomes[1][1], AmountExceedsBalanceError)
    assert all(isinstance(outcome, DocumentResult) and outcome.created for _, outcome in (outcomes[0], outcomes[2]))
    assert dump(company) == dump(reference), "nothing of the refused, the failed or the later receipt is in Sage"


def test_every_look_up_of_posting_is_an_indexed_point_query(company):
    """Every SELECT, UPDATE and DELETE the writer runs while posting receipts searches an index."""
    DemoCompanyWriter(company)  # the UDF columns and the look-up indexes
    connection = open_writer_connection(company)
    statements: list[str] = []
    try:
        connection.set_trace_callback(statements.append)
        with transaction_on(connection, DEFAULT_SCHEMA, user="PAYTRACE", now=NOW) as session:
            for document in day_of_receipts(company):
                demo_receipts.enter_card_receipt(session, document, post=True)
        connection.set_trace_callback(None)
        looked_up = [sql for sql in statements if sql.split()[0] in ("SELECT", "UPDATE", "DELETE")]
        plans = {sql: [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")] for sql in looked_up}
    finally:
        connection.close()

    assert len(looked_up) > 100
    tables = {detail.split()[1] for details in plans.values() for detail in details}
    assert {"AR_CashReceiptsHistory", "AR_CashReceiptsHeader", "AR_OpenInvoice", "AR_TransactionPaymentHistory",
            "GL_DetailPosting", "SY_NextNumber", "AR_Customer"} <= tables
    scans = {sql: details for sql, details in plans.items() if not all(d.startswith("SEARCH ") for d in details)}
    assert scans == {}
    unindexed = {sql for sql, details in plans.items() if not all(" INDEX " in d for d in details)}
    assert unindexed == set()
    bounded = [sql for sql in looked_up if sql.startswith("SELECT") and "MAX(" not in sql]
    assert all(sql.endswith("LIMIT 1") or "AR_CashReceiptsDetail" in sql or "AR_CashReceiptsHeader WHERE DepositNo"
               in sql for sql in bounded), "one row is meant: LIMIT 1"


def test_chunks_posted_at_once_keep_the_books_of_one_call_per_receipt_across_chunks(company, tmp_path, monkeypatch):
    """`ReceiptChunk` over chunks of three: a receipt posted earlier, one twice in the input, two
    prepayments to one PP number, several receipts of one customer and invoice, refusals between
    them; every table as one `post_card_receipt` per receipt leaves it."""
    monkeypatch.setattr(writer_module, "RECEIPT_CHUNK", 3)
    one_by_one = tmp_path / "one_by_one.db"
    day = day_of_receipts(company)
    DemoCompanyWriter(company, clock=lambda: NOW).post_card_receipt(day[0])  # in Sage before the run
    shutil.copy(company, one_by_one)
    division, customer = day[1].division, day[1].customer_no
    prepayments = [receipt(division, customer, [ReceiptLine(invoice_no="P777777", amount=Decimal(amount),
                                                            prepayment=True)], transaction_id=tid)
                   for tid, amount in (("910400", "3.00"), ("910401", "4.25"))]
    receipts = [day[0], *day[1:4], too_much(company, "910200"), day[2], *prepayments, *day[4:],
                too_much(company, "910201")]

    expected = one_call_per_receipt(one_by_one, receipts)
    chunked = outcomes_of(DemoCompanyWriter(company, clock=lambda: NOW), receipts)

    assert [(tid, type(o) if isinstance(o, Exception) else o) for tid, o in chunked] == expected
    assert [o.created for _, o in chunked if isinstance(o, DocumentResult)].count(False) == 2
    assert dump(company) == dump(one_by_one)


def test_a_chunk_posted_at_once_reads_by_index_only(company):
    """Every statement of `ReceiptChunk` searches an index: the chunk's `IN` look-ups and the point
    queries (the one scan allowed is `can_post`'s LIMIT 1 on the empty entry tables)."""
    DemoCompanyWriter(company)
    connection = open_writer_connection(company)
    statements: list[str] = []
    try:
        connection.set_trace_callback(statements.append)
        with transaction_on(connection, DEFAULT_SCHEMA, user="PAYTRACE", now=NOW) as session:
            assert can_post(session)
            chunk = ReceiptChunk(session, day_of_receipts(company))
            for document in day_of_receipts(company):
                chunk.post(document)
            chunk.write_changes()
        connection.set_trace_callback(None)
        entry_checks = ("FROM AR_CashReceiptsDeposit LIMIT", "FROM AR_CashReceiptsHeader LIMIT")
        looked_up = [sql for sql in statements if sql.split()[0] in ("SELECT", "UPDATE", "DELETE")
                     and not any(check in sql for check in entry_checks)]
        plans = {sql: [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}")] for sql in looked_up}
    finally:
        connection.close()
    assert any(" IN (" in sql for sql in looked_up)
    scans = {sql: details for sql, details in plans.items()
             if not all(d.startswith("SEARCH ") or "LIST SUBQUERY" in d for d in details)}
    assert scans == {}
