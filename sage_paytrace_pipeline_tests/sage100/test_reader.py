"""The reader against a generated demo company (real SQLite), and its behaviour toward real drivers."""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from datetime import date, datetime
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError, Sage100SchemaError
from sage_paytrace_pipeline.sage100.reader import MAX_PARAMETERS, Sage100Reader, describe_connection_string
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import open_demo_database
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

TODAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    path = tmp_path_factory.mktemp("sage") / "demo.db"
    create_demo_company(path, seed=7, customers=120, today=TODAY)
    return path


@pytest.fixture(scope="module")
def reader(company):
    return Sage100Reader.for_sqlite(company)


@pytest.fixture
def writable_copy(company, tmp_path):
    path = tmp_path / "copy.db"
    shutil.copy(company, path)
    return path


def test_customers_and_one_customer(reader):
    customers = reader.customers()
    assert len(customers) == 120
    assert {c.division for c in customers} == {"01", "02"}
    assert {c.status for c in customers} <= {"A", "I"}
    assert all(isinstance(c.current_balance, Decimal) for c in customers)
    first = customers[0]
    assert reader.customer(first.division, first.customer_no) == first
    assert reader.customer("01", "NOSUCH") is None
    assert all(c.division == "02" for c in reader.customers(division="02"))


def test_cards_link_vault_tokens_to_customers(reader):
    cards = reader.customer_cards()
    assert cards, "the demo gives some customers a saved card"
    for card in cards[:10]:
        assert re.fullmatch(r"\d{4}", card.last4)
        assert card.brand in {"VISA", "MASTERCARD", "AMEX", "DISCOVER"}
        customer = reader.customer_by_card_guid(card.credit_card_guid)
        assert (customer.division, customer.customer_no) == (card.division, card.customer_no)
        assert customer.credit_card_guid == card.credit_card_guid
    assert reader.customer_by_card_guid("0" * 32) is None
    one = cards[0]
    assert reader.customer_cards(one.division, one.customer_no) == [one]


def test_open_invoices_with_balances(reader):
    invoices = reader.open_invoices()
    assert invoices and all(i.balance != 0 for i in invoices)
    assert {i.invoice_type for i in invoices} <= {"IN", "CM"}
    assert any(i.balance < i.original_amount for i in invoices if i.invoice_type == "IN"), "some partly paid"
    for invoice in invoices:
        if invoice.invoice_type == "CM":
            assert invoice.balance < 0
        assert invoice.due_date >= invoice.invoice_date
    sample = invoices[0]
    assert reader.open_invoice(sample.division, sample.customer_no, sample.invoice_no, sample.invoice_type) == sample
    assert reader.open_invoice(sample.division, sample.customer_no, "9999999") is None
    mine = reader.open_invoices(sample.division, sample.customer_no)
    assert sample in mine and {i.customer_no for i in mine} == {sample.customer_no}


def test_customer_balance_is_the_sum_of_open_items(reader):
    totals: dict[tuple[str, str], Decimal] = {}
    for invoice in reader.open_invoices(with_balance_only=False):
        key = (invoice.division, invoice.customer_no)
        totals[key] = totals.get(key, Decimal("0")) + invoice.balance
    for customer in reader.customers():
        assert customer.current_balance == totals.get(customer.key, Decimal("0.00"))


def test_masters(reader):
    types = {t.payment_type: t for t in reader.payment_types()}
    assert {"VISA", "MC", "AMEX", "DISC", "CHECK"} <= set(types)
    accounts = {a.account_key: a for a in reader.gl_accounts()}
    for code in ("VISA", "MC", "AMEX", "DISC"):
        assert types[code].is_card
        assert "Clearing" in accounts[types[code].asset_account_key].description
        assert accounts[types[code].accrual_account_key].description == "Merchant Card Fees"
    assert not types["CHECK"].is_card
    assert any(not a.active for a in accounts.values())
    banks = reader.bank_codes()
    assert [b.bank_code for b in banks] == ["A", "B"]
    assert accounts[banks[0].cash_account_key].account == "1010-00"


def test_sales_orders_with_lines(reader):
    orders = reader.sales_orders()
    assert orders and all(o.lines for o in orders)
    order = orders[0]
    assert order.total == sum((line.extension_amt for line in order.lines), Decimal("0"))
    assert reader.sales_order(order.sales_order_no) == order
    assert reader.sales_order("9999999") is None
    recent = reader.sales_orders(since=TODAY)
    assert all(o.order_date >= TODAY for o in recent)
    assert reader.sales_orders(order.division, order.customer_no, sales_order_nos=[order.sales_order_no]) == [order]


