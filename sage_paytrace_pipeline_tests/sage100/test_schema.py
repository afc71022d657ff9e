"""The schema carries Sage's own names and sizes, and the demo DDL enforces them."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, UNCERTAIN_NAMES, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import register_sqlite_types

REQUIRED_TABLES = (
    "AR_Division", "AR_Customer", "AR_CustomerCreditCard", "AR_PaymentType", "AR_TermsCode", "CI_Item",
    "IM_ItemWarehouse", "GL_Account", "bank_codes", "AR_OpenInvoice", "AR_InvoiceHistoryHeader",
    "AR_InvoiceHistoryDetail", "AR_InvoiceHistoryPayment", "AR_TransactionPaymentHistory",
    "AR_CashReceiptsDeposit", "AR_CashReceiptsHeader", "AR_CashReceiptsDetail", "AR_CashReceiptsHistory",
    "SO_SalesOrderHeader", "SO_SalesOrderDetail", "SO_SalesOrderPayment", "GL_DetailPosting",
    "GL_GeneralJournalHeader", "GL_GeneralJournalDetail", "GL_GeneralJournalHistory", "next_numbers",
)


@pytest.fixture
def db() -> sqlite3.Connection:
    register_sqlite_types()
    connection = sqlite3.connect(":memory:")
    DEFAULT_SCHEMA.create_in(connection)
    return connection


def test_ddl_creates_every_table(db):
    created = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {DEFAULT_SCHEMA.table(key).name for key in REQUIRED_TABLES} <= created
    for table in DEFAULT_SCHEMA.tables():
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table.name})")]
        assert tuple(columns) == table.column_names


@pytest.mark.parametrize(
    ("table", "column", "kind", "length", "scale"),
    [
        ("AR_Customer", "ARDivisionNo", "str", 2, 0),
        ("AR_Customer", "CustomerNo", "str", 20, 0),
        ("AR_Customer", "CustomerName", "str", 50, 0),
        ("AR_Customer", "AddressLine1", "str", 40, 0),
        ("AR_Customer", "EmailAddress", "str", 250, 0),
        ("AR_Customer", "CreditCardGUID", "str", 32, 0),
        ("AR_Customer", "CurrentBalance", "decimal", 13, 2),
        ("AR_Customer", "CreditHold", "flag", 1, 0),
        ("AR_CustomerCreditCard", "Last4UnencryptedCreditCardNos", "str", 4, 0),
        ("AR_CustomerCreditCard", "CreditCardID", "str", 10, 0),
        ("AR_PaymentType", "PaymentType", "str", 5, 0),
        ("AR_TermsCode", "DiscountRate", "decimal", 9, 3),
        ("CI_Item", "ItemCode", "str", 30, 0),
        ("CI_Item", "StandardUnitPrice", "decimal", 15, 6),
        ("GL_Account", "AccountKey", "str", 9, 0),
        ("GL_Account", "Account", "str", 41, 0),
        ("GL_Account", "AccountDesc", "str", 50, 0),
        ("AR_OpenInvoice", "InvoiceNo", "str", 7, 0),
        ("AR_OpenInvoice", "FreightAmt", "decimal", 12, 2),
        ("AR_OpenInvoice", "Balance", "decimal", 13, 2),
        ("AR_OpenInvoice", "CustomerPONo", "str", 30, 0),
        ("AR_InvoiceHistoryHeader", "HeaderSeqNo", "str", 6, 0),
        ("AR_InvoiceHistoryDetail", "ExtensionAmt", "decimal", 11, 2),
        ("AR_TransactionPaymentHistory", "CreditCardTransactionID", "str", 15, 0),
        ("AR_TransactionPaymentHistory", "CreditCardAuthorizationNo", "str", 16, 0),
        ("AR_CashReceiptsHistory", "DepositNo", "str", 5, 0),
        ("AR_CashReceiptsHistory", "BankCode", "str", 1, 0),
        ("AR_CashReceiptsHistory", "CashAmountApplied", "decimal", 12, 2),
        ("AR_CashReceiptsHistory", "CardholderName", "str", 50, 0),
        ("AR_CashReceiptsHistory", "CreditCardEntryNo", "str", 6, 0),
        ("SO_SalesOrderHeader", "SalesOrderNo", "str", 7, 0),
        ("SO_SalesOrderHeader", "BillToName", "str", 50, 0),
        ("SO_SalesOrderHeader", "SalesTaxAmt", "decimal", 11, 2),
        ("SO_SalesOrderDetail", "LineKey", "str", 6, 0),
        ("SO_SalesOrderDetail", "LineSeqNo", "str", 14, 0),
        ("SO_SalesOrderPayment", "CreditCardTrackingID", "str", 36, 0),
        ("SO_SalesOrderPayment", "CreditCardTransactionID", "str", 10, 0),
        ("GL_DetailPosting", "DebitAmount", "decimal", 16, 2),
        ("GL_DetailPosting", "SourceJournal", "str", 2, 0),
    ],
)
def test_confirmed_columns_match_the_reference(table, column, kind, length, scale):
    found = DEFAULT_SCHEMA.table(table).column(column)
    assert (found.name, found.kind, found.length, found.scale) == (column, kind, length, scale)


@pytest.mark.parametrize(
    ("table", "primary_key"),
    [
        ("AR_Customer", ("ARDivisionNo", "CustomerNo")),
        ("AR_OpenInvoice", ("ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType")),
        ("AR_InvoiceHistoryHeader", ("InvoiceNo", "HeaderSeqNo")),
        ("AR_CashReceiptsHistory", ("BankCode", "DepositDate", "DepositNo", "DepositType", "ARDivisionNo",
                                    "CustomerNo", "CreditCardEntryNo", "CheckNo", "SequenceNo")),
        ("SO_SalesOrderDetail", ("SalesOrderNo", "LineKey")),
        ("GL_Account", ("AccountKey",)),
    ],
)
def test_primary_keys(table, primary_key):
    assert DEFAULT_SCHEMA.table(table).primary_key == primary_key


def test_audit_columns_on_most_tables():
    audit = {"DateCreated", "TimeCreated", "UserCreatedKey", "DateUpdated", "TimeUpdated", "UserUpdatedKey"}
    with_audit = [t for t in DEFAULT_SCHEMA.tables() if audit <= set(t.column_names)]
    assert len(with_audit) >= len(DEFAULT_SCHEMA.tables()) - 1  # GL_DetailPosting has create audit only
    assert DEFAULT_SCHEMA.table("AR_Customer").column("TimeCreated").length == 8


def test_over_long_string_is_refused(db):
    with pytest.raises(sqlite3.IntegrityError, match="ARDivisionNo"):
        db.execute("INSERT INTO AR_Division (ARDivisionNo) VALUES ('001')")
    with pytest.raises(sqlite3.IntegrityError, match="CustomerName"):
        db.execute("INSERT INTO AR_Customer (ARDivisionNo, CustomerNo, CustomerName) VALUES ('01', 'A', ?)",
                   ("x" * 51,))
    db.execute("INSERT INTO AR_Customer (ARDivisionNo, CustomerNo, CustomerName) VALUES ('01', 'A', ?)", ("x" * 50,))


@pytest.mark.parametrize(
    ("column", "value"),
    [("CreditHold", "X"), ("DateEstablished", "20240131"), ("DateEstablished", ""), ("CurrentBalance", "abc"),
     ("CurrentBalance", Decimal("100000000000.00"))],
)
def test_bad_values_are_refused(db, column, value):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(f"INSERT INTO AR_Customer (ARDivisionNo, CustomerNo, {column}) VALUES ('01', 'A', ?)", (value,))


def test_dates_and_decimals_round_trip(db):
    register_sqlite_types()
    db.execute("INSERT INTO AR_Customer (ARDivisionNo, CustomerNo, DateEstablished, CurrentBalance) "
               "VALUES ('01', 'A', ?, ?)", (date(2024, 1, 31), Decimal("12.30")))
    established, balance, unset = db.execute(
        "SELECT DateEstablished, CurrentBalance, DateLastPayment FROM AR_Customer").fetchone()
    assert (established, unset) == ("2024-01-31", None)
    assert Decimal(str(balance)) == Decimal("12.3")


def test_uncertain_names_are_valid_override_keys():
    for key, name in UNCERTAIN_NAMES.items():
        table_key, _, column_key = key.partition(".")
        table = DEFAULT_SCHEMA.table(table_key)
        assert (table.column(column_key).name if column_key else table.name) == name
    assert DEFAULT_SCHEMA.table("bank_codes").certainty == "uncertain"


def test_site_overrides_rename_tables_and_columns():
    schema = Sage100Schema({"bank_codes": "BR_BankCode", "AR_CashReceiptsDetail.LineType": "FieldType"})
    assert schema["bank_codes"].name == "BR_BankCode"
    detail = schema.table("AR_CashReceiptsDetail")
    assert detail.column("LineType").name == "FieldType"
    assert detail.col("LineType") == "FieldType"
    assert any("FieldType TEXT" in statement for statement in schema.sqlite_ddl())
    assert DEFAULT_SCHEMA["bank_codes"].name == "GL_BankCode"  # the default is untouched


@pytest.mark.parametrize("key", ["AR_Nope", "AR_Customer.NoSuchColumn"])
def test_unknown_override_keys_are_refused(key):
    with pytest.raises(KeyError):
        Sage100Schema({key: "X"})


def test_next_number_table_is_demo_only():
    table = DEFAULT_SCHEMA.table("next_numbers")
    assert table.demo_only and table.name == "SY_NextNumber"
    assert [t.key for t in DEFAULT_SCHEMA.tables() if t.demo_only] == ["next_numbers"]
