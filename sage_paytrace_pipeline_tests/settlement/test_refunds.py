"""The refund flow as settlement sees it: which refunds Sage holds (the flow's warehouse logs), their
business days, and card clearing read back from the demo company's GL with card refunds in it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.ledger import JournalEntry, JournalLine
from sage_paytrace_pipeline.domain.settlement import RefundFlow
from sage_paytrace_pipeline.sage100.documents import CardRefund, CreditMemo, ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.day import refund_flow
from sage_paytrace_pipeline.settlement.frames import with_created_dates
from sage_paytrace_pipeline.settlement.ledger import ClearingLedger, clearing_nets
from sage_paytrace_pipeline.settlement.refunds import refunds_recorded_in_sage
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)
from sage_paytrace_pipeline_tests.sage100.writer_support import TODAY, customer_with_open_invoices, receipt

# ------------------------------------------------------------------------------ the flow's logs


@pytest.fixture
def warehouse():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def test_without_the_refund_flow_tables_nothing_is_recorded(warehouse):
    assert refunds_recorded_in_sage(warehouse, [9001, 9002]) == frozenset()
    assert refunds_recorded_in_sage(warehouse, []) == frozenset()


def test_confirmed_refunds_and_recorded_refund_requests_are_recorded(warehouse):
    warehouse.execute("""
        CREATE SCHEMA pipeline;
        CREATE TABLE pipeline.sage_refund_log (transaction_id BIGINT, kind TEXT, sale_transaction_id BIGINT,
            division TEXT, customer_no TEXT, amount_cents BIGINT, state TEXT, documents_json TEXT,
            business_date DATE, updated_at TIMESTAMP, PRIMARY KEY (transaction_id, kind));
        INSERT INTO pipeline.sage_refund_log (transaction_id, kind, state) VALUES
            (9001, 'refund', 'confirmed'), (9002, 'refund', 'written'), (9003, 'refund', 'intent'),
            (9004, 'receipt_reversal', 'confirmed'), (9005, 'refund', 'confirmed');
    """)
    assert refunds_recorded_in_sage(warehouse, [9001, 9002, 9003, 9004, 7000]) == {9001}

    warehouse.execute("""
        CREATE TABLE pipeline.refund_requests (request_id TEXT PRIMARY KEY, state TEXT, action TEXT,
            paytrace_transaction_id BIGINT);
        INSERT INTO pipeline.refund_requests VALUES
            ('CM-01-1-1', 'recorded', 'refund', 9101), ('CM-01-2-1', 'sent', 'refund', 9102),
            ('CM-01-3-1', 'recorded', 'void', 7000), ('CM-01-4-1', 'confirmed', 'refund', 9001);
    """)
    assert refunds_recorded_in_sage(warehouse, [9001, 9002, 9101, 9102, 7000]) == {9001, 9101}


# ------------------------------------------------------------------------------ configuration


def test_the_refunds_section_decides_the_refund_flow():
    assert refund_flow(PipelineConfig(), frozenset({1})) is None
    on = PipelineConfig.model_validate({"refunds": {}})
    assert refund_flow(on, frozenset({1})) == RefundFlow(recorded=frozenset({1}), start_date=None)
    dated = PipelineConfig.model_validate({"refunds": {"start_date": "2026-12-01"}})
    assert refund_flow(dated, frozenset()) == RefundFlow(start_date=date(2026, 12, 1))


def test_a_refund_is_dated_by_its_business_day_in_the_merchant_zone():
    transactions = pd.DataFrame({"transaction_id": [1, 2, 3], "created_at": pd.to_datetime(
        ["2026-12-01T06:30:00Z", "2026-12-01T09:00:00Z", None], utc=True)})
    dated = with_created_dates(transactions, "America/Los_Angeles")
    assert dated["created_date"].tolist() == [date(2026, 11, 30), date(2026, 12, 1), None]
    assert "created_date" not in transactions


# ------------------------------------------------------------------- clearing read back from Sage


def clearing_account(reader: Sage100Reader, payment_type: str) -> str:
    types = {kind.payment_type: kind for kind in reader.payment_types()}
    accounts = {account.account_key: account.account for account in reader.gl_accounts()}
    return accounts[types[payment_type].asset_account_key]


@pytest.mark.parametrize("refund_through_clearing", [True, False], ids=["debited_to_clearing", "expensed_too"])
def test_card_refunds_count_in_the_clearing_of_their_batch(company, writer, refund_through_clearing):  # noqa: F811
    """Batch 1: a sale (receipt Dr clearing) and a refund recorded in Sage (card refund Cr clearing).
    The deposit entry that debits clearing for the refund clears the batch; one that expenses the
    refund as well books it twice and leaves clearing short."""
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    sale = min(balance, Decimal("100.00"))
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=sale)],
                                     transaction_id="700001"))
    memo = writer.create_credit_memo(CreditMemo(reference="PT-R700002", division=division, customer_no=customer,
                                                memo_date=TODAY, amount="40.00", account="4950-00"))
    writer.record_card_refund(CardRefund(transaction_id="700002", division=division, customer_no=customer,
                                         refund_date=TODAY, amount="40.00", payment_type="VISA",
                                         credit_memo_no=memo.documents["InvoiceNo"]))
    reader = Sage100Reader.for_sqlite(company)
    clearing = clearing_account(reader, "VISA")
    refund_line = (JournalLine(account=clearing, debit="40.00", comment="VISA refunds batch 1")
                   if refund_through_clearing else JournalLine(account="4950-00", debit="40.00", comment="Refunds"))
    entry = writer.post_journal_entry(JournalEntry(
        reference="PT-B1-260302-CARDS", posting_date=TODAY, comment="PayTrace batch 1 CARDS", lines=(
            JournalLine(account="1010-00", debit=sale - Decimal("40.00"), comment="Deposit"),
            refund_line,
            JournalLine(account=clearing, credit=sale, comment="VISA sales batch 1"))))
    lines = pd.DataFrame({"role": ["bank", "clearing", "clearing"], "account": ["1010-00", clearing, clearing]})
    posted = pd.DataFrame({"reference": ["PT-B1-260302-CARDS"], "entry_no": [entry.documents["EntryNo"]],
                           "kind": ["deposit"], "batch_number": pd.array([1], dtype="Int64")})
    batch = pd.DataFrame({"transaction_id": [700001, 700002], "batch_number": [1, 1]})

    nets = clearing_nets(reader, lines, posted, batch)

    assert nets == ({1: 0} if refund_through_clearing else {1: -4_000})
    # read once for a run whose other days also credit another brand's clearing: the day's nets alike
    run_lines = pd.concat([lines, pd.DataFrame({"role": ["clearing"], "account": [clearing_account(reader, "AMEX")]})])
    assert clearing_nets(reader, lines, posted, batch, ClearingLedger(reader, run_lines)) == nets