def test_a_query_written_for_real_sage_odbc_runs_unchanged(company, reader):
    invoice = reader.open_invoices()[0]
    connection = open_demo_database(company, read_only=True)
    try:
        rows = connection.execute(
            "SELECT ARDivisionNo, CustomerNo, InvoiceNo, Balance FROM AR_OpenInvoice "
            "WHERE ARDivisionNo = ? AND CustomerNo = ?",
            (invoice.division, invoice.customer_no),
        ).fetchall()
        assert (invoice.division, invoice.customer_no, invoice.invoice_no) in [r[:3] for r in rows]
        # A Premium / dbt style query with Sage's names, dates as parameters.
        count = connection.execute(
            "SELECT COUNT(*) FROM AR_Customer WHERE CustomerStatus = 'A' AND DateEstablished < ?", (TODAY,)
        ).fetchone()[0]
        assert count > 0
    finally:
        connection.close()


def test_reader_sends_only_plain_parameterized_selects(company):
    statements: list[tuple[str, int]] = []

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        def cursor(self):
            inner_cursor = self.inner.cursor()

            class Cursor:
                def execute(self, sql, params):
                    statements.append((sql, len(params)))
                    return inner_cursor.execute(sql, params)

                def fetchall(self):
                    return inner_cursor.fetchall()

                def close(self):
                    inner_cursor.close()

            return Cursor()

        def close(self):
            self.inner.close()

    reader = Sage100Reader(lambda: Recording(open_demo_database(company, read_only=True)))
    reader.customers()
    reader.open_invoices("01")
    reader.sales_orders(since=TODAY)
    reader.receipts_for_transaction_ids(str(n) for n in range(1200))
    plain = re.compile(r"SELECT [A-Za-z0-9_, ]+ FROM [A-Za-z0-9_]+( WHERE [A-Za-z0-9_ =<>?,()]+)?")
    for sql, parameters in statements:
        assert plain.fullmatch(sql), sql
        assert not re.search(r"\b(JOIN|UNION|LIMIT|TOP|ORDER|CAST|CONVERT)\b", sql, re.I), sql
        assert sql.count("?") == parameters <= MAX_PARAMETERS


def _add_entered_receipt(path, transaction_id: str, invoices: list[tuple[str, Decimal]], division, customer_no):
    connection = open_demo_database(path)
    total = sum((amount for _no, amount in invoices), Decimal("0"))
    with connection:
        connection.execute("INSERT INTO AR_CashReceiptsDeposit (DepositNo, BankCode, DepositDate, DepositType, "
                           "CreditCardDepositAmt) VALUES ('00001', 'A', ?, 'R', ?)", (TODAY, total))
        connection.execute(
            "INSERT INTO AR_CashReceiptsHeader (DepositNo, ARDivisionNo, CustomerNo, CreditCardEntryNo, CheckNo, "
            "DepositType, PostingAmt, PaymentType, CreditCardTransactionID, CreditCardAuthorizationNo, "
            "Last4UnencryptedCreditCardNos) VALUES ('00001', ?, ?, '000001', '', 'R', ?, 'VISA', ?, 'TAS123', '1111')",
            (division, customer_no, total, transaction_id),
        )
        for number, (invoice_no, amount) in enumerate(invoices, start=1):
            connection.execute(
                "INSERT INTO AR_CashReceiptsDetail (DepositNo, ARDivisionNo, CustomerNo, CreditCardEntryNo, CheckNo, "
                "LineKey, LineSeqNo, InvoiceNo, InvoiceType, AmountPosted) "
                "VALUES ('00001', ?, ?, '000001', '', ?, ?, ?, 'IN', ?)",
                (division, customer_no, f"{number:06d}", f"{number:014d}", invoice_no, amount),
            )
    connection.close()


def _add_posted_receipt(path, transaction_id: str, invoices: list[tuple[str, Decimal]], division, customer_no):
    connection = open_demo_database(path)
    with connection:
        for number, (invoice_no, amount) in enumerate(invoices, start=1):
            connection.execute(
                "INSERT INTO AR_CashReceiptsHistory (BankCode, DepositDate, DepositNo, DepositType, ARDivisionNo, "
                "CustomerNo, CreditCardEntryNo, CheckNo, SequenceNo, InvoiceNo, InvoiceType, CashAmountApplied, "
                "PaymentType, CreditCardTransactionID, CreditCardAuthorizationNo, Last4UnencryptedCreditCardNos) "
                "VALUES ('A', ?, '00002', 'R', ?, ?, '000001', '', ?, ?, 'IN', ?, 'MC', ?, 'AUTH9', '4444')",
                (TODAY, division, customer_no, f"{number:06d}", invoice_no, amount, transaction_id),
            )
    connection.close()


