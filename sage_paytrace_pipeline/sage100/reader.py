"""Read-only access to a Sage 100 company through any DB-API connection.

The SQL is the same for the SQLite demo company and a real site (ProvideX ODBC, or SQL Server on
Premium): plain SELECTs of named columns on keyed columns, `?` parameters, no joins, no UNION, no
vendor functions. Related rows are fetched with a second keyed query and joined in Python, which is
also what the ProvideX driver handles fastest. Table and column names come from the schema, so a
site's corrected names apply everywhere.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError, Sage100Error, Sage100SchemaError
from sage_paytrace_pipeline.sage100.models import (
    BankCode,
    Customer,
    CustomerCard,
    GlAccount,
    OpenInvoice,
    PaymentType,
    PostedReceipt,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    as_date,
    as_flag,
    as_money,
    as_quantity,
    as_text,
)
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import open_demo_database

# Drivers cap parameters per statement (SQL Server 2100, SQLite 32766 / 999 on old builds);
# 500 keeps every IN-list well inside all of them.
MAX_PARAMETERS = 500

_MISSING_COLUMN = re.compile(r"no such column|column not found|invalid column|unknown column", re.I)
_MISSING_TABLE = re.compile(r"no such table|table not found|invalid object name|not found|does not exist", re.I)

Row = dict[str, Any]


class Sage100Reader:
    """Typed reads of one Sage 100 company; `connect` opens a fresh DB-API connection per call."""

    def __init__(
        self,
        connect: Callable[[], Any],
        schema: Sage100Schema = DEFAULT_SCHEMA,
        *,
        source: str = "the Sage 100 company",
    ) -> None:
        self._connect = connect
        self.schema = schema
        self.source = source

    @classmethod
    def for_sqlite(cls, path: str | Path, schema: Sage100Schema = DEFAULT_SCHEMA) -> Sage100Reader:
        """The demo company, opened read-only (`mode=ro`): the reader cannot change it."""
        return cls(lambda: open_demo_database(path, read_only=True), schema, source=f"demo company {path}")

    @classmethod
    def for_odbc(cls, connection_string: str, schema: Sage100Schema = DEFAULT_SCHEMA) -> Sage100Reader:
        """A real company: `DSN=SOTAMAS90;UID=..;PWD=..;Company=ABC`, DSN-less
        `Driver={MAS 90 4.0 ODBC Driver};Directory=\\\\server\\MAS90;Company=ABC;UID=..;PWD=..`, or a
        SQL Server connection string for Premium."""
        source = describe_connection_string(connection_string)

        def connect() -> Any:
            try:
                import pyodbc  # imported here: only real sites need it, and it needs an ODBC manager
            except ImportError as exc:
                raise Sage100ConnectionError(
                    f"cannot connect to {source}: the Python package pyodbc is not installed ({exc}); "
                    "install it with `pip install pyodbc` and the Sage 100 ODBC driver of the same bitness"
                ) from None
            return pyodbc.connect(connection_string, autocommit=True)

        return cls(connect, schema, source=source)

    # ------------------------------------------------------------------ customers and cards

    def customers(self, division: str | None = None) -> list[Customer]:
        rows = self._select("AR_Customer", _CUSTOMER_COLUMNS, {"ARDivisionNo": division})
        return sorted((_customer(row) for row in rows), key=lambda c: c.key)

    def customer(self, division: str, customer_no: str) -> Customer | None:
        rows = self._select("AR_Customer", _CUSTOMER_COLUMNS, {"ARDivisionNo": division, "CustomerNo": customer_no})
        return _customer(rows[0]) if rows else None

    def customer_cards(self, division: str | None = None, customer_no: str | None = None) -> list[CustomerCard]:
        key = {"ARDivisionNo": division, "CustomerNo": customer_no}
        rows = self._select("AR_CustomerCreditCard", _CARD_COLUMNS, key)
        cards = (_card(row) for row in rows)
        return sorted(cards, key=lambda c: (c.division, c.customer_no, c.credit_card_guid))

    def customers_by_card_guid(self, guid: str) -> list[Customer]:
        """Every customer holding this vault token (saved card or default card); normally one."""
        keys: set[tuple[str, str]] = set()
        for table_key in ("AR_CustomerCreditCard", "AR_Customer"):
            rows = self._select(table_key, ("ARDivisionNo", "CustomerNo"), {"CreditCardGUID": guid})
            keys |= {(as_text(r["ARDivisionNo"]), as_text(r["CustomerNo"])) for r in rows}
        found = (self.customer(division, customer_no) for division, customer_no in sorted(keys))
        return [customer for customer in found if customer is not None]

    def customer_by_card_guid(self, guid: str) -> Customer | None:
        """The customer of a vault token; the first by key when several share it (see `customers_by_card_guid`)."""
        customers = self.customers_by_card_guid(guid)
        return customers[0] if customers else None

    # ------------------------------------------------------------------ receivables

    def open_invoices(
        self, division: str | None = None, customer_no: str | None = None, *, with_balance_only: bool = True
    ) -> list[OpenInvoice]:
        # Zero balances are dropped here, on Decimals: an SQL `Balance <> 0` would compare text on
        # the demo company, where amounts are stored as exact text ('0.00' <> '0').
        rows = self._select("AR_OpenInvoice", _OPEN_INVOICE_COLUMNS, {"ARDivisionNo": division, "CustomerNo": customer_no})
        invoices = (invoice for invoice in map(_open_invoice, rows) if invoice.balance != 0 or not with_balance_only)
        return sorted(invoices, key=lambda i: (i.division, i.customer_no, i.invoice_no, i.invoice_type))

    def open_invoice(
        self, division: str, customer_no: str, invoice_no: str, invoice_type: str = "IN"
    ) -> OpenInvoice | None:
        key = {"ARDivisionNo": division, "CustomerNo": customer_no,
               "InvoiceNo": invoice_no, "InvoiceType": invoice_type}
        rows = self._select("AR_OpenInvoice", _OPEN_INVOICE_COLUMNS, key)
        return _open_invoice(rows[0]) if rows else None

    def payment_types(self) -> list[PaymentType]:
        rows = self._select("AR_PaymentType", _PAYMENT_TYPE_COLUMNS)
        types = (
            PaymentType(
                payment_type=as_text(r["PaymentType"]), description=as_text(r["PaymentDesc"]),
                payment_method=as_text(r["PaymentMethod"]), asset_account_key=as_text(r["AssetAcctKey"]),
                accrual_account_key=as_text(r["CreditCardAccrualAcctKey"]),
            )
            for r in rows
        )
        return sorted(types, key=lambda t: t.payment_type)

    def gl_accounts(self) -> list[GlAccount]:
        rows = self._select("GL_Account", _GL_ACCOUNT_COLUMNS)
        accounts = (
            GlAccount(
                account_key=as_text(r["AccountKey"]), account=as_text(r["Account"]),
                description=as_text(r["AccountDesc"]), status=as_text(r["Status"]),
                account_type=as_text(r["AccountType"]),
            )
            for r in rows
        )
        return sorted(accounts, key=lambda a: a.account)

    def bank_codes(self) -> list[BankCode]:
        rows = self._select("bank_codes", _BANK_CODE_COLUMNS)
        codes = (
            BankCode(bank_code=as_text(r["BankCode"]), description=as_text(r["BankName"]),
                     cash_account_key=as_text(r["CashAcctKey"]))
            for r in rows
        )
        return sorted(codes, key=lambda b: b.bank_code)

    # ------------------------------------------------------------------ receipts (idempotency look-up)

    def receipts_for_transaction_ids(self, transaction_ids: Iterable[str]) -> list[PostedReceipt]:
        """Receipts Sage holds for these gateway transaction ids: still in entry or already posted."""
        ids = sorted({str(i).strip() for i in transaction_ids if str(i).strip()})
        if not ids:
            return []
        return self._entered_receipts(ids) + self._posted_receipts(ids)

    def receipt_for_transaction_id(self, transaction_id: str) -> PostedReceipt | None:
        receipts = self.receipts_for_transaction_ids([transaction_id])
        return receipts[0] if receipts else None

    def _entered_receipts(self, ids: list[str]) -> list[PostedReceipt]:
        headers = self._select_in("AR_CashReceiptsHeader", _RECEIPT_HEADER_COLUMNS, "CreditCardTransactionID", ids)
        if not headers:
            return []
        deposit_nos = sorted({as_text(h["DepositNo"]) for h in headers})
        deposits = {
            as_text(d["DepositNo"]): d
            for d in self._select_in("AR_CashReceiptsDeposit", _DEPOSIT_COLUMNS, "DepositNo", deposit_nos)
        }
        lines: dict[tuple[str, ...], list[ReceiptLine]] = defaultdict(list)
        detail_rows = self._select_in("AR_CashReceiptsDetail", _RECEIPT_DETAIL_COLUMNS, "DepositNo", deposit_nos)
        for row in sorted(detail_rows, key=lambda r: (as_text(r["LineSeqNo"]), as_text(r["LineKey"]))):
            lines[_receipt_key(row)].append(
                ReceiptLine(invoice_no=as_text(row["InvoiceNo"]), invoice_type=as_text(row["InvoiceType"]),
                            amount=as_money(row["AmountPosted"]))
            )
        receipts = []
        for header in headers:
            deposit = deposits.get(as_text(header["DepositNo"]), {})
            receipts.append(
                PostedReceipt(
                    transaction_id=as_text(header["CreditCardTransactionID"]), posted=False,
                    deposit_no=as_text(header["DepositNo"]), division=as_text(header["ARDivisionNo"]),
                    customer_no=as_text(header["CustomerNo"]), entry_no=as_text(header["CreditCardEntryNo"]),
                    check_no=as_text(header["CheckNo"]), amount=as_money(header["PostingAmt"]),
                    lines=tuple(lines.get(_receipt_key(header), ())), bank_code=as_text(deposit.get("BankCode")),
                    deposit_date=as_date(deposit.get("DepositDate")), payment_type=as_text(header["PaymentType"]),
                    authorization_no=as_text(header["CreditCardAuthorizationNo"]),
                    last4=as_text(header["Last4UnencryptedCreditCardNos"]),
                )
            )
        return sorted(receipts, key=lambda r: (r.transaction_id, r.deposit_no, r.entry_no))

    def _posted_receipts(self, ids: list[str]) -> list[PostedReceipt]:
        rows = self._select_in("AR_CashReceiptsHistory", _RECEIPT_HISTORY_COLUMNS, "CreditCardTransactionID", ids)
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for row in rows:
            key = (as_text(row["CreditCardTransactionID"]), as_text(row["BankCode"]), as_date(row["DepositDate"]),
                   *_receipt_key(row))
            groups[key].append(row)
        receipts = []
        for key, group in sorted(groups.items(), key=lambda item: tuple(str(part) for part in item[0])):
            group.sort(key=lambda r: as_text(r["SequenceNo"]))
            first = group[0]
            lines = tuple(
                ReceiptLine(invoice_no=as_text(r["InvoiceNo"]), invoice_type=as_text(r["InvoiceType"]),
                            amount=as_money(r["CashAmountApplied"]))
                for r in group
            )
            receipts.append(
                PostedReceipt(
                    transaction_id=key[0], posted=True, deposit_no=as_text(first["DepositNo"]),
                    division=as_text(first["ARDivisionNo"]), customer_no=as_text(first["CustomerNo"]),
                    entry_no=as_text(first["CreditCardEntryNo"]), check_no=as_text(first["CheckNo"]),
                    amount=sum((line.amount for line in lines), as_money(0)), lines=lines, bank_code=key[1],
                    deposit_date=key[2], payment_type=as_text(first["PaymentType"]),
                    authorization_no=as_text(first["CreditCardAuthorizationNo"]),
                    last4=as_text(first["Last4UnencryptedCreditCardNos"]),
                )
            )
        return receipts

    # ------------------------------------------------------------------ sales orders

    def sales_orders(
        self,
        division: str | None = None,
        customer_no: str | None = None,
        *,
        sales_order_nos: Sequence[str] | None = None,
        since: date | None = None,
    ) -> list[SalesOrder]:
        """Open sales orders (entry table) with their lines; `since` filters on OrderDate."""
        equals = {"ARDivisionNo": division, "CustomerNo": customer_no}
        conditions = [("OrderDate", ">=", since)] if since else []
        if sales_order_nos is not None:
            headers = self._select_in("SO_SalesOrderHeader", _ORDER_COLUMNS, "SalesOrderNo",
                                      sorted(set(sales_order_nos)), equals, conditions)
        else:
            headers = self._select("SO_SalesOrderHeader", _ORDER_COLUMNS, equals, conditions)
        if not headers:
            return []
        numbers = sorted({as_text(h["SalesOrderNo"]) for h in headers})
        lines: dict[str, list[SalesOrderLine]] = defaultdict(list)
        for row in self._select_in("SO_SalesOrderDetail", _ORDER_LINE_COLUMNS, "SalesOrderNo", numbers):
            lines[as_text(row["SalesOrderNo"])].append(_order_line(row))
        orders = [_order(h, sorted(lines[as_text(h["SalesOrderNo"])], key=lambda l: (l.line_seq_no, l.line_key)))
                  for h in headers]
        return sorted(orders, key=lambda o: o.sales_order_no)

    def sales_order(self, sales_order_no: str) -> SalesOrder | None:
        orders = self.sales_orders(sales_order_nos=[sales_order_no])
        return orders[0] if orders else None

    # ------------------------------------------------------------------ health

    def check_tables(self, keys: Iterable[str] | None = None) -> None:
        """Fail fast (named error) when a table or a column the connector reads is not there."""
        for key in keys or [table.key for table in self.schema.tables() if not table.demo_only]:
            table = self.schema.table(key)
            self._select(key, _READ_COLUMNS.get(key, table.primary_key), {table.primary_key[0]: ""})

    # ------------------------------------------------------------------ SQL

    def rows_where(self, table_key: str, column_key: str, value: Any, select: Sequence[str]) -> list[Row]:
        """A keyed lookup for what the typed methods do not cover, such as a user-defined field
        (``UDF_PAYTRACE_REF``); returns plain rows keyed by the selected column keys."""
        try:
            return self._select(table_key, select, {column_key: value})
        except Sage100SchemaError as exc:
            if column_key.startswith("UDF_"):
                table = self.schema.table(table_key).name
                raise Sage100SchemaError(f"{exc}; add the user-defined field {column_key} to {table} "
                                         "(sage100/udf.py)") from exc
            raise

    def _select(
        self,
        table_key: str,
        column_keys: Sequence[str],
        equals: dict[str, Any] | None = None,
        conditions: Sequence[tuple[str, str, Any]] = (),
        in_list: tuple[str, Sequence[Any]] | None = None,
    ) -> list[Row]:
        """One plain SELECT; `None` in `equals` means "any value" (no condition)."""
        table = self.schema.table(table_key)
        where: list[str] = []
        params: list[Any] = []
        if in_list is not None:
            column, values = in_list
            where.append(f"{table.col(column)} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        for key, value in (equals or {}).items():
            if value is not None:
                where.append(f"{table.col(key)} = ?")
                params.append(value)
        for key, operator, value in conditions:
            where.append(f"{table.col(key)} {operator} ?")
            params.append(value)
        sql = f"SELECT {', '.join(table.col(k) for k in column_keys)} FROM {table.name}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._run(table_key, sql, params, column_keys)

    def _select_in(
        self,
        table_key: str,
        column_keys: Sequence[str],
        in_column: str,
        values: Sequence[Any],
        equals: dict[str, Any] | None = None,
        conditions: Sequence[tuple[str, str, Any]] = (),
    ) -> list[Row]:
        """`column IN (?, ...)` in chunks of MAX_PARAMETERS, each chunk one plain SELECT."""
        size = MAX_PARAMETERS - len(conditions) - sum(v is not None for v in (equals or {}).values())
        rows: list[Row] = []
        for start in range(0, len(values), size):
            chunk = values[start:start + size]
            rows += self._select(table_key, column_keys, equals, conditions, in_list=(in_column, chunk))
        return rows

    def _run(self, table_key: str, sql: str, params: list[Any], column_keys: Sequence[str]) -> list[Row]:
        with self._connection() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                fetched = cursor.fetchall()
            except Sage100Error:
                raise
            except Exception as exc:  # DB-API drivers share no exception hierarchy
                raise self._schema_error(table_key, column_keys, exc) from exc
            finally:
                cursor.close()
        return [dict(zip(column_keys, row, strict=True)) for row in fetched]

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            connection = self._connect()
        except Sage100Error:
            raise
        except Exception as exc:
            raise Sage100ConnectionError(
                f"cannot connect to {self.source}: {_first_line(exc)}. Check the DSN name (or the Directory and "
                "Company of a DSN-less string), that the ODBC driver's bitness matches Python, and the Sage user "
                "and password"
            ) from exc
        try:
            yield connection
        finally:
            connection.close()

    def _schema_error(self, table_key: str, column_keys: Sequence[str], exc: Exception) -> Sage100SchemaError:
        table = self.schema.table(table_key)
        message = _first_line(exc)
        if _MISSING_COLUMN.search(message):
            columns = ", ".join(table.col(k) for k in column_keys)
            return Sage100SchemaError(
                f"a column of table {table.name} is missing in {self.source} ({message}); the connector reads "
                f"{columns}. Set the site's column name in sage100 names as '{table.key}.<Column>'"
            )
        if _MISSING_TABLE.search(message):
            return Sage100SchemaError(
                f"table {table.name} not found in {self.source} ({message}): check the company code, "
                f"or set its site name in sage100 names ('{table.key}: <site table name>')"
            )
        return Sage100SchemaError(f"reading table {table.name} from {self.source} failed: {message}")


def is_odbc_connection_string(database: str) -> bool:
    """`DSN=SOTAMAS90;...` or `Driver={...};...` rather than a demo company file path."""
    head = database.strip().split("=", 1)[0].strip().lower()
    return "=" in database and head in ("dsn", "driver", "filedsn")


def describe_connection_string(connection_string: str) -> str:
    """A name for messages (DSN, company, server) that never includes the user or password."""
    parts = {}
    for item in connection_string.split(";"):
        name, _, value = item.partition("=")
        parts[name.strip().lower()] = value.strip().strip("{}")
    if parts.get("dsn"):
        company = f", company {parts['company']}" if parts.get("company") else ""
        return f"ODBC DSN {parts['dsn']}{company}"
    if parts.get("database") or parts.get("server"):
        return f"SQL Server database {parts.get('database', '?')} on {parts.get('server', '?')}"
    if parts.get("directory") or parts.get("company"):
        company, directory = parts.get("company", "?"), parts.get("directory", "?")
        return f"Sage 100 company {company} in {directory} ({parts.get('driver', 'ODBC')})"
    return "the Sage 100 ODBC connection"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return re.sub(r"(?i)(pwd|password)=[^;]*", r"\1=***", text[0] if text else type(exc).__name__)


# ---------------------------------------------------------------------- row -> model

_CUSTOMER_COLUMNS = (
    "ARDivisionNo", "CustomerNo", "CustomerName", "AddressLine1", "AddressLine2", "AddressLine3", "City", "State",
    "ZipCode", "CountryCode", "TelephoneNo", "EmailAddress", "TermsCode", "CustomerStatus", "CreditHold",
    "CreditLimit", "CurrentBalance", "DateLastPayment", "LastPaymentAmt", "DefaultPaymentType",
    "DefaultCreditCardPmtType", "CreditCardGUID",
)
_CARD_COLUMNS = (
    "ARDivisionNo", "CustomerNo", "CreditCardGUID", "CreditCardID", "PaymentType", "CardType",
    "Last4UnencryptedCreditCardNos", "ExpirationDateYear", "ExpirationDateMonth", "CardholderName",
)
_OPEN_INVOICE_COLUMNS = (
    "ARDivisionNo", "CustomerNo", "InvoiceNo", "InvoiceType", "InvoiceDate", "InvoiceDueDate", "Balance",
    "TaxableAmt", "NonTaxableAmt", "FreightAmt", "SalesTaxAmt", "DiscountAmt", "TermsCode", "CustomerPONo",
)
_RECEIPT_HEADER_COLUMNS = (
    "DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo", "PostingAmt", "PaymentType",
    "CreditCardTransactionID", "CreditCardAuthorizationNo", "Last4UnencryptedCreditCardNos",
)
_RECEIPT_DETAIL_COLUMNS = (
    "DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo", "LineKey", "LineSeqNo",
    "InvoiceNo", "InvoiceType", "AmountPosted",
)
_RECEIPT_HISTORY_COLUMNS = (
    "BankCode", "DepositDate", "DepositNo", "DepositType", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo",
    "CheckNo", "SequenceNo", "InvoiceNo", "InvoiceType", "CashAmountApplied", "PaymentType",
    "CreditCardTransactionID", "CreditCardAuthorizationNo", "Last4UnencryptedCreditCardNos",
)
_ORDER_COLUMNS = (
    "SalesOrderNo", "OrderDate", "OrderType", "OrderStatus", "ARDivisionNo", "CustomerNo", "BillToName",
    "CustomerPONo", "TermsCode", "PaymentType", "TaxableAmt", "NonTaxableAmt", "SalesTaxAmt", "FreightAmt",
    "DiscountAmt", "DepositAmt",
)
_ORDER_LINE_COLUMNS = (
    "SalesOrderNo", "LineKey", "LineSeqNo", "ItemCode", "ItemType", "ItemCodeDesc", "WarehouseCode",
    "QuantityOrdered", "QuantityShipped", "UnitPrice", "ExtensionAmt",
)
_PAYMENT_TYPE_COLUMNS = ("PaymentType", "PaymentDesc", "PaymentMethod", "AssetAcctKey", "CreditCardAccrualAcctKey")
_GL_ACCOUNT_COLUMNS = ("AccountKey", "Account", "AccountDesc", "Status", "AccountType")
_BANK_CODE_COLUMNS = ("BankCode", "BankName", "CashAcctKey")
_DEPOSIT_COLUMNS = ("DepositNo", "BankCode", "DepositDate")
# What each table is read with, so `check_tables` proves exactly those columns exist.
_READ_COLUMNS = {
    "AR_PaymentType": _PAYMENT_TYPE_COLUMNS,
    "GL_Account": _GL_ACCOUNT_COLUMNS,
    "bank_codes": _BANK_CODE_COLUMNS,
    "AR_CashReceiptsDeposit": _DEPOSIT_COLUMNS,
    "AR_Customer": _CUSTOMER_COLUMNS,
    "AR_CustomerCreditCard": _CARD_COLUMNS,
    "AR_OpenInvoice": _OPEN_INVOICE_COLUMNS,
    "AR_CashReceiptsHeader": _RECEIPT_HEADER_COLUMNS,
    "AR_CashReceiptsDetail": _RECEIPT_DETAIL_COLUMNS,
    "AR_CashReceiptsHistory": _RECEIPT_HISTORY_COLUMNS,
    "SO_SalesOrderHeader": _ORDER_COLUMNS,
    "SO_SalesOrderDetail": _ORDER_LINE_COLUMNS,
}


def _receipt_key(row: Row) -> tuple[str, ...]:
    return tuple(as_text(row[k]) for k in ("DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo"))


def _customer(r: Row) -> Customer:
    return Customer(
        division=as_text(r["ARDivisionNo"]), customer_no=as_text(r["CustomerNo"]), name=as_text(r["CustomerName"]),
        address_line1=as_text(r["AddressLine1"]), address_line2=as_text(r["AddressLine2"]),
        address_line3=as_text(r["AddressLine3"]), city=as_text(r["City"]), state=as_text(r["State"]),
        zip_code=as_text(r["ZipCode"]), country_code=as_text(r["CountryCode"]), phone=as_text(r["TelephoneNo"]),
        email=as_text(r["EmailAddress"]), terms_code=as_text(r["TermsCode"]), status=as_text(r["CustomerStatus"]),
        credit_hold=as_flag(r["CreditHold"]), credit_limit=as_money(r["CreditLimit"]),
        current_balance=as_money(r["CurrentBalance"]), date_last_payment=as_date(r["DateLastPayment"]),
        last_payment_amt=as_money(r["LastPaymentAmt"]), default_payment_type=as_text(r["DefaultPaymentType"]),
        default_credit_card_payment_type=as_text(r["DefaultCreditCardPmtType"]),
        credit_card_guid=as_text(r["CreditCardGUID"]),
    )


def _card(r: Row) -> CustomerCard:
    return CustomerCard(
        division=as_text(r["ARDivisionNo"]), customer_no=as_text(r["CustomerNo"]),
        credit_card_guid=as_text(r["CreditCardGUID"]), credit_card_id=as_text(r["CreditCardID"]),
        payment_type=as_text(r["PaymentType"]), card_type=as_text(r["CardType"]),
        last4=as_text(r["Last4UnencryptedCreditCardNos"]), expiration_year=as_text(r["ExpirationDateYear"]),
        expiration_month=as_text(r["ExpirationDateMonth"]), cardholder_name=as_text(r["CardholderName"]),
    )


def _open_invoice(r: Row) -> OpenInvoice:
    original = (as_money(r["TaxableAmt"]) + as_money(r["NonTaxableAmt"]) + as_money(r["FreightAmt"])
                + as_money(r["SalesTaxAmt"]) - as_money(r["DiscountAmt"]))
    return OpenInvoice(
        division=as_text(r["ARDivisionNo"]), customer_no=as_text(r["CustomerNo"]), invoice_no=as_text(r["InvoiceNo"]),
        invoice_type=as_text(r["InvoiceType"]), invoice_date=as_date(r["InvoiceDate"]),
        due_date=as_date(r["InvoiceDueDate"]), balance=as_money(r["Balance"]), original_amount=original,
        terms_code=as_text(r["TermsCode"]), customer_po_no=as_text(r["CustomerPONo"]),
    )


def _order_line(r: Row) -> SalesOrderLine:
    return SalesOrderLine(
        line_key=as_text(r["LineKey"]), line_seq_no=as_text(r["LineSeqNo"]), item_code=as_text(r["ItemCode"]),
        item_type=as_text(r["ItemType"]), description=as_text(r["ItemCodeDesc"]),
        warehouse_code=as_text(r["WarehouseCode"]), quantity_ordered=as_quantity(r["QuantityOrdered"]),
        quantity_shipped=as_quantity(r["QuantityShipped"]), unit_price=as_quantity(r["UnitPrice"]),
        extension_amt=as_money(r["ExtensionAmt"]),
    )


def _order(h: Row, lines: list[SalesOrderLine]) -> SalesOrder:
    return SalesOrder(
        sales_order_no=as_text(h["SalesOrderNo"]), order_date=as_date(h["OrderDate"]),
        order_type=as_text(h["OrderType"]), order_status=as_text(h["OrderStatus"]),
        division=as_text(h["ARDivisionNo"]), customer_no=as_text(h["CustomerNo"]),
        bill_to_name=as_text(h["BillToName"]), customer_po_no=as_text(h["CustomerPONo"]),
        terms_code=as_text(h["TermsCode"]), payment_type=as_text(h["PaymentType"]),
        taxable_amt=as_money(h["TaxableAmt"]), non_taxable_amt=as_money(h["NonTaxableAmt"]),
        sales_tax_amt=as_money(h["SalesTaxAmt"]), freight_amt=as_money(h["FreightAmt"]),
        discount_amt=as_money(h["DiscountAmt"]), deposit_amt=as_money(h["DepositAmt"]), lines=tuple(lines),
    )
