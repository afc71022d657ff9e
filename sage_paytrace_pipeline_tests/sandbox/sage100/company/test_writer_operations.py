"""Customers, vault cards, orders and invoices, credit memos, refunds and journal entries in the demo company."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.sage100.documents import (
    CardRefund,
    CreditMemo,
    CustomerRecord,
    JournalEntry,
    JournalLine,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import (
    AmountExceedsBalanceError,
    DocumentStateError,
    InactiveAccountError,
    InsufficientStockError,
    InvoiceOfAnotherCustomerError,
    UnbalancedJournalEntryError,
    UnknownAccountError,
    UnknownCustomerError,
    UnknownItemError,
    UnknownPaymentTypeError,
)
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.sandbox.sage100.card_scan import card_numbers_in_database
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    NOW,
    TODAY,
    account_key,
    customer_with_open_invoices,
    dump,
    gl_totals,
    money,
    query,
    receipt,
)


def test_demo_writer_implements_the_protocol(writer):
    assert isinstance(writer, Sage100Writer)


# ---------------------------------------------------------------------------------- customers


def test_upsert_customer_creates_with_next_number_then_is_idempotent_and_updates(company, writer):
    record = CustomerRecord(reference="ptc-cust-1", division="01", name="Acme Tools", city="Spokane", state="wa",
                            zip_code="99201", email="ap@acme.example", terms_code="01")
    created = writer.upsert_customer(record)
    assert created.created and created.documents == {"ARDivisionNo": "01", "CustomerNo": "0000041"}
    row = query(company, "SELECT CustomerName, State, DefaultPaymentType, CustomerStatus, UDF_PAYTRACE_REF "
                "FROM AR_Customer WHERE CustomerNo = '0000041'")
    assert row == [("Acme Tools", "WA", "CHECK", "A", "ptc-cust-1")]

    before = dump(company)
    again = writer.upsert_customer(record)
    assert (again.created, again.documents, again.updated, dump(company)) == (False, created.documents, (), before)

    moved = writer.upsert_customer(record.model_copy(update={"city": "Seattle", "email": ""}))
    assert moved.updated == ("City",) and moved.documents == created.documents
    assert query(company, "SELECT City, EmailAddress FROM AR_Customer WHERE CustomerNo='0000041'") == [
        ("Seattle", "ap@acme.example")]


def test_upsert_customer_refuses_unknown_terms_and_a_reference_linked_elsewhere(company, writer):
    before = dump(company)
    with pytest.raises(Exception, match="terms code ZZ"):
        writer.upsert_customer(CustomerRecord(reference="r1", division="01", name="X", terms_code="ZZ"))
    assert dump(company) == before
    writer.upsert_customer(CustomerRecord(reference="r2", division="01", name="Y"))
    with pytest.raises(DocumentStateError):
        writer.upsert_customer(CustomerRecord(reference="r2", division="01", customer_no="RIVE0001", name="Y"))


# -------------------------------------------------------------------------------- vault cards


def test_store_vault_card_saves_token_only_and_is_idempotent(company, writer):
    card = VaultCard(division="01", customer_no="RIVE0001", credit_card_guid="PTVAULT-77", payment_type="VISA",
                     last4="1111", expiration_year=2029, expiration_month=7, card_type="VISA",
                     cardholder_name="Ana Chen")
    first = writer.store_vault_card(card)
    assert first.created and first.documents["CreditCardID"] == "VISA1111"
    stored = query(company, "SELECT CreditCardGUID, Last4UnencryptedCreditCardNos, ExpirationDateYear, "
                   "ExpirationDateMonth, CardType FROM AR_CustomerCreditCard WHERE CreditCardGUID='PTVAULT-77'")
    assert stored == [("PTVAULT-77", "1111", "2029", "07", "4")]
    before = dump(company)
    again = writer.store_vault_card(card)
    assert (again.created, again.documents, dump(company)) == (False, first.documents, before)
    renewed = writer.store_vault_card(card.model_copy(update={"expiration_year": 2031}))
    assert renewed.updated == ("ExpirationDateYear",)


def test_vault_card_refuses_a_card_number_anywhere():
    with pytest.raises(ValidationError) as refused:
        VaultCard(division="01", customer_no="RIVE0001", credit_card_guid="4012000098765439", payment_type="VISA",
                  last4="5439", expiration_year=2029, expiration_month=7)
    assert "4012000098765439" not in str(refused.value)
    with pytest.raises(ValidationError):
        VaultCard(division="01", customer_no="RIVE0001", credit_card_guid="g", payment_type="VISA", last4="5439",
                  expiration_year=2029, expiration_month=7, cardholder_name="4012 0000 9876 5439")


def test_store_vault_card_refuses_unknown_customer_and_non_card_payment_type(company, writer):
    card = VaultCard(division="01", customer_no="NOBODY", credit_card_guid="g1", payment_type="VISA", last4="1111",
                     expiration_year=2029, expiration_month=7)
    with pytest.raises(UnknownCustomerError):
        writer.store_vault_card(card)
    with pytest.raises(UnknownPaymentTypeError):
        writer.store_vault_card(card.model_copy(update={"customer_no": "RIVE0001", "payment_type": "CHECK"}))


# ----------------------------------------------------------------------- orders and invoices


def _stock(company, item, warehouse="000"):
    on_hand, on_order = query(company, "SELECT QuantityOnHand, QuantityOnSalesOrder FROM IM_ItemWarehouse "
                              "WHERE ItemCode=? AND WarehouseCode=?", (item, warehouse))[0]
    total = query(company, "SELECT TotalQuantityOnHand FROM CI_Item WHERE ItemCode=?", (item,))[0][0]
    return Decimal(str(on_hand)), Decimal(str(on_order)), Decimal(str(total))


def test_sales_order_then_invoice_posts_ar_stock_and_gl(company, writer):
    on_hand, on_order, total = _stock(company, "DRILL-18V")
    order = SalesOrder(reference="web-5001", division="01", customer_no="RIVE0001", order_date=TODAY,
                       lines=(SalesOrderLine(item_code="DRILL-18V", quantity="2"),
                              SalesOrderLine(item_code="/FREIGHT", quantity="1", unit_price="12.50")))
    so = writer.create_sales_order(order)
    so_no = so.documents["SalesOrderNo"]
    assert query(company, "SELECT UnitPrice, ExtensionAmt FROM SO_SalesOrderDetail WHERE SalesOrderNo=? "
                 "ORDER BY LineKey", (so_no,)) == [("149.000000", "298.00"), ("12.500000", "12.50")]
    assert _stock(company, "DRILL-18V") == (on_hand, on_order + 2, total)
    assert writer.create_sales_order(order).created is False

    balance_before = money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE CustomerNo='RIVE0001'")[0][0])
    invoiced = writer.invoice_sales_order(so_no, reference="web-5001-inv", invoice_date=date(2026, 3, 3))
    invoice_no = invoiced.documents["InvoiceNo"]

    days = query(company, "SELECT DaysBeforeDue FROM AR_TermsCode JOIN AR_Customer USING (TermsCode) "
                 "WHERE CustomerNo='RIVE0001'")[0][0]
    due = (date(2026, 3, 3) + timedelta(days=days)).isoformat()
    assert query(company, "SELECT InvoiceType, Balance, InvoiceDueDate FROM AR_OpenInvoice WHERE InvoiceNo=?",
                 (invoice_no,)) == [("IN", "310.50", due)]
    assert query(company, "SELECT ModuleCode, SalesOrderNo, UDF_PAYTRACE_REF FROM AR_InvoiceHistoryHeader "
                 "WHERE InvoiceNo=?", (invoice_no,)) == [("S/O", so_no, "web-5001-inv")]
    assert query(company, "SELECT COUNT(*) FROM AR_InvoiceHistoryDetail WHERE InvoiceNo=?", (invoice_no,)) == [(2,)]
    assert _stock(company, "DRILL-18V") == (on_hand - 2, on_order, total - 2)
    assert query(company, "SELECT OrderStatus FROM SO_SalesOrderHeader WHERE SalesOrderNo=?", (so_no,)) == [("C",)]
    assert money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE CustomerNo='RIVE0001'")[0][0]) == (
        balance_before + Decimal("310.50"))
    gl = {(key, money(d), money(c)) for key, d, c in query(
        company, "SELECT AccountKey, DebitAmount, CreditAmount FROM GL_DetailPosting WHERE SourceJournal='SO'")}
    assert (account_key(company, "1200-00"), Decimal("310.50"), Decimal("0.00")) in gl
    debits, credits = gl_totals(company, "SO")
    assert debits == credits

    before = dump(company)
    again = writer.invoice_sales_order(so_no, reference="web-5001-inv", invoice_date=date(2026, 3, 3))
    assert (again.created, again.documents, dump(company)) == (False, invoiced.documents, before)
    with pytest.raises(DocumentStateError, match="closed"):
        writer.invoice_sales_order(so_no, reference="web-5001-inv-2", invoice_date=date(2026, 3, 3))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (SalesOrderLine(item_code="NOPE-1", quantity="1"), UnknownItemError),
        (SalesOrderLine(item_code="DRILL-18V", quantity="100000"), InsufficientStockError),
    ],
)
def test_sales_order_refuses_unknown_item_and_insufficient_stock(company, writer, line, error):
    before = dump(company)
    with pytest.raises(error):
        writer.create_sales_order(SalesOrder(reference="web-x", division="01", customer_no="RIVE0001",
                                             order_date=TODAY, lines=(line,)))
    assert dump(company) == before


# --------------------------------------------------------------------- credit memos, refunds


def test_credit_memo_applied_to_an_invoice_reduces_its_balance(company, writer):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    memo = CreditMemo(reference="rma-1", division=division, customer_no=customer, memo_date=TODAY,
                      amount="1.00", apply_to_invoice_no=invoice, account="4950-00")
    result = writer.create_credit_memo(memo)
    assert money(query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo=? AND InvoiceType='IN'",
                       (invoice,))[0][0]) == balance - Decimal("1.00")
    assert query(company, "SELECT COUNT(*) FROM AR_OpenInvoice WHERE InvoiceNo=?", (result.documents["InvoiceNo"],)) \
        == [(0,)]  # consumed
    assert gl_totals(company, "SJ") == (Decimal("1.00"), Decimal("1.00"))
    before = dump(company)
    assert writer.create_credit_memo(memo).created is False and dump(company) == before
    # Sage lets a memo go above what is open: the invoice then carries the credit as a negative balance.
    writer.create_credit_memo(memo.model_copy(update={"reference": "rma-2", "amount": balance * 2}))
    assert money(query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo=? AND InvoiceType='IN'",
                       (invoice,))[0][0]) == -balance - Decimal("1.00")


def test_open_credit_memo_then_card_refund_goes_out_through_clearing(company, writer):
    memo = writer.create_credit_memo(CreditMemo(reference="rma-9", division="01", customer_no="RIVE0001",
                                                memo_date=TODAY, amount="40.00", account="4950-00"))
    memo_no = memo.documents["InvoiceNo"]
    assert query(company, "SELECT InvoiceType, Balance FROM AR_OpenInvoice WHERE InvoiceNo=?", (memo_no,)) == [
        ("CM", "-40.00")]
    balance_before = money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE CustomerNo='RIVE0001'")[0][0])
    refund = CardRefund(transaction_id="880001", division="01", customer_no="RIVE0001", refund_date=TODAY,
                        amount="40.00", payment_type="VISA", credit_memo_no=memo_no, last4="5439",
                        authorization_no="RF1")

    result = writer.record_card_refund(refund)

    assert result.documents["AppliedTo"] == f"CM:{memo_no}"
    assert query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo=?", (memo_no,)) == [("0.00",)]
    assert query(company, "SELECT TransactionType, TransactionAmt, Last4UnencryptedCreditCardNos FROM "
                 "AR_TransactionPaymentHistory WHERE CreditCardTransactionID='880001'") == [("P", "-40.00", "5439")]
    assert money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE CustomerNo='RIVE0001'")[0][0]) == (
        balance_before + Decimal("40.00"))
    refund_gl = query(company, "SELECT AccountKey, DebitAmount, CreditAmount FROM GL_DetailPosting "
                      "WHERE DocumentNo=? AND SourceJournal='SJ'", (result.documents["CreditCardEntryNo"],))
    assert {(key, money(d), money(c)) for key, d, c in refund_gl} == {
        (account_key(company, "1200-00"), Decimal("40.00"), Decimal("0.00")),
        (account_key(company, "1061-00"), Decimal("0.00"), Decimal("40.00"))}
    before = dump(company)
    again = writer.record_card_refund(refund)
    assert (again.created, again.documents, dump(company)) == (False, result.documents, before)


def test_refund_beyond_open_credits_or_against_another_customers_memo_is_refused(company, writer):
    memo = writer.create_credit_memo(CreditMemo(reference="rma-3", division="01", customer_no="RIVE0001",
                                                memo_date=TODAY, amount="10.00", account="4950-00"))
    before = dump(company)
    refund = CardRefund(transaction_id="880002", division="01", customer_no="RIVE0001", refund_date=TODAY,
                        amount="500.00", payment_type="VISA")
    with pytest.raises(AmountExceedsBalanceError, match="open credits"):
        writer.record_card_refund(refund)
    other = query(company, "SELECT ARDivisionNo, CustomerNo FROM AR_Customer WHERE CustomerStatus='A' AND "
                  "CustomerNo <> 'RIVE0001' LIMIT 1")[0]
    with pytest.raises(InvoiceOfAnotherCustomerError):
        writer.record_card_refund(refund.model_copy(update={
            "division": other[0], "customer_no": other[1], "amount": Decimal("5.00"),
            "credit_memo_no": memo.documents["InvoiceNo"]}))
    assert dump(company) == before


# ---------------------------------------------------------------------------- journal entries


def _fee_entry(**change):
    entry = JournalEntry(reference="fees-2026-03-02", posting_date=TODAY, comment="PayTrace fees batch 1",
                         lines=(JournalLine(account="6150-00", debit="12.34"),
                                JournalLine(account="1061-00", credit="12.34")))
    return entry.model_copy(update=change)


def test_journal_entry_posts_balanced_gl_and_history_once(company, writer):
    result = writer.post_journal_entry(_fee_entry())
    assert result.created and set(result.documents) == {"EntryNo", "JournalRegisterNo"}
    rows = query(company, "SELECT AccountKey, DebitAmount, CreditAmount FROM GL_DetailPosting WHERE "
                 "JournalRegisterNo=? AND SourceJournal='GJ'", (result.documents["JournalRegisterNo"],))
    assert {(k, money(d), money(c)) for k, d, c in rows} == {
        (account_key(company, "6150-00"), Decimal("12.34"), Decimal("0.00")),
        (account_key(company, "1061-00"), Decimal("0.00"), Decimal("12.34"))}
    assert query(company, "SELECT EntryNo FROM GL_GeneralJournalHistory WHERE UDF_PAYTRACE_REF=?",
                 ("fees-2026-03-02",)) == [(result.documents["EntryNo"],)]
    before = dump(company)
    again = writer.post_journal_entry(_fee_entry())
    assert (again.created, again.documents, dump(company)) == (False, result.documents, before)


def test_journal_entry_in_entry_mode_goes_to_the_entry_tables(company):
    writer = DemoCompanyWriter(company, posting="entry", clock=lambda: NOW)
    result = writer.post_journal_entry(_fee_entry())
    assert set(result.documents) == {"EntryNo"}
    assert query(company, "SELECT COUNT(*) FROM GL_GeneralJournalDetail WHERE EntryNo=?",
                 (result.documents["EntryNo"],)) == [(2,)]
    assert query(company, "SELECT COUNT(*) FROM GL_DetailPosting WHERE SourceJournal='GJ' AND "
                 "JournalRegisterNo <> '000001'") == [(0,)]


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ((JournalLine(account="6150-00", debit="12.34"), JournalLine(account="1061-00", credit="12.33")),
         UnbalancedJournalEntryError),
        ((JournalLine(account="6150-00", debit="12.34"),), UnbalancedJournalEntryError),
        ((JournalLine(account="6999-00", debit="1.00"), JournalLine(account="1061-00", credit="1.00")),
         InactiveAccountError),
        ((JournalLine(account="9999-99", debit="1.00"), JournalLine(account="1061-00", credit="1.00")),
         UnknownAccountError),
    ],
)
def test_journal_entry_refusals_write_nothing(company, writer, lines, error):
    before = dump(company)
    with pytest.raises(error) as refused:
        writer.post_journal_entry(_fee_entry(lines=lines))
    assert dump(company) == before
    assert refused.value.fix and refused.value.operation == "post_journal_entry"


# ------------------------------------------------------------------------------- card data


def test_no_card_number_is_stored_anywhere(company, writer):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)],
                                     cardholder_name="4012000098765439", comment="card 5499 7400 0000 0057"))
    writer.upsert_customer(CustomerRecord(reference="p-1", division="01", name="Zed 371449635392376"))
    writer.post_journal_entry(_fee_entry(comment="6011000993026909"))
    connection_rows = query(company, "SELECT name FROM sqlite_master WHERE type='table'")
    for (table,) in connection_rows:
        for row in query(company, f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, str):
                    assert not find_card_numbers(value), (table, value)
    assert card_numbers_in_database(company) == []


def test_only_a_miscellaneous_charge_line_may_carry_a_negative_price() -> None:
    """A web store's discount goes to a /-item as a negative line; a stocked item never has a negative price."""
    assert SalesOrderLine(item_code="/DISCOUNT", quantity="1", unit_price="-5.00").unit_price == Decimal("-5.00")
    with pytest.raises(ValueError, match="only a miscellaneous"):
        SalesOrderLine(item_code="BOLT-1420", quantity="1", unit_price="-5.00")