def test_receipts_found_in_entry_and_history_by_transaction_id(writable_copy):
    reader = Sage100Reader.for_sqlite(writable_copy)
    invoice = reader.open_invoices()[0]
    key = (invoice.division, invoice.customer_no)
    _add_entered_receipt(writable_copy, "118000001", [(invoice.invoice_no, Decimal("10.00")),
                                                       ("0099998", Decimal("5.25"))], *key)
    _add_posted_receipt(writable_copy, "118000002", [(invoice.invoice_no, Decimal("1.10")),
                                                      ("0099997", Decimal("2.20"))], *key)
    ids = ["118000001", "118000002", "404"] + [str(n) for n in range(900)]  # more than one IN chunk
    found = {r.transaction_id: r for r in reader.receipts_for_transaction_ids(ids)}
    assert set(found) == {"118000001", "118000002"}

    entered = found["118000001"]
    assert not entered.posted
    assert (entered.deposit_no, entered.division, entered.customer_no, entered.entry_no) == ("00001", *key, "000001")
    assert entered.amount == Decimal("15.25") == sum(line.amount for line in entered.lines)
    assert [line.invoice_no for line in entered.lines] == [invoice.invoice_no, "0099998"]
    assert (entered.bank_code, entered.deposit_date, entered.authorization_no, entered.last4) == (
        "A", TODAY, "TAS123", "1111")

    posted = found["118000002"]
    assert posted.posted and posted.amount == Decimal("3.30") and len(posted.lines) == 2
    assert (posted.payment_type, posted.last4) == ("MC", "4444")
    assert reader.receipt_for_transaction_id("404") is None
    assert reader.receipts_for_transaction_ids([]) == []


def test_reader_is_read_only(company):
    connection = open_demo_database(company, read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM AR_Customer")
    connection.close()


def test_missing_table_names_the_table_and_the_fix(writable_copy):
    connection = sqlite3.connect(writable_copy)
    connection.execute("DROP TABLE AR_CashReceiptsHeader")
    connection.commit()
    connection.close()
    reader = Sage100Reader.for_sqlite(writable_copy)
    expected = r"table AR_CashReceiptsHeader not found in demo company .*sage100 names"
    with pytest.raises(Sage100SchemaError, match=expected):
        reader.receipts_for_transaction_ids(["1"])
    with pytest.raises(Sage100SchemaError, match="AR_CashReceiptsHeader"):
        reader.check_tables()


def test_missing_column_names_the_override_key(company):
    schema = Sage100Schema({"AR_CashReceiptsHeader.CreditCardTransactionID": "TxnId"})
    reader = Sage100Reader.for_sqlite(company, schema)
    expected = r"column of table AR_CashReceiptsHeader.*AR_CashReceiptsHeader\.<Column>"
    with pytest.raises(Sage100SchemaError, match=expected):
        reader.receipts_for_transaction_ids(["1"])
    Sage100Reader.for_sqlite(company).check_tables()  # the demo company has everything the reader reads


def test_site_table_names_are_used(writable_copy):
    connection = sqlite3.connect(writable_copy)
    connection.execute("ALTER TABLE GL_BankCode RENAME TO BR_BankCode")
    connection.commit()
    connection.close()
    reader = Sage100Reader.for_sqlite(writable_copy, Sage100Schema({"bank_codes": "BR_BankCode"}))
    assert [b.bank_code for b in reader.bank_codes()] == ["A", "B"]


def test_missing_demo_file_is_a_connection_error(tmp_path):
    with pytest.raises(Sage100ConnectionError, match="does not exist"):
        Sage100Reader.for_sqlite(tmp_path / "nope.db").customers()


def test_odbc_without_pyodbc_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # import fails as if not installed
    reader = Sage100Reader.for_odbc("DSN=SOTAMAS90;UID=ar;PWD=secret;Company=ABC")
    with pytest.raises(Sage100ConnectionError, match="pyodbc") as caught:
        reader.customers()
    assert "SOTAMAS90" in str(caught.value) and "secret" not in str(caught.value)


def test_failed_connect_names_the_dsn_and_hides_the_password(monkeypatch):
    class FakeOdbc:
        @staticmethod
        def connect(connection_string, autocommit):
            raise RuntimeError("[IM002] Data source name not found; PWD=secret")

    monkeypatch.setitem(sys.modules, "pyodbc", FakeOdbc)
    reader = Sage100Reader.for_odbc("DSN=SOTAMAS91;UID=ar;PWD=secret;Company=ABC")
    with pytest.raises(Sage100ConnectionError, match="ODBC DSN SOTAMAS91, company ABC") as caught:
        reader.gl_accounts()
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("connection_string", "described"),
    [
        ("DSN=SOTAMAS90;UID=x;PWD=y", "ODBC DSN SOTAMAS90"),
        ("Driver={MAS 90 4.0 ODBC Driver};Directory=\\\\srv\\MAS90;Company=ABC;UID=x;PWD=y",
         "Sage 100 company ABC in \\\\srv\\MAS90 (MAS 90 4.0 ODBC Driver)"),
        ("Driver={ODBC Driver 18 for SQL Server};Server=sql1;Database=MAS_ABC;Trusted_Connection=yes",
         "SQL Server database MAS_ABC on sql1"),
    ],
)
def test_describe_connection_string(connection_string, described):
    assert describe_connection_string(connection_string) == described


