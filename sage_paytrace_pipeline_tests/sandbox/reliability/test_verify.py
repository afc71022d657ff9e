"""The campaign's judge must see what it is there to see: a duplicate, a loss, a wrong balance, an
unbalanced register. A clean day passes; the same day with a receipt copied in Sage fails."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import duckdb

from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sandbox.reliability.verify import ApprovedSale, verify_books
from sage_paytrace_pipeline.sandbox.reliability.world import (
    PlannedPayment,
    open_invoice_balances,
)
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    TODAY,
    customer_with_open_invoices,
    receipt,
)

POSTED, LOST, EXCEPTED = 820001, 820002, 820003


def a_posted_day(company, writer, tmp_path):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, count=1)
    opening = open_invoice_balances(company)
    paid = (balance / 2).quantize(Decimal("0.01"))
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=paid)],
                                     transaction_id=str(POSTED)))
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE SCHEMA pipeline; "
                           "CREATE TABLE pipeline.receivable_exceptions (transaction_id BIGINT)")
        connection.execute("INSERT INTO pipeline.receivable_exceptions VALUES (?)", [EXCEPTED])
    sales = [ApprovedSale(POSTED, paid, f"INV-{invoice}", TODAY), ApprovedSale(LOST, Decimal("5.00"), "", TODAY),
             ApprovedSale(EXCEPTED, Decimal("7.00"), "", TODAY)]
    planned = {POSTED: PlannedPayment(paid, {invoice: paid}, "generated")}
    return warehouse, sales, planned, opening


def test_a_clean_day_is_judged_by_sage_paytrace_and_the_plan(company, writer, tmp_path):
    warehouse, sales, planned, opening = a_posted_day(company, writer, tmp_path)
    verdict = verify_books(company, warehouse, sales, planned, opening)
    assert (verdict.posted_once, verdict.excepted, verdict.missing) == (1, 1, [LOST])
    assert verdict.applied_as_planned == 1 and verdict.invoices_checked == len(opening)
    assert not (verdict.duplicates or verdict.invoice_balance_errors or verdict.unbalanced_journals)
    assert verdict.journals_checked >= 1


def test_a_receipt_twice_in_sage_and_an_unbalanced_register_are_found(company, writer, tmp_path):
    warehouse, sales, planned, opening = a_posted_day(company, writer, tmp_path)
    with sqlite3.connect(company) as connection:  # a second receipt for the same payment, as a bad re-post would
        columns = [row[1] for row in connection.execute("PRAGMA table_info(AR_CashReceiptsHistory)")]
        copied = ", ".join("'99999'" if name == "DepositNo" else name for name in columns)
        connection.execute(f"INSERT INTO AR_CashReceiptsHistory SELECT {copied} FROM AR_CashReceiptsHistory "
                           "WHERE CreditCardTransactionID = ?", (str(POSTED),))
        connection.execute("INSERT INTO GL_DetailPosting (AccountKey, PostingDate, SourceJournal, JournalRegisterNo, "
                           "SequenceNo, DebitAmount, CreditAmount) VALUES ('X', '2026-03-02', 'GJ', '999999', '1', "
                           "'10.00', '0.00')")
    verdict = verify_books(company, warehouse, sales, planned, opening)
    assert verdict.duplicates == [POSTED] and verdict.missing == [LOST]
    assert len(verdict.invoice_balance_errors) == 1, "the invoice was reduced once, the receipts say twice"
    assert verdict.unbalanced_journals == ["GJ 999999: off by 10.00"]
    assert not verdict.ok
