"""Read-only access to a Sage 100 company through any DB-API connection.

The SQL is the same for the SQLite demo company and a real site (ProvideX ODBC, or SQL Server on
Premium): plain SELECTs of named columns on keyed columns, `?` parameters, no joins, no UNION, no
vendor functions. Related rows are fetched with a second keyed query and joined in Python, which is
also what the ProvideX driver handles fastest. Table and column names come from the schema, so a
site's corrected names apply everywhere.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar

from sage_paytrace_pipeline.domain.ledger import ReadModel
from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError, Sage100Error, Sage100SchemaError
from sage_paytrace_pipeline.sage100.models import (
    BankCode,
    CreditMemoRequest,
    Customer,
    CustomerCard,
    CustomerStamp,
    GlAccount,
    InvoiceCardPayment,
    OpenInvoice,
    PaymentType,
    PostedReceipt,
    ReceiptLine,
    RecordedRefund,
    RefundPortion,
    SalesOrder,
    SalesOrderLine,
    as_date,
    as_flag,
    as_money,
    as_quantity,
    as_text,
)
from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Column, Sage100Schema
from sage_paytrace_pipeline.sage100.sqlite_connection import open_demo_database
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF

# Drivers cap parameters per statement (SQL Server 2100, SQLite 32766 / 999 on old builds);
# 500 keeps every IN-list well inside all of them.
MAX_PARAMETERS = 500

_MISSING_COLUMN = re.compile(r"no such column|column not found|invalid column|unknown column", re.I)
# The company is there but cannot be read now: another program holds it (SQLite's busy timeout has
# passed), or the ODBC link dropped. Not a schema problem: say what holds it, fail without retries.
_LOCKED = re.compile(r"database is locked|database is busy|file is locked|locked by another", re.I)
_LINK_LOST = re.compile(r"communication link failure|08S01|connection (was )?(lost|closed|reset)", re.I)
_MISSING_TABLE = re.compile(r"no such table|table not found|invalid object name|not found|does not exist", re.I)

Row = dict[str, Any]
M = TypeVar("M", bound=ReadModel)


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
        self._held = threading.local()  # `_one_connection`: this thread's connection while a look-up holds one

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
        rows = self._select("AR_Customer", _CUSTOMER.columns, {"ARDivisionNo": division})
        return sorted((_CUSTOMER.read(row) for row in rows), key=lambda c: c.key)

    def customer(self, division: str, customer_no: str) -> Customer | None:
        rows = self._select("AR_Customer", _CUSTOMER.columns, {"ARDivisionNo": division, "CustomerNo": customer_no})
        return _CUSTOMER.read(rows[0]) if rows else None

    def customer_cards(self, division: str | None = None, customer_no: str | None = None) -> list[CustomerCard]:
        key = {"ARDivisionNo": division, "CustomerNo": customer_no}
        rows = self._select("AR_CustomerCreditCard", _CARD.columns, key)
        cards = (_CARD.read(row) for row in rows)
        return sorted(cards, key=lambda c: (c.division, c.customer_no, c.credit_card_guid))

    def customer_stamps(self, division: str | None = None) -> list[CustomerStamp]:
        """When and by whom each customer last changed (AR_Customer's audit columns, Sage's clock)."""
        rows = self._select("AR_Customer", _STAMP.columns, {"ARDivisionNo": division})
        return [_STAMP.read(row) for row in rows]

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
        rows = self._select("AR_OpenInvoice", _OPEN_INVOICE.columns,
                            {"ARDivisionNo": division, "CustomerNo": customer_no})
        invoices = (invoice for invoice in map(_open_invoice, rows) if invoice.balance != 0 or not with_balance_only)
        return sorted(invoices, key=lambda i: (i.division, i.customer_no, i.invoice_no, i.invoice_type))

    def open_invoice(
        self, division: str, customer_no: str, invoice_no: str, invoice_type: str = "IN"
    ) -> OpenInvoice | None:
        key = {"ARDivisionNo": division, "CustomerNo": customer_no,
               "InvoiceNo": invoice_no, "InvoiceType": invoice_type}
        rows = self._select("AR_OpenInvoice", _OPEN_INVOICE.columns, key)
        return _open_invoice(rows[0]) if rows else None

    def payment_types(self) -> list[PaymentType]:
        rows = self._select("AR_PaymentType", _PAYMENT_TYPE.columns)
        return sorted((_PAYMENT_TYPE.read(row) for row in rows), key=lambda t: t.payment_type)

    def gl_accounts(self) -> list[GlAccount]:
        rows = self._select("GL_Account", _GL_ACCOUNT.columns)
        return sorted((_GL_ACCOUNT.read(row) for row in rows), key=lambda a: a.account)

    def bank_codes(self) -> list[BankCode]:
        rows = self._select("bank_codes", _BANK_CODE.columns)
        return sorted((_BANK_CODE.read(row) for row in rows), key=lambda b: b.bank_code)

    # ------------------------------------------------------------------ receipts (idempotency look-up)

    def receipts_for_transaction_ids(self, transaction_ids: Iterable[str]) -> list[PostedReceipt]:
        """Receipts Sage holds for these gateway transaction ids: still in entry or already posted."""
        ids = sorted({str(i).strip() for i in transaction_ids if str(i).strip()})
        if not ids:
            return []
        with self._one_connection():
            return self._entered_receipts(ids) + self._posted_receipts(ids)

    def receipt_for_transaction_id(self, transaction_id: str) -> PostedReceipt | None:
        receipts = self.receipts_for_transaction_ids([transaction_id])
        return receipts[0] if receipts else None

    def _entered_receipts(self, ids: list[str]) -> list[PostedReceipt]:
        headers = self._select_in("AR_CashReceiptsHeader", _ENTERED_RECEIPT.columns, "CreditCardTransactionID", ids)
        if not headers:
            return []
        deposit_nos = sorted({as_text(h["DepositNo"]) for h in headers})
        deposits = {
            as_text(d["DepositNo"]): d
            for d in self._select_in("AR_CashReceiptsDeposit", _DEPOSIT.columns, "DepositNo", deposit_nos)
        }
        lines: dict[tuple[str, ...], list[ReceiptLine]] = defaultdict(list)
        detail_rows = self._select_in("AR_CashReceiptsDetail", _ENTERED_LINE.columns, "DepositNo", deposit_nos)
        for row in sorted(detail_rows, key=lambda r: (as_text(r["LineSeqNo"]), as_text(r["LineKey"]))):
            lines[_receipt_key(row)].append(_ENTERED_LINE.read(row))
        receipts = [
            _ENTERED_RECEIPT.read(header, posted=False, lines=tuple(lines.get(_receipt_key(header), ())),
                                  **_DEPOSIT.values(deposits.get(as_text(header["DepositNo"]), {})))
            for header in headers
        ]
        return sorted(receipts, key=lambda r: (r.transaction_id, r.deposit_no, r.entry_no))

    def _posted_receipts(self, ids: list[str]) -> list[PostedReceipt]:
        rows = self._select_in("AR_CashReceiptsHistory", _POSTED_RECEIPT.columns, "CreditCardTransactionID", ids)
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for row in rows:
            key = (as_text(row["CreditCardTransactionID"]), as_text(row["BankCode"]), as_date(row["DepositDate"]),
                   *_receipt_key(row))
            groups[key].append(row)
        receipts = []
        for _key, group in sorted(groups.items(), key=lambda item: tuple(str(part) for part in item[0])):
            group.sort(key=lambda r: as_text(r["SequenceNo"]))
            lines = tuple(_POSTED_LINE.read(row) for row in group)
            amount = sum((line.amount for line in lines), as_money(0))
            receipts.append(_POSTED_RECEIPT.read(group[0], posted=True, amount=amount, lines=lines))
        return receipts

    # ------------------------------------------------------------------ refund requests

    def card_refund_requests(self, payment_types: Iterable[str]) -> list[CreditMemoRequest]:
        """Credit memos marked for a card refund: one read of the CM history headers whose PaymentType
        is one of `payment_types`. Memos the pipeline wrote itself (UDF_PAYTRACE_REF "PT-...") are
        left out: they record PayTrace-side refunds, they do not ask for one."""
        types = sorted({str(t).strip().upper() for t in payment_types if str(t).strip()})
        if not types:
            return []
        rows = self._select_in("AR_InvoiceHistoryHeader", (*_MEMO_REQUEST.columns, UDF_PAYTRACE_REF), "PaymentType",
                               types, equals={"InvoiceType": "CM"})
        memos = [_memo_request(row) for row in rows]
        return sorted((m for m in memos if not m.reference.startswith("PT-")),
                      key=lambda m: (m.division, m.customer_no, m.memo_no, m.header_seq_no))

    def card_payments_on_invoices(
        self, invoices: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[InvoiceCardPayment]]:
        """Which gateway transactions paid these (division, customer, invoice) keys: the posted ``P``
        rows with a CreditCardTransactionID and a positive amount (refunds are negative), one
        chunked read by invoice number."""
        wanted = {(str(d).strip(), str(c).strip(), str(i).strip()) for d, c, i in invoices}
        found: dict[tuple[str, str, str], list[InvoiceCardPayment]] = {key: [] for key in wanted}
        if not wanted:
            return found
        numbers = sorted({invoice_no for _, _, invoice_no in wanted})
        rows = self._select_in("AR_TransactionPaymentHistory", _INVOICE_PAYMENT.columns, "InvoiceNo", numbers,
                               equals={"TransactionType": "P"})
        for row in rows:
            payment = _INVOICE_PAYMENT.read(row)
            key = (payment.division, payment.customer_no, payment.invoice_no)
            # Gateway ids are numeric; reversals carry their PT-V... reference in the same column.
            if key in found and payment.transaction_id.isdigit() and payment.amount > 0 \
                    and as_text(row["InvoiceType"]) in ("IN", "DM", "FC"):
                found[key].append(payment)
        for payments in found.values():
            payments.sort(key=lambda p: (p.payment_date or date.min, p.transaction_id))
        return found

    # ------------------------------------------------------------------ card refunds and reversals

    def card_refunds_for_transaction_ids(self, transaction_ids: Iterable[str]) -> list[RecordedRefund]:
        """Card refunds Sage holds for these PayTrace refund ids (or "V<sale id>" voids): one chunked read of the
        negative ``P`` rows of AR_TransactionPaymentHistory carrying them in CreditCardTransactionID."""
        ids = sorted({str(i).strip() for i in transaction_ids if str(i).strip()})
        if not ids:
            return []
        rows = self._select_in("AR_TransactionPaymentHistory", _REFUND_ROW.columns, "CreditCardTransactionID", ids,
                               equals={"TransactionType": "P"})
        groups: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            if as_money(row["TransactionAmt"]) < 0:
                groups[as_text(row["CreditCardTransactionID"])].append(row)
        refunds = []
        for _id, group in sorted(groups.items()):
            group.sort(key=lambda r: (as_text(r["InvoiceNo"]), as_text(r["InvoiceType"]), as_text(r["SequenceNo"])))
            portions = tuple(RefundPortion(invoice_no=as_text(r["InvoiceNo"]), invoice_type=as_text(r["InvoiceType"]),
                                           amount=-as_money(r["TransactionAmt"]), memo_tag=as_text(r["CheckNo"]))
                             for r in group)
            refunds.append(_REFUND_ROW.read(group[0], amount=sum((p.amount for p in portions), as_money(0)),
                                            portions=portions))
        return refunds

    def reversals_for_references(self, references: Iterable[str]) -> set[str]:
        """Which reversal references (``PT-V<sale id>`` receipt reversals, ``PT-VR<refund id>`` refund reversals)
        Sage holds: one chunked read of each table a reversal writes its reference to."""
        wanted = sorted({str(r).strip() for r in references if str(r).strip()})
        if not wanted:
            return set()
        found = set()
        for table in ("AR_CashReceiptsHistory", "AR_TransactionPaymentHistory"):
            rows = self._select_in(table, ("CreditCardTransactionID",), "CreditCardTransactionID", wanted)
            found |= {as_text(row["CreditCardTransactionID"]) for row in rows}
        return found

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
            headers = self._select_in("SO_SalesOrderHeader", _ORDER.columns, "SalesOrderNo",
                                      sorted(set(sales_order_nos)), equals=equals, conditions=conditions)
        else:
            headers = self._select("SO_SalesOrderHeader", _ORDER.columns, equals, conditions)
        if not headers:
            return []
        numbers = sorted({as_text(h["SalesOrderNo"]) for h in headers})
        lines: dict[str, list[SalesOrderLine]] = defaultdict(list)
        for row in self._select_in("SO_SalesOrderDetail", _ORDER_LINE.columns, "SalesOrderNo", numbers):
            lines[as_text(row["SalesOrderNo"])].append(_ORDER_LINE.read(row))
        orders = [_ORDER.read(h, lines=tuple(sorted(lines[as_text(h["SalesOrderNo"])],
                                                    key=lambda line: (line.line_seq_no, line.line_key))))
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
        *,
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
                raise self._unavailable(exc) or self._schema_error(table_key, column_keys, exc) from exc
            finally:
                cursor.close()
        return [dict(zip(column_keys, row, strict=True)) for row in fetched]

    @contextmanager
    def _one_connection(self) -> Iterator[None]:
        """The selects inside the block share one connection (opening the demo company costs more than
        a chunk's indexed select: a day's read-back opened four); outside, each select opens its own."""
        if getattr(self._held, "connection", None) is not None:
            yield
            return
        with self._connection() as connection:
            self._held.connection = connection
            try:
                yield
            finally:
                self._held.connection = None

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        held = getattr(self._held, "connection", None)
        if held is not None:
            yield held
            return
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

    def _unavailable(self, exc: Exception) -> Sage100ConnectionError | None:
        """A lock or a lost link while reading, as one sentence naming the company (no password)."""
        message = _first_line(exc)
        if _LOCKED.search(message):
            return Sage100ConnectionError(
                f"{self.source} is locked by another program ({message}); close whatever holds it (Sage's "
                "own update, a database browser, a second pipeline run) and run again")
        if _LINK_LOST.search(message):
            return Sage100ConnectionError(
                f"lost the connection to {self.source} ({message}); check the Sage server and the network, "
                "then run again")
        return None

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


@dataclass(frozen=True)
class RowMapping(Generic[M]):
    """A table's row as a model: the columns read, in SELECT order, and the model field each fills.

    The column's kind in `schema.py` picks the conversion (`_converter`), so a column's type is
    stated once. A column mapped to None is read for the caller, who builds from it what no single
    column holds (an invoice's original amount, a receipt's lines). A column absent from the row (a
    receipt whose deposit row is missing) reads as None: "", 0.00 or no date.
    """

    table: str
    model: type[M]
    fields: Mapping[str, str | None]  # column key -> model field (None: read for the caller)
    _converters: tuple[tuple[str, str, Callable[[object], Any]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = DEFAULT_SCHEMA.table(self.table)
        converters = tuple((name, key, _converter(table.column(key))) for key, name in self.fields.items() if name)
        object.__setattr__(self, "_converters", converters)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def values(self, row: Row) -> dict[str, Any]:
        return {name: convert(row.get(key)) for name, key, convert in self._converters}

    def read(self, row: Row, **derived: Any) -> M:
        return self.model(**self.values(row), **derived)


_CONVERT_BY_KIND: dict[str, Callable[[object], Any]] = {"str": as_text, "date": as_date, "flag": as_flag}


def _converter(column: Column) -> Callable[[object], Any]:
    if column.kind == "decimal":
        return as_money if column.scale == 2 else as_quantity  # money 12.2/13.2; quantities, prices 15.6
    if column.kind not in _CONVERT_BY_KIND:
        raise ValueError(f"no conversion for {column.name} ({column.kind}); add one to _CONVERT_BY_KIND")
    return _CONVERT_BY_KIND[column.kind]


_RECEIPT_KEY = ("DepositNo", "ARDivisionNo", "CustomerNo", "CreditCardEntryNo", "CheckNo")
_ORIGINAL_AMOUNT = ("TaxableAmt", "NonTaxableAmt", "FreightAmt", "SalesTaxAmt", "DiscountAmt")

_CUSTOMER = RowMapping("AR_Customer", Customer, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "CustomerName": "name", "AddressLine1": "address_line1",
    "AddressLine2": "address_line2", "AddressLine3": "address_line3", "City": "city", "State": "state",
    "ZipCode": "zip_code", "CountryCode": "country_code", "TelephoneNo": "phone", "EmailAddress": "email",
    "TermsCode": "terms_code", "CustomerStatus": "status", "CreditHold": "credit_hold", "CreditLimit": "credit_limit",
    "CurrentBalance": "current_balance", "DateLastPayment": "date_last_payment", "LastPaymentAmt": "last_payment_amt",
    "DefaultPaymentType": "default_payment_type", "DefaultCreditCardPmtType": "default_credit_card_payment_type",
    "CreditCardGUID": "credit_card_guid",
})
_CARD = RowMapping("AR_CustomerCreditCard", CustomerCard, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "CreditCardGUID": "credit_card_guid",
    "CreditCardID": "credit_card_id", "PaymentType": "payment_type", "CardType": "card_type",
    "Last4UnencryptedCreditCardNos": "last4", "ExpirationDateYear": "expiration_year",
    "ExpirationDateMonth": "expiration_month", "CardholderName": "cardholder_name",
    "AVSAddressLine1": "avs_address_line1", "AVSAddressLine2": "avs_address_line2", "AVSCity": "avs_city",
    "AVSState": "avs_state", "AVSZipCode": "avs_zip_code",
})
_STAMP = RowMapping("AR_Customer", CustomerStamp, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "DateCreated": "date_created",
    "TimeCreated": "time_created", "DateUpdated": "date_updated", "TimeUpdated": "time_updated",
    "UserUpdatedKey": "user_updated",
})
_OPEN_INVOICE = RowMapping("AR_OpenInvoice", OpenInvoice, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "InvoiceNo": "invoice_no", "InvoiceType": "invoice_type",
    "InvoiceDate": "invoice_date", "InvoiceDueDate": "due_date", "Balance": "balance",
    **dict.fromkeys(_ORIGINAL_AMOUNT), "TermsCode": "terms_code", "CustomerPONo": "customer_po_no",
})
_PAYMENT_TYPE = RowMapping("AR_PaymentType", PaymentType, {
    "PaymentType": "payment_type", "PaymentDesc": "description", "PaymentMethod": "payment_method",
    "AssetAcctKey": "asset_account_key", "CreditCardAccrualAcctKey": "accrual_account_key",
})
_GL_ACCOUNT = RowMapping("GL_Account", GlAccount, {
    "AccountKey": "account_key", "Account": "account", "AccountDesc": "description", "Status": "status",
    "AccountType": "account_type",
})
_BANK_CODE = RowMapping("bank_codes", BankCode, {
    "BankCode": "bank_code", "BankName": "description", "CashAcctKey": "cash_account_key",
})
# A receipt still in entry: its header, the bank and date of its deposit, its detail lines.
_ENTERED_RECEIPT = RowMapping("AR_CashReceiptsHeader", PostedReceipt, {
    "DepositNo": "deposit_no", "ARDivisionNo": "division", "CustomerNo": "customer_no",
    "CreditCardEntryNo": "entry_no", "CheckNo": "check_no", "PostingAmt": "amount", "PaymentType": "payment_type",
    "CreditCardTransactionID": "transaction_id", "CreditCardAuthorizationNo": "authorization_no",
    "Last4UnencryptedCreditCardNos": "last4",
})
_DEPOSIT = RowMapping("AR_CashReceiptsDeposit", PostedReceipt, {  # the receipt fields its deposit gives
    "DepositNo": None, "BankCode": "bank_code", "DepositDate": "deposit_date",
})
_ENTERED_LINE = RowMapping("AR_CashReceiptsDetail", ReceiptLine, {
    **dict.fromkeys(_RECEIPT_KEY), "LineKey": None, "LineSeqNo": None, "InvoiceNo": "invoice_no",
    "InvoiceType": "invoice_type", "AmountPosted": "amount",
})
# A posted receipt: one history row per line, the receipt's fields repeated on each.
_POSTED_RECEIPT = RowMapping("AR_CashReceiptsHistory", PostedReceipt, {
    "BankCode": "bank_code", "DepositDate": "deposit_date", "DepositNo": "deposit_no", "DepositType": None,
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "CreditCardEntryNo": "entry_no", "CheckNo": "check_no",
    "SequenceNo": None, "InvoiceNo": None, "InvoiceType": None, "CashAmountApplied": None,
    "PaymentType": "payment_type", "CreditCardTransactionID": "transaction_id",
    "CreditCardAuthorizationNo": "authorization_no", "Last4UnencryptedCreditCardNos": "last4",
})
_POSTED_LINE = RowMapping("AR_CashReceiptsHistory", ReceiptLine, {
    "InvoiceNo": "invoice_no", "InvoiceType": "invoice_type", "CashAmountApplied": "amount",
})
_ORDER = RowMapping("SO_SalesOrderHeader", SalesOrder, {
    "SalesOrderNo": "sales_order_no", "OrderDate": "order_date", "OrderType": "order_type",
    "OrderStatus": "order_status", "ARDivisionNo": "division", "CustomerNo": "customer_no",
    "BillToName": "bill_to_name", "CustomerPONo": "customer_po_no", "TermsCode": "terms_code",
    "PaymentType": "payment_type", "TaxableAmt": "taxable_amt", "NonTaxableAmt": "non_taxable_amt",
    "SalesTaxAmt": "sales_tax_amt", "FreightAmt": "freight_amt", "DiscountAmt": "discount_amt",
    "DepositAmt": "deposit_amt",
})
_ORDER_LINE = RowMapping("SO_SalesOrderDetail", SalesOrderLine, {
    "SalesOrderNo": None, "LineKey": "line_key", "LineSeqNo": "line_seq_no", "ItemCode": "item_code",
    "ItemType": "item_type", "ItemCodeDesc": "description", "WarehouseCode": "warehouse_code",
    "QuantityOrdered": "quantity_ordered", "QuantityShipped": "quantity_shipped", "UnitPrice": "unit_price",
    "ExtensionAmt": "extension_amt",
})
_MEMO_AMOUNT = ("TaxableSalesAmt", "NonTaxableSalesAmt", "FreightAmt", "SalesTaxAmt")
_MEMO_REQUEST = RowMapping("AR_InvoiceHistoryHeader", CreditMemoRequest, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "InvoiceNo": "memo_no", "HeaderSeqNo": "header_seq_no",
    "InvoiceDate": "memo_date", "ApplyToInvoiceNo": "apply_to_invoice_no", "PaymentType": "payment_type",
    "UserCreatedKey": "entered_by", **dict.fromkeys(_MEMO_AMOUNT),
})  # + the user-defined UDF_PAYTRACE_REF (no schema column), read beside it
_INVOICE_PAYMENT = RowMapping("AR_TransactionPaymentHistory", InvoiceCardPayment, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "InvoiceNo": "invoice_no", "InvoiceType": None,
    "CreditCardTransactionID": "transaction_id", "TransactionAmt": "amount", "PaymentType": "payment_type",
    "PaymentDate": "payment_date", "Last4UnencryptedCreditCardNos": "last4",
})
# A card refund: one negative P row per open item it consumed credit from.
_REFUND_ROW = RowMapping("AR_TransactionPaymentHistory", RecordedRefund, {
    "ARDivisionNo": "division", "CustomerNo": "customer_no", "InvoiceNo": None, "InvoiceType": None,
    "SequenceNo": None, "CheckNo": None, "TransactionAmt": None, "CreditCardTransactionID": "transaction_id",
    "CreditCardEntryNo": "entry_no", "PaymentDate": "refund_date", "PaymentType": "payment_type",
})
# What each table is read with, so `check_tables` proves exactly those columns exist (the history's
# line mapping reads a subset of the receipt's columns, from the same rows).
_READ_COLUMNS = {
    mapping.table: mapping.columns
    for mapping in (_PAYMENT_TYPE, _GL_ACCOUNT, _BANK_CODE, _DEPOSIT, _CUSTOMER, _CARD, _OPEN_INVOICE,
                    _ENTERED_RECEIPT, _ENTERED_LINE, _POSTED_RECEIPT, _ORDER, _ORDER_LINE)
}


def _memo_request(row: Row) -> CreditMemoRequest:
    """Credit memos are stored as negative amounts; the request carries the positive credit."""
    credit = abs(sum((as_money(row[key]) for key in _MEMO_AMOUNT), as_money(0)))
    return _MEMO_REQUEST.read(row, amount=credit, reference=as_text(row.get(UDF_PAYTRACE_REF)))


def _receipt_key(row: Row) -> tuple[str, ...]:
    return tuple(as_text(row[k]) for k in _RECEIPT_KEY)


def _open_invoice(row: Row) -> OpenInvoice:
    taxable, non_taxable, freight, sales_tax, discount = (as_money(row[key]) for key in _ORIGINAL_AMOUNT)
    return _OPEN_INVOICE.read(row, original_amount=taxable + non_taxable + freight + sales_tax - discount)