def test_driver_values_are_normalized():
    """ProvideX returns doubles and padded strings, Premium 1753-01-01 for blank dates."""

    class Cursor:
        def execute(self, sql, params):
            self.sql = sql

        def fetchall(self):
            return [("01", "ABC       ", "0001234", "IN", datetime(2026, 1, 5), datetime(1753, 1, 1), 12.299999999,
                     100.1, 0.0, 0.0, 0.0, 0.0, "01", "")]

        def close(self):
            pass

    class Connection:
        def cursor(self):
            return Cursor()

        def close(self):
            pass

    invoice = Sage100Reader(Connection, DEFAULT_SCHEMA).open_invoices()[0]
    assert invoice.customer_no == "ABC"
    assert invoice.invoice_date == date(2026, 1, 5) and invoice.due_date is None
    assert invoice.balance == Decimal("12.30") and invoice.original_amount == Decimal("100.10")


def test_row_mappings_fill_model_fields_from_schema_columns():
    """The generic row -> model mapping: every mapped name is a field of its model (pydantic would
    ignore a misspelt one), every column is in the schema, and its conversion follows the column's kind."""
    from sage_paytrace_pipeline.sage100 import reader as reader_module

    mappings = [value for value in vars(reader_module).values() if isinstance(value, reader_module.RowMapping)]
    assert len(mappings) == 17  # 13 + the memo requests and invoice card payments + the card refund rows (issue 12)
    # + the customer change stamps (issue 15)
    for mapping in mappings:
        table = DEFAULT_SCHEMA.table(mapping.table)
        named = [name for name in mapping.fields.values() if name]
        assert set(named) <= set(mapping.model.model_fields), mapping.table
        assert len(named) == len(set(named)), mapping.table
        for key in mapping.columns:
            table.column(key)
    row = {"CreditHold": "Y", "CreditLimit": 10.1, "DateLastPayment": "20260105", "CustomerName": "Ann  "}
    values = reader_module._CUSTOMER.values(row)
    assert (values["credit_hold"], values["credit_limit"], values["date_last_payment"], values["name"]) == (
        True, Decimal("10.10"), date(2026, 1, 5), "Ann")
    assert reader_module._ORDER_LINE.values({"UnitPrice": "2.500000"})["unit_price"] == Decimal("2.5")


def test_a_receipt_look_up_reads_on_one_connection_and_closes_it(writable_copy):
    opened = []

    def connect():
        connection = open_demo_database(writable_copy, read_only=True)
        opened.append(connection)
        return connection

    reader, plain = Sage100Reader(connect), Sage100Reader.for_sqlite(writable_copy)
    invoice = plain.open_invoices()[0]
    key = (invoice.division, invoice.customer_no)
    _add_entered_receipt(writable_copy, "118000001", [(invoice.invoice_no, Decimal("10.00"))], *key)
    _add_posted_receipt(writable_copy, "118000002", [(invoice.invoice_no, Decimal("1.10"))], *key)
    ids = ["118000001", "118000002"] + [str(n) for n in range(1200)]  # three IN chunks a table

    assert reader.receipts_for_transaction_ids(ids) == plain.receipts_for_transaction_ids(ids)
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError):  # closed when the look-up ends
        opened[0].execute("SELECT 1")
    reader.customers()
    reader.customers()
    assert len(opened) == 3  # other reads open their own, as before
