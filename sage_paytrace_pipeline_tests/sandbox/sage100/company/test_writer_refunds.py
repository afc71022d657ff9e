"""Refunds against paid invoices and the two reversals (voided sale, voided refund) in the demo company."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.sage100.documents import (
    CardRefund,
    CreditMemo,
    ReceiptLine,
    ReceiptReversal,
    RefundReversal,
)
from sage_paytrace_pipeline.sage100.errors import (
    AmountExceedsBalanceError,
    DocumentStateError,
    InvoiceNotOpenError,
    Sage100ValidationError,
)
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.vi_writer import VisualIntegratorWriter
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    NOW,
    TODAY,
    account_key,
    customer_with_open_invoices,
    dump,
    money,
    query,
    receipt,
)

ZERO = Decimal("0.00")


def _balance(company, invoice: str, invoice_type: str = "IN") -> Decimal:
    rows = query(company, "SELECT Balance FROM AR_OpenInvoice WHERE InvoiceNo=? AND InvoiceType=?",
                 (invoice, invoice_type))
    return money(rows[0][0])


def _customer_balance(company, division: str, customer: str) -> Decimal:
    return money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE ARDivisionNo=? AND CustomerNo=?",
                       (division, customer))[0][0])


def _gl(company, document_no: str, journal: str) -> set[tuple[str, Decimal, Decimal]]:
    rows = query(company, "SELECT AccountKey, DebitAmount, CreditAmount FROM GL_DetailPosting "
                 "WHERE DocumentNo=? AND SourceJournal=?", (document_no, journal))
    return {(key, money(d), money(c)) for key, d, c in rows}


@pytest.fixture
def paid(company, writer):
    """An invoice paid in full by card sale 700001: (division, customer, invoice, amount)."""
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)]))
    assert _balance(company, invoice) == ZERO
    return division, customer, invoice, balance


def _memo(division, customer, invoice, amount, reference="PT-R880001") -> CreditMemo:
    return CreditMemo(reference=reference, division=division, customer_no=customer, memo_date=TODAY,
                      amount=amount, apply_to_invoice_no=invoice, account="4950-00")


def _refund(division, customer, amount, memo_no, transaction_id="880001", **extra) -> CardRefund:
    return CardRefund(transaction_id=transaction_id, division=division, customer_no=customer, refund_date=TODAY,
                      amount=amount, payment_type="VISA", credit_memo_no=memo_no, last4="5439", **extra)


def test_memo_on_a_paid_invoice_then_refund_consumes_its_credit(company, writer, paid):
    division, customer, invoice, amount = paid
    before_customer = _customer_balance(company, division, customer)
    memo_no = writer.create_credit_memo(_memo(division, customer, invoice, amount)).documents["InvoiceNo"]
    assert _balance(company, invoice) == -amount  # the paid invoice carries the credit
    assert _customer_balance(company, division, customer) == before_customer - amount

    result = writer.record_card_refund(_refund(division, customer, amount, memo_no))

    assert result.documents["AppliedTo"] == f"IN:{invoice}"
    assert _balance(company, invoice) == ZERO
    assert _customer_balance(company, division, customer) == before_customer
    assert _gl(company, result.documents["CreditCardEntryNo"], "SJ") == {
        (account_key(company, "1200-00"), amount, ZERO), (account_key(company, "1061-00"), ZERO, amount)}
    before = dump(company)
    assert writer.record_card_refund(_refund(division, customer, amount, memo_no)).created is False
    assert dump(company) == before


def test_two_partial_refunds_never_take_more_than_the_memo_carries(company, writer, paid):
    division, customer, invoice, _ = paid
    memo_no = writer.create_credit_memo(_memo(division, customer, invoice, Decimal("5.00"))).documents["InvoiceNo"]
    writer.record_card_refund(_refund(division, customer, Decimal("3.00"), memo_no))
    before = dump(company)
    with pytest.raises(AmountExceedsBalanceError, match="credit left"):
        writer.record_card_refund(_refund(division, customer, Decimal("2.01"), memo_no, transaction_id="880002"))
    assert dump(company) == before
    writer.record_card_refund(_refund(division, customer, Decimal("2.00"), memo_no, transaction_id="880002"))
    assert _balance(company, invoice) == ZERO
    with pytest.raises(InvoiceNotOpenError, match="no credit"):
        writer.record_card_refund(_refund(division, customer, Decimal("0.01"), memo_no, transaction_id="880003"))


def test_refund_consumes_several_memos_and_a_prepayment(company, writer):
    division, customer, [(first, b1), (second, b2)] = customer_with_open_invoices(company, 2)
    writer.post_card_receipt(receipt(division, customer, [
        ReceiptLine(invoice_no=first, amount=b1), ReceiptLine(invoice_no=second, amount=b2),
        ReceiptLine(invoice_no="PP-7001", amount="10.00", prepayment=True)]))
    m1 = writer.create_credit_memo(_memo(division, customer, first, b1, "PT-R880001-1")).documents["InvoiceNo"]
    m2 = writer.create_credit_memo(_memo(division, customer, second, b2, "PT-R880001-2")).documents["InvoiceNo"]
    total = b1 + b2 + Decimal("10.00")
    result = writer.record_card_refund(_refund(division, customer, total, m1, more_credit_memo_nos=(m2,),
                                               prepayment_no="PP-7001"))
    assert result.created
    assert (_balance(company, first), _balance(company, second), _balance(company, "PP-7001", "PP")) == (
        ZERO, ZERO, ZERO)


def test_reverse_card_receipt_reinstates_the_invoice_and_credits_clearing_once(company, writer, paid):
    division, customer, invoice, amount = paid
    customer_before = _customer_balance(company, division, customer)
    reversal = ReceiptReversal(reference="PT-V700001", transaction_id="700001", reversal_date=TODAY,
                               comment="voided in PayTrace")

    result = writer.reverse_card_receipt(reversal)

    assert result.created and result.documents["CheckNo"] == "CCREVERSE"
    assert _balance(company, invoice) == amount
    assert _customer_balance(company, division, customer) == customer_before + amount
    rows = query(company, "SELECT DepositType, CheckNo, CashAmountApplied FROM AR_CashReceiptsHistory "
                 "WHERE CreditCardTransactionID='PT-V700001'")
    assert rows == [("C", "CCREVERSE", f"{-amount:.2f}")]
    assert _gl(company, result.documents["DepositNo"], "CR") == {
        (account_key(company, "1200-00"), amount, ZERO), (account_key(company, "1061-00"), ZERO, amount)}
    before = dump(company)
    again = writer.reverse_card_receipt(reversal)
    assert (again.created, again.documents, dump(company)) == (False, result.documents, before)


def test_reverse_card_receipt_refuses_an_unknown_sale_and_writes_nothing(company, writer):
    before = dump(company)
    with pytest.raises(InvoiceNotOpenError, match="no posted card receipt"):
        writer.reverse_card_receipt(ReceiptReversal(reference="PT-V1", transaction_id="1", reversal_date=TODAY))
    assert dump(company) == before


def test_reverse_card_receipt_refuses_a_receipt_still_in_entry(company):
    writer = DemoCompanyWriter(company, posting="entry", credit_memo_account="4950-00")
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)]))
    with pytest.raises(DocumentStateError, match="still in Cash Receipts Entry"):
        writer.reverse_card_receipt(ReceiptReversal(reference="PT-V700001", transaction_id="700001",
                                                    reversal_date=TODAY))


def test_reverse_card_refund_gives_the_memo_its_credit_back_once(company, writer, paid):
    division, customer, invoice, amount = paid
    memo_no = writer.create_credit_memo(_memo(division, customer, invoice, amount)).documents["InvoiceNo"]
    writer.record_card_refund(_refund(division, customer, amount, memo_no))
    customer_before = _customer_balance(company, division, customer)
    reversal = RefundReversal(reference="PT-VR880001", transaction_id="880001", reversal_date=TODAY)

    result = writer.reverse_card_refund(reversal)

    assert result.created
    assert _balance(company, invoice) == -amount  # the credit is back on the invoice
    assert _customer_balance(company, division, customer) == customer_before - amount
    assert _gl(company, result.documents["CreditCardEntryNo"], "SJ") == {
        (account_key(company, "1061-00"), amount, ZERO), (account_key(company, "1200-00"), ZERO, amount)}
    before = dump(company)
    assert writer.reverse_card_refund(reversal).created is False and dump(company) == before
    # the memo carries its credit again: another refund may consume it
    writer.record_card_refund(_refund(division, customer, amount, memo_no, transaction_id="880009"))
    assert _balance(company, invoice) == ZERO


def test_reversal_needs_its_own_reference():
    with pytest.raises(ValueError, match="own reference"):
        RefundReversal(reference="880001", transaction_id="880001", reversal_date=TODAY)


def test_visual_integrator_refuses_the_reversals_and_a_refund_of_several_credits(tmp_path):
    writer = VisualIntegratorWriter(tmp_path)
    with pytest.raises(Sage100ValidationError, match="CCREVERSE"):
        writer.reverse_card_receipt(ReceiptReversal(reference="PT-V7", transaction_id="7", reversal_date=TODAY))
    with pytest.raises(Sage100ValidationError, match="no import"):
        writer.reverse_card_refund(RefundReversal(reference="PT-VR8", transaction_id="8", reversal_date=TODAY))
    with pytest.raises(Sage100ValidationError, match="one credit memo only"):
        writer.record_card_refund(_refund("01", "RIVE0001", Decimal("1.00"), "0000001", more_credit_memo_nos=("2",)))
    assert writer.pending_documents == 0


# ------------------------------------------------------------------------------ reading them back


def test_reader_finds_recorded_refunds_and_reversals_in_one_read_each(company, writer, paid):
    division, customer, invoice, amount = paid
    memo_no = writer.create_credit_memo(_memo(division, customer, invoice, amount)).documents["InvoiceNo"]
    writer.record_card_refund(_refund(division, customer, amount, memo_no))
    writer.reverse_card_refund(RefundReversal(reference="PT-VR880001", transaction_id="880001", reversal_date=TODAY))
    reader = Sage100Reader.for_sqlite(company)

    [refund] = reader.card_refunds_for_transaction_ids(["880001", "700001", "999"])

    assert (refund.transaction_id, refund.division, refund.customer_no, refund.amount) == (
        "880001", division, customer, amount)
    assert [(p.invoice_no, p.invoice_type, p.amount, p.memo_tag) for p in refund.portions] == [
        (invoice, "IN", amount, f"CM{memo_no}")]
    assert reader.reversals_for_references(["PT-VR880001", "PT-V700001"]) == {"PT-VR880001"}
    assert reader.card_refunds_for_transaction_ids([]) == []


def test_documents_in_one_transaction_commit_together_and_a_refusal_writes_nothing(company, writer, paid, tmp_path):
    """`one_transaction`: memo and refunds in one commit, the books of one transaction each; the
    refused refund in between leaves nothing; an error out of the block leaves nothing of it."""
    division, customer, invoice, _ = paid
    reference = tmp_path / "reference.db"
    shutil.copy(company, reference)
    alone = DemoCompanyWriter(reference, clock=lambda: NOW)
    memo_no = alone.create_credit_memo(_memo(division, customer, invoice, Decimal("5.00"))).documents["InvoiceNo"]
    alone.record_card_refund(_refund(division, customer, Decimal("3.00"), memo_no))
    together = DemoCompanyWriter(company, clock=lambda: NOW)
    before = dump(company)

    with pytest.raises(RuntimeError, match="after the documents"), together.one_transaction():
        memo = together.create_credit_memo(_memo(division, customer, invoice, Decimal("5.00")))
        together.record_card_refund(_refund(division, customer, Decimal("3.00"), memo.documents["InvoiceNo"]))
        raise RuntimeError("after the documents")
    assert dump(company) == before, "nothing of a block that failed"

    with together.one_transaction():
        memo = together.create_credit_memo(_memo(division, customer, invoice, Decimal("5.00")))
        with pytest.raises(AmountExceedsBalanceError):
            together.record_card_refund(_refund(division, customer, Decimal("9.00"), memo.documents["InvoiceNo"],
                                                transaction_id="880009"))
        together.record_card_refund(_refund(division, customer, Decimal("3.00"), memo.documents["InvoiceNo"]))
        assert query(company, "SELECT count(*) FROM AR_TransactionPaymentHistory WHERE CreditCardTransactionID = ?",
                     ("880001",)) == [(0,)], "nothing is in Sage before the block ends"
    assert memo.documents["InvoiceNo"] == memo_no
    assert dump(company) == dump(reference)
