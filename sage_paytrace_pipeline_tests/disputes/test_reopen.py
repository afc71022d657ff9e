"""disputes.reopen_invoice on the demo company: the invoice re-opened once per chargeback, re-applied when won,
and the books (AR, clearing, bank, chargebacks) right to the cent with the settlement's side of each debit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.disputes.flow import run_disputes
from sage_paytrace_pipeline.disputes.posting import PostingLog
from sage_paytrace_pipeline.domain.ledger import JournalEntry, JournalLine
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline_tests.domain.disputes import samples
from sage_paytrace_pipeline_tests.sage100.writer_support import account_key, dump, money, query, receipt

AS_OF = date(2026, 12, 1)
MC_CLEARING, VISA_CLEARING, AR, BANK = "1062-00", "1061-00", "1200-00", "1010-00"
CHARGEBACKS, FEES, RECEIVABLE, LOSS = "6160-00", "6150-00", "1250-00", "6170-00"
PROCESSOR = "1260-00"  # gl_accounts.processor_receivable: what the processor owes
ACCOUNTS = (MC_CLEARING, VISA_CLEARING, AR, BANK, CHARGEBACKS, FEES, RECEIVABLE, LOSS, PROCESSOR)


@pytest.fixture
def reopen_config() -> PipelineConfig:
    return PipelineConfig.model_validate({"disputes": {
        "chargeback_account": RECEIVABLE, "loss_account": LOSS, "case_fee": "15.00", "reopen_invoice": True}})


def _invoice_at_least(company, amount: Decimal, taken: set[str]) -> tuple[str, str, str]:
    for division, customer, invoice, balance in query(company, """
            SELECT o.ARDivisionNo, o.CustomerNo, o.InvoiceNo, o.Balance FROM AR_OpenInvoice o
            JOIN AR_Customer c USING (ARDivisionNo, CustomerNo)
            WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' ORDER BY o.InvoiceNo"""):
        if money(balance) >= amount and invoice not in taken:
            return division, customer, invoice
    raise AssertionError(f"no open invoice of {amount}")


def _balance(company, account: str) -> Decimal:
    rows = query(company, "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting WHERE AccountKey = ?",
                 (account_key(company, account),))
    return sum((money(d) - money(c) for d, c in rows), Decimal("0.00"))


def _balances(company) -> dict[str, Decimal]:
    return {account: _balance(company, account) for account in ACCOUNTS}


def _open_balance(company, division: str, customer: str, invoice: str) -> Decimal:
    return money(query(company, "SELECT Balance FROM AR_OpenInvoice WHERE ARDivisionNo = ? AND CustomerNo = ? "
                                "AND InvoiceNo = ? AND InvoiceType = 'IN'", (division, customer, invoice))[0][0])


def _settlement(writer, reference: str, on: date, debit: str, credit: str, amount: str) -> None:
    """What the settlement entries book for the processor's debit or credit (domain/settlement/journal.py)."""
    value = Decimal(amount)
    writer.post_journal_entry(JournalEntry(reference=reference, posting_date=on, comment=reference, lines=(
        JournalLine(account=debit, debit=value, credit=Decimal("0.00"), comment=reference),
        JournalLine(account=credit, debit=Decimal("0.00"), credit=value, comment=reference))))


def _drop(folder, *rows: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "month.csv").write_bytes(samples.report(*rows))


