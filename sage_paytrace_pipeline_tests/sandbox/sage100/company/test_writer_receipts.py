"""Card cash receipts in the demo company: application, history, GL, idempotency and refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.errors import (
    AmountExceedsBalanceError,
    DistributionOutOfBalanceError,
    InactiveCustomerError,
    InvoiceNotOpenError,
    InvoiceOfAnotherCustomerError,
    Sage100ValidationError,
    UnknownBankCodeError,
    UnknownPaymentTypeError,
)
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    NOW,
    account_key,
    customer_with_open_invoices,
    dump,
    gl_totals,
    money,
    query,
    receipt,
)


def _two_invoice_receipt(company, **extra):
    division, customer, invoices = customer_with_open_invoices(company)
    (first, first_balance), (second, second_balance) = invoices
    lines = [ReceiptLine(invoice_no=first, amount=first_balance),
             ReceiptLine(invoice_no=second, amount=second_balance - Decimal("1.00"))]
    return receipt(division, customer, lines, **extra), invoices


def _balance(company, division, customer, invoice, invoice_type="IN") -> Decimal:
    rows = query(company, "SELECT Balance FROM AR_OpenInvoice WHERE ARDivisionNo=? AND CustomerNo=? AND InvoiceNo=?"
                 " AND InvoiceType=?", (division, customer, invoice, invoice_type))
    return money(rows[0][0])


def test_receipt_applied_to_two_invoices_lowers_balances_writes_history_and_balanced_gl(company, writer):
    document, [(first, _), (second, _)] = _two_invoice_receipt(company)
    before_customer = money(query(company, "SELECT CurrentBalance FROM AR_Customer WHERE ARDivisionNo=? AND "
                                  "CustomerNo=?", (document.division, document.customer_no))[0][0])

    result = writer.post_card_receipt(document)

    assert result.created and set(result.documents) == {"DepositNo", "CreditCardEntryNo"}
    assert _balance(company, document.division, document.customer_no, first) == 0
    assert _balance(company, document.division, document.customer_no, second) == Decimal("1.00")
    history = query(company, "SELECT InvoiceNo, CashAmountApplied, InvoiceBalance, CreditCardTransactionID, "
                    "Last4UnencryptedCreditCardNos, CreditCardAuthorizationNo, DepositNo, DepositType, BankCode "
                    "FROM AR_CashReceiptsHistory ORDER BY SequenceNo")
    assert [(row[0], money(row[1]), money(row[2])) for row in history] == [
        (first, document.lines[0].amount, Decimal("0.00")), (second, document.lines[1].amount, Decimal("1.00"))]
    assert {row[3:] for row in history} == {("700001", "5439", "TAS521", result.documents["DepositNo"], "R", "A")}
    payments = query(company, "SELECT InvoiceNo, TransactionType, CreditCardTransactionID, "
                     "Last4UnencryptedCreditCardNos, CreditCardAuthorizationNo FROM AR_TransactionPaymentHistory "
                     "WHERE CreditCardTransactionID = '700001' ORDER BY InvoiceNo")
    assert payments == [(first, "P", "700001", "5439", "TAS521"), (second, "P", "700001", "5439", "TAS521")]
    gl = query(company, "SELECT AccountKey, DebitAmount, CreditAmount FROM GL_DetailPosting WHERE SourceJournal='CR'")
    debits, credits = gl_totals(company, "CR")
    assert debits == credits == document.amount
    clearing = account_key(company, "1061-00")
    ar_control = query(company, "SELECT AccountsReceivableAcctKey FROM AR_Division WHERE ARDivisionNo=?",
                       (document.division,))[0][0]
    assert {(key, money(d), money(c)) for key, d, c in gl} == {
        (clearing, document.amount, Decimal("0.00")), (ar_control, Decimal("0.00"), document.amount)}
    customer = query(company, "SELECT CurrentBalance, LastPaymentAmt, DateLastPayment FROM AR_Customer "
                     "WHERE ARDivisionNo=? AND CustomerNo=?", (document.division, document.customer_no))[0]
    assert money(customer[0]) == before_customer - document.amount
    assert (money(customer[1]), customer[2]) == (document.amount, "2026-03-02")
    for table in ("AR_CashReceiptsDeposit", "AR_CashReceiptsHeader", "AR_CashReceiptsDetail"):
        assert query(company, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    audit = query(company, "SELECT DateCreated, TimeCreated, UserCreatedKey FROM AR_CashReceiptsHistory LIMIT 1")
    assert audit == [("2026-03-02", "15.5", "PAYTRACE")]


def test_posting_the_same_receipt_again_changes_nothing(company, writer):
    document, _ = _two_invoice_receipt(company)
    first = writer.post_card_receipt(document)
    before = dump(company)

    again = writer.post_card_receipt(document)

    assert dump(company) == before
    assert again.created is False and again.documents == first.documents


def test_same_transaction_id_from_another_writer_is_found_in_entry_tables(company):
    document, _ = _two_invoice_receipt(company)
    entry = DemoCompanyWriter(company, posting="entry", clock=lambda: NOW)
    first = entry.post_card_receipt(document)
    before = dump(company)

    again = DemoCompanyWriter(company, clock=lambda: NOW).post_card_receipt(document)

    assert (again.created, again.documents, dump(company)) == (False, first.documents, before)


def test_lines_not_summing_to_the_amount_are_refused_and_nothing_is_written(company, writer):
    document, _ = _two_invoice_receipt(company)
    unbalanced = document.model_copy(update={"amount": document.amount + Decimal("5.00")})
    before = dump(company)

    with pytest.raises(DistributionOutOfBalanceError) as refused:
        writer.post_card_receipt(unbalanced)

    assert dump(company) == before
    error = refused.value
    assert (error.operation, error.reference, error.field) == ("post_card_receipt", "700001", "lines")
    assert "out of balance" in str(error) and "5.00" in error.fix


def test_invoice_of_another_customer_is_refused_and_nothing_is_written(company, writer):
    division, customer, _ = customer_with_open_invoices(company)
    other_invoice, other_customer = query(
        company, "SELECT InvoiceNo, CustomerNo FROM AR_OpenInvoice "
        "WHERE InvoiceType='IN' AND CAST(Balance AS NUMERIC) > 0 AND NOT "
        "(ARDivisionNo=? AND CustomerNo=?) LIMIT 1", (division, customer))[0]
    document = receipt(division, customer, [ReceiptLine(invoice_no=other_invoice, amount="1.00")])
    before = dump(company)

    with pytest.raises(InvoiceOfAnotherCustomerError) as refused:
        writer.post_card_receipt(document)

    assert dump(company) == before
    assert other_customer in refused.value.problem and refused.value.field == "lines[0].invoice_no"


def test_amount_above_the_invoice_balance_is_refused(company, writer):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    document = receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance + Decimal("0.01"))])
    before = dump(company)

    with pytest.raises(AmountExceedsBalanceError) as refused:
        writer.post_card_receipt(document)

    assert dump(company) == before and "prepayment" in refused.value.fix


def test_unknown_invoice_without_prepayment_flag_is_refused(company, writer):
    division, customer, _ = customer_with_open_invoices(company, 1)
    with pytest.raises(InvoiceNotOpenError):
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no="9999999", amount="5.00")]))


def test_remainder_as_prepayment_opens_a_pp_item_with_negative_balance(company, writer):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    document = receipt(division, customer, [
        ReceiptLine(invoice_no=invoice, amount=balance),
        ReceiptLine(invoice_no=invoice, amount="25.00", prepayment=True),
    ])

    writer.post_card_receipt(document)

    assert _balance(company, division, customer, invoice) == 0
    assert _balance(company, division, customer, invoice, "PP") == Decimal("-25.00")
    history = query(company, "SELECT InvoiceType, InvoiceBalance FROM AR_CashReceiptsHistory WHERE InvoiceType='PP'")
    assert [(kind, money(value)) for kind, value in history] == [("PP", Decimal("-25.00"))]
    debits, credits = gl_totals(company, "CR")
    assert debits == credits == balance + Decimal("25.00")


def test_entry_mode_keeps_receipts_for_review_until_the_journal_update(company):
    writer = DemoCompanyWriter(company, posting="entry", clock=lambda: NOW)
    document, [(first, first_balance), (_second, _)] = _two_invoice_receipt(company)
    division, customer = document.division, document.customer_no
    other = receipt(division, customer, [ReceiptLine(invoice_no="W-1001", amount="10.00", prepayment=True)],
                    transaction_id="700002")

    result = writer.post_card_receipt(document)
    writer.post_card_receipt(other)

    deposit_no = result.documents["DepositNo"]
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHeader") == [(2,)]
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsDeposit") == [(1,)]  # same bank, date, description
    deposit_total = query(company, "SELECT CreditCardDepositAmt, DepositType FROM AR_CashReceiptsDeposit")[0]
    assert (money(deposit_total[0]), deposit_total[1]) == (document.amount + Decimal("10.00"), "R")
    assert _balance(company, division, customer, first) == first_balance  # not posted yet
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory") == [(0,)]
    with pytest.raises(InvoiceNotOpenError):  # PaymentsToday holds the unposted amount
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=first, amount="1.00")],
                                         transaction_id="700003"))

    assert writer.update_cash_receipts_journal() == [deposit_no]

    assert _balance(company, division, customer, first) == 0
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory") == [(3,)]
    assert query(company, "SELECT SUM(PaymentsToday) FROM AR_OpenInvoice") == [(0,)]
    for table in ("AR_CashReceiptsDeposit", "AR_CashReceiptsHeader", "AR_CashReceiptsDetail"):
        assert query(company, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    assert gl_totals(company, "CR") == (document.amount + Decimal("10.00"),) * 2
    assert len({row[0] for row in query(company, "SELECT JournalRegisterNo FROM GL_DetailPosting "
                                                 "WHERE SourceJournal='CR'")}) == 1
    assert writer.update_cash_receipts_journal() == []
    assert writer.post_card_receipt(document).created is False  # found in history now


def test_second_receipt_of_the_day_reuses_the_posted_deposit(company, writer):
    division, customer, [(first, a), (second, b)] = customer_with_open_invoices(company)
    one = writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=first, amount=a)]))
    two = writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=second, amount=b)],
                                           transaction_id="700002"))
    assert one.documents["DepositNo"] == two.documents["DepositNo"]
    assert one.documents["CreditCardEntryNo"] != two.documents["CreditCardEntryNo"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"payment_type": "CHECK"}, UnknownPaymentTypeError),
        ({"payment_type": "NOPE"}, UnknownPaymentTypeError),
        ({"bank_code": "Q"}, UnknownBankCodeError),
    ],
)
def test_payment_type_and_bank_code_are_checked(company, writer, change, error):
    document, _ = _two_invoice_receipt(company)
    before = dump(company)
    with pytest.raises(error):
        writer.post_card_receipt(document.model_copy(update=change))
    assert dump(company) == before


def test_inactive_customer_is_refused(company, writer):
    division, customer = query(company, "SELECT ARDivisionNo, CustomerNo FROM AR_Customer WHERE CustomerStatus='I'")[0]
    document = receipt(division, customer, [ReceiptLine(invoice_no="X1", amount="5.00", prepayment=True)])
    with pytest.raises(InactiveCustomerError) as refused:
        writer.post_card_receipt(document)
    assert isinstance(refused.value, Sage100ValidationError) and "inactive" in str(refused.value)


def test_card_number_in_free_text_is_masked_before_it_is_stored(company, writer):
    document, _ = _two_invoice_receipt(company, cardholder_name="Ana 4012000098765439 Chen",
                                       deposit_description="batch 5499740000000057")
    writer.post_card_receipt(document)
    names = query(company, "SELECT CardholderName, DepositDesc FROM AR_CashReceiptsHistory")
    assert names[0] == ("Ana xxxxxxxxxxxx5439 Chen", "batch xxxxxxxxxxxx0057")
