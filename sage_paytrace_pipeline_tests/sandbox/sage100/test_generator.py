"""The demo company: deterministic, Sage-shaped, shared with the PayTrace generator, card-free."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.schema import BRAND_BY_CARD_TYPE, DEFAULT_SCHEMA
from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
from sage_paytrace_pipeline.sandbox.sage100.card_scan import card_numbers_in_database
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TODAY = date(2026, 3, 6)


@pytest.fixture(scope="module")
def activity():
    _plan, summary = generate_activity(date(2026, 3, 2), TODAY, seed=3)
    return summary


@pytest.fixture(scope="module")
def shared(tmp_path_factory, activity):
    path = tmp_path_factory.mktemp("shared") / "demo.db"
    summary = create_demo_company(path, seed=5, activity=activity, customers=150, today=TODAY)
    return path, summary


def _dump(path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _rows(path, sql, params=()):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def test_same_seed_same_company_other_seed_other_company(tmp_path):
    first = create_demo_company(tmp_path / "a.db", seed=11, customers=60, today=TODAY)
    again = create_demo_company(tmp_path / "b.db", seed=11, customers=60, today=TODAY)
    create_demo_company(tmp_path / "c.db", seed=12, customers=60, today=TODAY)
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    assert _dump(tmp_path / "a.db") != _dump(tmp_path / "c.db")
    assert first.counts == again.counts


def test_counts_and_masters(shared):
    path, summary = shared
    for table in DEFAULT_SCHEMA.tables():
        assert _rows(path, f"SELECT COUNT(*) FROM {table.name}")[0][0] == summary.counts[table.name]
    assert summary.counts["AR_Division"] == 2
    assert summary.counts["AR_Customer"] >= 150
    assert summary.counts["AR_OpenInvoice"] == summary.counts["AR_InvoiceHistoryHeader"]
    statuses = Counter(_rows(path, "SELECT CustomerStatus, CreditHold FROM AR_Customer"))
    assert statuses[("I", "N")] > 0 and statuses[("A", "Y")] > 0 and statuses[("A", "N")] > 100
    credit_memos = "SELECT COUNT(*) FROM AR_OpenInvoice WHERE InvoiceType = 'CM' AND CAST(Balance AS NUMERIC) < 0"
    assert _rows(path, credit_memos)[0][0] > 0
    divisions = dict(_rows(path, "SELECT ARDivisionNo, AccountsReceivableAcctKey FROM AR_Division"))
    accounts = dict(_rows(path, "SELECT AccountKey, Account FROM GL_Account"))
    assert {accounts[key] for key in divisions.values()} == {"1200-00", "1210-00"}
    assert all(len(key) == 9 for key in accounts)


def test_item_stock_is_the_sum_of_warehouses(shared):
    path, _summary = shared
    totals = dict(_rows(path, "SELECT ItemCode, SUM(QuantityOnHand) FROM IM_ItemWarehouse GROUP BY ItemCode"))
    for code, on_hand in _rows(path, "SELECT ItemCode, TotalQuantityOnHand FROM CI_Item"):
        assert Decimal(str(on_hand)) == Decimal(str(totals[code]))
    assert sum(totals.values()) > 0


def test_history_detail_adds_up_to_the_invoice(shared):
    path, _summary = shared
    lines = dict(_rows(path, "SELECT InvoiceNo, ROUND(SUM(ExtensionAmt), 2) FROM AR_InvoiceHistoryDetail "
                             "GROUP BY InvoiceNo"))
    for invoice_no, taxable, non_taxable in _rows(
        path, "SELECT InvoiceNo, TaxableSalesAmt, NonTaxableSalesAmt FROM AR_InvoiceHistoryHeader"
    ):
        assert Decimal(str(lines[invoice_no])).quantize(Decimal("0.01")) == (
            Decimal(str(taxable)) + Decimal(str(non_taxable))).quantize(Decimal("0.01"))


def test_every_generated_invoice_is_open_for_its_customer(shared, activity):
    path, summary = shared
    reader = Sage100Reader.for_sqlite(path)
    by_number = {(i.invoice_no, i.invoice_type): i for i in reader.open_invoices()}
    for generated in activity.invoices:
        invoice = by_number[(generated.invoice_no, "IN")]
        assert invoice.balance == invoice.original_amount == generated.amount
        assert invoice.invoice_date == generated.invoice_date
        if generated.customer_id is not None:
            expected = summary.vault_customers[generated.customer_id]
        else:
            expected = summary.web_customers[generated.bill_to_email.lower()]
        assert (invoice.division, invoice.customer_no) == expected


def test_every_vault_id_maps_to_exactly_one_customer(shared, activity):
    path, summary = shared
    reader = Sage100Reader.for_sqlite(path)
    for generated in activity.customers:
        customers = reader.customers_by_card_guid(generated.customer_id)
        assert [c.key for c in customers] == [summary.vault_customers[generated.customer_id]]
        customer = customers[0]
        assert (customer.name, customer.email, customer.zip_code) == (generated.company, generated.email, generated.zip)
        (card,) = reader.customer_cards(*customer.key)
        assert (card.credit_card_guid, card.last4, BRAND_BY_CARD_TYPE[card.card_type]) == (
            generated.customer_id, generated.last4, generated.brand)
    web_emails = {i.bill_to_email.lower() for i in activity.invoices if i.customer_id is None}
    assert set(summary.web_customers) == web_emails
    assert len(set(summary.web_customers.values())) == len(web_emails)


def test_random_invoice_numbers_stay_below_the_activity_range(shared, activity):
    path, _summary = shared
    generated = {i.invoice_no for i in activity.invoices}
    numbers = [n for (n,) in _rows(path, "SELECT InvoiceNo FROM AR_OpenInvoice")]
    assert len(numbers) == len(set(numbers))
    assert all(n < "0100000" for n in numbers if n not in generated)
    assert min(generated) >= "0100100"


def test_next_numbers_follow_the_highest_used(shared):
    path, summary = shared
    rows = _rows(path, "SELECT ModuleCode, NumberType, NextNumber FROM SY_NextNumber")
    next_numbers = {(module, kind): number for module, kind, number in rows}
    assert next_numbers[("A/R", "InvoiceNo")] > _rows(path, "SELECT MAX(InvoiceNo) FROM AR_OpenInvoice")[0][0]
    assert (next_numbers[("S/O", "SalesOrderNo")]
            > _rows(path, "SELECT MAX(SalesOrderNo) FROM SO_SalesOrderHeader")[0][0])
    assert int(next_numbers[("A/R", "CustomerNo")]) == summary.counts["AR_Customer"] + 1
    assert next_numbers[("A/R", "DepositNo")] == "00001" and len(next_numbers[("G/L", "EntryNo")]) == 6
    assert summary.next_numbers["A/R InvoiceNo"] == next_numbers[("A/R", "InvoiceNo")]


def test_gl_opening_entry_balances_and_ties_to_ar(shared):
    path, _summary = shared
    debit, credit = _rows(path, "SELECT SUM(DebitAmount), SUM(CreditAmount) FROM GL_DetailPosting")[0]
    assert round(debit, 2) == round(credit, 2) > 0
    open_ar = _rows(path, "SELECT SUM(Balance) FROM AR_OpenInvoice")[0][0]
    control = _rows(path, "SELECT SUM(DebitAmount - CreditAmount) FROM GL_DetailPosting g JOIN AR_Division d "
                          "ON g.AccountKey = d.AccountsReceivableAcctKey")[0][0]
    assert round(control, 2) == round(open_ar, 2)


def test_no_card_number_anywhere_in_the_file(shared):
    path, _summary = shared
    connection = sqlite3.connect(path)
    try:
        for table in DEFAULT_SCHEMA.tables():
            for row in connection.execute(f"SELECT * FROM {table.name}"):
                for value in row:
                    if isinstance(value, str):
                        assert find_card_numbers(value) == [], (table.name, value)
    finally:
        connection.close()
    assert card_numbers_in_database(path) == []


def test_card_scan_finds_a_planted_number(tmp_path):
    path = tmp_path / "demo.db"
    create_demo_company(path, seed=2, customers=20, today=TODAY)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA secure_delete = OFF")  # leave the deleted bytes on disk
    connection.execute("INSERT INTO AR_Division (ARDivisionNo, ARDivisionDesc) VALUES ('09', 'pan 4012000033330026')")
    connection.commit()
    assert card_numbers_in_database(path) == ["AR_Division.ARDivisionDesc rowid 3: xxxxxxxxxxxx0026"]
    connection.execute("DELETE FROM AR_Division WHERE ARDivisionNo = '09'")
    connection.commit()
    connection.close()
    assert card_numbers_in_database(path) == ["demo.db: raw bytes hold xxxxxxxxxxxx0026 outside any live value"]


def test_existing_file_is_refused_unless_overwrite(tmp_path):
    path = tmp_path / "demo.db"
    create_demo_company(path, seed=1, customers=5, today=TODAY)
    with pytest.raises(FileExistsError, match=r"demo\.db"):
        create_demo_company(path, seed=1, customers=5, today=TODAY)
    summary = create_demo_company(path, seed=1, customers=8, today=TODAY, overwrite=True)
    assert summary.counts["AR_Customer"] == 8