def test_chargebacks_reopen_the_invoice_once_and_a_won_case_applies_it_again(tmp_path, warehouse, reopen_config,
                                                                             company, writer):
    # The two disputed sales paid invoices in Sage: 502 (1,250.00, Mastercard) and 503 (80.00, Visa).
    big = _invoice_at_least(company, Decimal("1250.00"), set())
    small = _invoice_at_least(company, Decimal("80.00"), {big[2]})
    for sale, (division, customer, invoice), amount, kind in (
            ("502", big, "1250.00", "MC"), ("503", small, "80.00", "VISA")):
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=amount)],
                                         transaction_id=sale, payment_type=kind, card_type=kind))
    paid = {name: _open_balance(company, *where) for name, where in (("big", big), ("small", small))}
    before = _balances(company)
    # The settlement side: C200's debit with its fee, C200 won (its credit: Cr processor receivable), P300
    # re-debited, C400 with the fee.
    for reference, on, debit, credit, amount in (
            ("PT-BC200", date(2026, 11, 3), CHARGEBACKS, BANK, "1265.00"),
            ("PT-BC400", date(2026, 11, 4), CHARGEBACKS, BANK, "95.00"),
            ("PT-CR-C200", date(2026, 11, 21), BANK, PROCESSOR, "1250.00"),  # the won credit, a day later
            ("PT-BP300", date(2026, 11, 25), CHARGEBACKS, BANK, "1250.00")):
        _settlement(writer, reference, on, debit, credit, amount)
    folder = tmp_path / "dispute_reports"
    _drop(folder, samples.CHARGEBACK, samples.REPRESENTMENT, samples.WON, samples.PRE_ARB, samples.LOST_CB,
          samples.LOST)
    reader = Sage100Reader.for_sqlite(company)

    run = run_disputes(warehouse, reopen_config, folder, writer, as_of=AS_OF, run_id="r1", reader=reader)

    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC200-WN", "PT-DC400-CB", "PT-DP300-PA"]
    assert run.exceptions.empty, run.exceptions[["kind", "problem"]].to_string()
    log = PostingLog(warehouse, "r1").frame().set_index("reference")
    assert sorted(log.index[log.index.str.match(r"PT-[OA]")]) == [
        "PT-AC200-WN", "PT-OC200-CB", "PT-OC400-CB", "PT-OP300-PA"]
    # C200 re-opened then re-applied, re-opened again by P300 (open); C400 lost: its invoice stays open.
    assert _open_balance(company, *big) == paid["big"] + Decimal("1250.00")
    assert _open_balance(company, *small) == paid["small"] + Decimal("80.00")
    moved = {account: balance - before[account] for account, balance in _balances(company).items()}
    assert moved == {
        AR: Decimal("1330.00"),  # P300's 1,250.00 and C400's 80.00 owed again by the customers
        MC_CLEARING: Decimal("0.00"), VISA_CLEARING: Decimal("0.00"),  # reversals and entries cancel
        BANK: Decimal("-1360.00"),  # 1,265 + 95 + 1,250 taken, 1,250 given back
        CHARGEBACKS: Decimal("0.00"),  # what settlement booked there is moved out
        FEES: Decimal("30.00"), RECEIVABLE: Decimal("0.00"), LOSS: Decimal("0.00"),
        PROCESSOR: Decimal("0.00"),  # the won case owed, then its credit arrived
    }
    debits, credits = query(company, "SELECT SUM(CAST(DebitAmount AS NUMERIC)), "
                                     "SUM(CAST(CreditAmount AS NUMERIC)) FROM GL_DetailPosting")[0]
    assert money(debits) == money(credits)

    snapshot = dump(company)
    again = run_disputes(warehouse, reopen_config, folder, writer, as_of=AS_OF, run_id="r2", reader=reader)
    assert again.posting.posted == [] and again.exceptions.empty
    assert dump(company) == snapshot


def test_a_crash_after_the_reversal_posts_it_once_and_a_missing_receipt_waits(tmp_path, warehouse, reopen_config,
                                                                              company, writer):
    folder = tmp_path / "dispute_reports"
    _drop(folder, samples.CHARGEBACK, samples.LOST_CB)
    reader = Sage100Reader.for_sqlite(company)
    division, customer, invoice = _invoice_at_least(company, Decimal("1250.00"), set())
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount="1250.00")],
                                     transaction_id="502", payment_type="MC", card_type="MC"))

    run = run_disputes(warehouse, reopen_config, folder, writer, as_of=AS_OF, run_id="r1", reader=reader)
    assert run.posting.posted == ["PT-DC200-CB"]  # C400's sale 503 has no receipt in Sage: it waits
    assert run.exceptions["kind"].tolist() == ["dispute_invoice_waiting_for_receipt"]
    warehouse.execute("UPDATE pipeline.dispute_posting_log SET state = 'intent' WHERE reference LIKE 'PT-OC200%'")
    warehouse.execute("DELETE FROM pipeline.dispute_posting_log WHERE reference = 'PT-DC200-CB'")
    snapshot = dump(company)
    again = run_disputes(warehouse, reopen_config, folder, writer, as_of=AS_OF, run_id="r2", reader=reader)
    assert again.posting.posted == ["PT-DC200-CB"]  # Sage answers with what it has: nothing written twice
    assert dump(company) == snapshot
    reversals = query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = ?",
                      ("PT-OC200-CB",))[0][0]
    assert reversals == 1


def test_a_partial_chargeback_stays_in_the_chargeback_account(tmp_path, warehouse, reopen_config, company, writer):
    folder = tmp_path / "dispute_reports"
    partial = samples.CHARGEBACK.replace('"(1,250.00)"', '"(250.00)"')
    _drop(folder, partial)
    division, customer, invoice = _invoice_at_least(company, Decimal("1250.00"), set())
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount="1250.00")],
                                     transaction_id="502", payment_type="MC", card_type="MC"))
    paid = _open_balance(company, division, customer, invoice)
    run = run_disputes(warehouse, reopen_config, folder, writer, as_of=AS_OF, run_id="r1",
                       reader=Sage100Reader.for_sqlite(company))
    assert run.posting.posted == ["PT-DC200-CB"]
    assert run.exceptions["kind"].tolist() == ["dispute_invoice_not_reopened"]
    assert _open_balance(company, division, customer, invoice) == paid
    assert _balance(company, RECEIVABLE) == Decimal("250.00")
