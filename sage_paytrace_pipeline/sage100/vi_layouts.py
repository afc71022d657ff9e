"""Visual Integrator import files: one documented CSV layout per writer operation, and the manifest.

Sites that cannot run BOI import documents with Visual Integrator (VI) jobs on Sage's scheduler
(reference/sage100.md §5.4). `VisualIntegratorWriter` (vi_writer.py) writes these files;
`import_visual_integrator_folder` (vi_import.py) plays the VI jobs against the demo company. Both
use the layouts below and nothing else, so the demo import proves the layout round-trips.

File format
-----------
- CSV, UTF-8 (no BOM), one header row with the column names below, ``\\r\\n`` line ends, fields
  quoted only when needed (``QUOTE_MINIMAL``). Column names are Sage's field names where one
  exists; a VI job maps each column to that field.
- Dates ``YYYYMMDD`` (what VI expects for a date field). Money: dollars with two decimals
  (``1234.50``, no thousands separator, no currency sign). Quantities and unit prices: plain
  decimals, up to six places. Expiration month two digits (``04``). Empty cell: Sage's default
  (blank text, today's next number, the item's price...).
- Formula injection: a text cell a spreadsheet would run as a formula (starting with ``=``, ``+``,
  ``-``, ``@``, tab, carriage return or their full-width forms; `domain.free_text.sheet_safe`) or starting
  with ``'`` is written with one extra leading ``'`` (``=HYPERLINK("x")`` -> ``'=HYPERLINK("x")``),
  so a spreadsheet opening the file shows text instead of running a formula. Numbers and dates
  are never prefixed (a negative amount stays ``-5.00``, in a text cell too); free text already
  holds Sage's neutralised form (sage100/documents.py), so its cell has two. The importer removes exactly one leading
  ``'`` from every text cell. At a real site give each text column of the VI job the calculated
  assignment ``IF MID(IMP$[n],1,1)="'" THEN IMP$[n]=MID(IMP$[n],2)`` (or accept the apostrophe).
- No card numbers: documents refuse them in key fields and mask them in free text
  (sage100/documents.py); every text cell is masked once more when written.
- Text cells never contain line breaks (documents normalise free text; keys with one are
  refused), so file line N is data record N - 1 and error messages can name the line.
- Multi-record files start each record with ``RecordType``; a record fills only the columns of
  its type (the others stay empty) and carries its document's reference, so every row can be
  traced to its document. A ``D`` deposit record applies to the ``H`` receipts that follow it
  until the next ``D``.
- Every document carries its external reference (``CreditCardTransactionID`` for receipts and
  refunds, ``UDF_PAYTRACE_REF`` for the rest; a vault card is identified by its
  ``CreditCardGUID``), so importing a document twice finds it and changes nothing.

Layouts (name, version, operation, file ``<batch>-<stem>.csv``; columns in file order)
--------------------------------------------------------------------------------
PAYTRACE-AR-CUSTOMER v1 (upsert_customer; ar_customers) -> AR_Customer
    Columns: UDF_PAYTRACE_REF, ARDivisionNo, CustomerNo, CustomerName, AddressLine1, AddressLine2,
        AddressLine3, City, State, ZipCode, CountryCode, TelephoneNo, EmailAddress, TermsCode,
        DefaultPaymentType
    CustomerNo empty: Sage's next customer number. On an existing customer (found by
    UDF_PAYTRACE_REF, then by number) empty cells keep Sage's value.

PAYTRACE-AR-CUSTOMER-CREDIT-CARD v1 (store_vault_card; ar_customer_cards) -> AR_CustomerCreditCard
    Columns: ARDivisionNo, CustomerNo, CreditCardGUID, PaymentType, CardType,
        Last4UnencryptedCreditCardNos, ExpirationDateYear, ExpirationDateMonth, CardholderName
    CreditCardGUID is the PayTrace vault customer id (never a card number); CardType is Sage's
    1-character code.

PAYTRACE-SO-SALES-ORDER v1 (create_sales_order; so_sales_orders) -> SO_SalesOrderHeader/Detail
    Columns: RecordType, UDF_PAYTRACE_REF, ARDivisionNo, CustomerNo, OrderDate, CustomerPONo,
        WarehouseCode, ItemCode, QuantityOrdered, UnitPrice
    H (header): UDF_PAYTRACE_REF, ARDivisionNo, CustomerNo, OrderDate, CustomerPONo, WarehouseCode.
    L (line): UDF_PAYTRACE_REF, ItemCode, QuantityOrdered, UnitPrice (empty: CI_Item price).

PAYTRACE-SO-INVOICE v1 (invoice_sales_order; so_invoices) -> S/O Invoice Data Entry + Daily Sales Journal
    Columns: UDF_PAYTRACE_REF, SalesOrderNo, SalesOrderRef, InvoiceDate
    UDF_PAYTRACE_REF is the invoice's reference. The order is SalesOrderNo, or, when the order
    was written in a batch not yet imported (its number unknown), SalesOrderRef = the order's
    UDF_PAYTRACE_REF (exactly one of the two is filled). Ships and invoices every line.

PAYTRACE-AR-CREDIT-MEMO v1 (create_credit_memo; ar_credit_memos) -> A/R Invoice Data Entry, type CM
    Columns: UDF_PAYTRACE_REF, ARDivisionNo, CustomerNo, InvoiceType, InvoiceDate, ApplyToInvoiceNo,
        NonTaxableSalesAmt, Account, Comment, PaymentType, UserCreatedKey
    InvoiceType is always CM; NonTaxableSalesAmt is the (positive) credit; ApplyToInvoiceNo empty
    leaves the memo open; Account is the formatted GL account debited (empty: the writer's default);
    PaymentType a card payment type marks a refund request (empty: an ordinary credit);
    UserCreatedKey the requester (empty: the VI job's user).

PAYTRACE-AR-CASH-RECEIPTS v1 (post_card_receipt; ar_cash_receipts) -> AR_CashReceiptsDeposit/Header/Detail
    Columns: RecordType, BankCode, DepositDate, DepositDesc, DepositType, CreditCardTransactionID,
        ARDivisionNo, CustomerNo, PaymentType, PostingAmt, CreditCardAuthorizationNo,
        Last4UnencryptedCreditCardNos, ExpirationDateYear, ExpirationDateMonth, CardType, CardholderName,
        CreditCardGUID, CreditCardComment, InvoiceNo, InvoiceType, AmountPosted
    D (deposit): BankCode, DepositDate, DepositDesc, DepositType (always R, credit card).
    H (receipt header): CreditCardTransactionID (the PayTrace transaction id) ... CreditCardComment.
    L (line): CreditCardTransactionID, InvoiceNo, InvoiceType (IN, DM or FC; PP = prepayment of
    the remainder under InvoiceNo, Sage's own way of marking it), AmountPosted.
    The L lines of a receipt sum to its PostingAmt.

PAYTRACE-AR-CARD-REFUND v1 (record_card_refund; ar_card_refunds) -> AR_TransactionPaymentHistory + GL
    Columns: CreditCardTransactionID, ARDivisionNo, CustomerNo, TransactionDate, TransactionAmt,
        PaymentType, InvoiceNo, CreditCardAuthorizationNo, Last4UnencryptedCreditCardNos, Comment
    CreditCardTransactionID is the PayTrace refund id; TransactionAmt the (positive) amount
    refunded; InvoiceNo the credit memo consumed (empty: the customer's open credits, oldest first).

PAYTRACE-GL-JOURNAL-ENTRY v1 (post_journal_entry; gl_journal_entries) -> GL_GeneralJournalHeader/Detail
    Columns: RecordType, UDF_PAYTRACE_REF, PostingDate, JournalComment, Account, DebitAmount,
        CreditAmount, Comment
    H (header): UDF_PAYTRACE_REF, PostingDate, JournalComment.
    L (line): UDF_PAYTRACE_REF, Account (formatted, e.g. 1061-00), DebitAmount, CreditAmount, Comment.

Chain the VI jobs in this order (customers first, journal entries last) so a document finds the
ones it depends on. The demo import applies documents in the order the writer received them
(recorded in the manifest), which also gives the same document numbers as the direct writer.

Manifest (``manifest-<batch>.json``, written after the CSV files, so its presence means the batch
is complete): ``format``, ``batch``, ``sequence`` (batches import in this order), ``created_at``,
``layouts`` (name -> version), and ``files``: for each file ``name``, ``operation``, ``layout``,
``version``, ``rows`` (data rows), ``sha256`` (of the file's bytes), ``references`` and
``documents`` (per document: ``reference``, ``key`` (idempotency key), ``line`` (its first own
record), ``seq`` (position in the batch) and ``digest`` (of the document)).
Next to it: ``confirmation-<batch>.json`` (`VisualIntegratorWriter.confirm`) and, once imported
into the demo company, ``imported/manifest-<batch>.json``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text
from sage_paytrace_pipeline.domain.free_text import sheet_safe
from sage_paytrace_pipeline.domain.money import format_decimal, parse_money
from sage_paytrace_pipeline.sage100.documents import (
    CardReceipt,
    CardRefund,
    CreditMemo,
    CustomerRecord,
    JournalEntry,
    SalesOrder,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import Sage100Error
from sage_paytrace_pipeline.sage100.writer import (
    CREATE_CREDIT_MEMO,
    CREATE_SALES_ORDER,
    INVOICE_SALES_ORDER,
    POST_CARD_RECEIPT,
    POST_JOURNAL_ENTRY,
    RECORD_CARD_REFUND,
    STORE_VAULT_CARD,
    UPSERT_CUSTOMER,
)

Kind = Literal["text", "money", "quantity", "date", "int", "month"]
Record = dict[str, Any]  # column name -> Python value ("RecordType" included in multi-record layouts)

MANIFEST_FORMAT = "sage-paytrace-vi-manifest/1"
MANIFEST_GLOB = "manifest-*.json"
IMPORTED_DIR = "imported"
RECORD_TYPE = "RecordType"


class VisualIntegratorError(Sage100Error):
    """A Visual Integrator folder, manifest or file cannot be used; the message names it."""


class VisualIntegratorFileError(VisualIntegratorError):
    """A file of a batch is changed or malformed; nothing from it is applied."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        from sage_paytrace_pipeline.domain.pci import scrub_text

        self.file = file
        self.line = line
        self.problem = scrub_text(problem)
        where = f"{file} line {line}" if line else file
        super().__init__(f"{where}: {self.problem}")


# ----------------------------------------------------------------------------------- cells


def guard_text(text: str) -> str:
    """Neutralise formula injection (see the module docstring). A text starting with "'" gets one
    more, so that removing one leading "'" on import gives back the exact text."""
    return "'" + text if text.startswith("'") else sheet_safe(text)


def unguard_text(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def encode_cell(kind: Kind, value: Any) -> str:
    if value is None or value == "":
        return ""
    if kind == "money":
        return format_decimal(value)
    if kind == "quantity":
        return format(Decimal(value).normalize(), "f")
    if kind == "date":
        return value.strftime("%Y%m%d")
    if kind == "int":
        return str(int(value))
    if kind == "month":
        return f"{int(value):02d}"
    text = mask_card_numbers_in_text(str(value)) or ""
    if "\n" in text or "\r" in text:
        raise ValueError("text cells may not contain line breaks")
    return guard_text(text)


def decode_cell(kind: Kind, column: str, text: str) -> Any:
    """The Python value of a cell; raises ValueError naming the column (never echoing long input)."""
    if kind == "text":
        return unguard_text(text)
    if text == "":
        return None
    shown = repr(text[:20])
    if kind == "money":
        return parse_money(text, field=column, allow_negative=True)
    if kind == "quantity":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{column}: {shown} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{column}: {shown} is not a number")
        return number
    if kind == "date":
        if len(text) != 8 or not text.isdigit():
            raise ValueError(f"{column}: {shown} is not a date YYYYMMDD")
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise ValueError(f"{column}: {shown} is not a valid date") from None
    if not text.isdigit():
        raise ValueError(f"{column}: {shown} is not a whole number")
    return int(text)


# --------------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Field:
    name: str  # CSV column = Sage field name where one exists
    kind: Kind = "text"
    records: str = ""  # record types that fill it (multi-record layouts only)


@dataclass(frozen=True)
class Layout:
    """One operation's file: columns in order, record types, and the document <-> records mapping."""

    name: str
    version: int
    operation: str
    stem: str  # file name: <batch>-<stem>.csv
    fields: tuple[Field, ...]
    reference_field: str
    to_records: Callable[[Any], list[Record]]
    from_records: Callable[[list[Record]], Any]
    context_record: str = ""  # "D": applies to the documents that follow it
    header_record: str = ""  # "H": starts a document ("" = one record per document)
    line_record: str = ""  # "L": belongs to the document above

    @property
    def multi_record(self) -> bool:
        return bool(self.header_record)

    @property
    def columns(self) -> tuple[str, ...]:
        return ((RECORD_TYPE,) if self.multi_record else ()) + tuple(f.name for f in self.fields)

    @property
    def record_types(self) -> str:
        return self.context_record + self.header_record + self.line_record

    def fields_of(self, record_type: str) -> tuple[Field, ...]:
        if not self.multi_record:
            return self.fields
        return tuple(f for f in self.fields if record_type in f.records)

    def row(self, record: Record) -> list[str]:
        """The CSV cells of one record, in column order."""
        record_type = record.get(RECORD_TYPE, "")
        allowed = {f.name for f in self.fields_of(record_type)}
        unknown = set(record) - allowed - {RECORD_TYPE}
        if unknown:  # a programming error in a to_records function
            raise AssertionError(f"{self.name} {record_type}: columns {sorted(unknown)} do not belong to the record")
        cells = [record_type] if self.multi_record else []
        return cells + [encode_cell(f.kind, record.get(f.name)) if f.name in allowed else "" for f in self.fields]

    def record(self, cells: Sequence[str]) -> Record:
        """Parse one CSV row (already split) back into a record; ValueError says what is wrong."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells, the layout {self.name} v{self.version} has {len(self.columns)}")
        values = dict(zip(self.columns, cells))
        record: Record = {}
        if self.multi_record:
            record_type = values.pop(RECORD_TYPE)
            if record_type not in self.record_types or len(record_type) != 1:
                raise ValueError(f"RecordType {record_type[:5]!r} is not one of {', '.join(self.record_types)}")
            record[RECORD_TYPE] = record_type
        own = {f.name for f in self.fields_of(record.get(RECORD_TYPE, ""))}
        for field in self.fields:
            text = values[field.name]
            if field.name not in own:
                if text:
                    raise ValueError(f"{field.name} must be empty on a {record[RECORD_TYPE]} record")
                continue
            record[field.name] = decode_cell(field.kind, field.name, text)
        return record


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None (empty non-text cells) so the document's own defaults apply."""
    return {key: value for key, value in values.items() if value is not None}


# --- customers ---------------------------------------------------------------------------

_CUSTOMER_MAP = {  # CustomerRecord field -> column
    "reference": "UDF_PAYTRACE_REF", "division": "ARDivisionNo", "customer_no": "CustomerNo", "name": "CustomerName",
    "address_line1": "AddressLine1", "address_line2": "AddressLine2", "address_line3": "AddressLine3",
    "city": "City", "state": "State", "zip_code": "ZipCode", "country_code": "CountryCode", "phone": "TelephoneNo",
    "email": "EmailAddress", "terms_code": "TermsCode", "payment_type": "DefaultPaymentType",
}
_CARD_MAP = {  # VaultCard field -> column
    "division": "ARDivisionNo", "customer_no": "CustomerNo", "credit_card_guid": "CreditCardGUID",
    "payment_type": "PaymentType", "card_type": "CardType", "last4": "Last4UnencryptedCreditCardNos",
    "expiration_year": "ExpirationDateYear", "expiration_month": "ExpirationDateMonth",
    "cardholder_name": "CardholderName",
}


def _mapped_records(mapping: dict[str, str]) -> Callable[[Any], list[Record]]:
    return lambda document: [{column: getattr(document, name) for name, column in mapping.items()}]


def _mapped_document(model: type[BaseModel], mapping: dict[str, str]) -> Callable[[list[Record]], Any]:
    return lambda records: model.model_validate(_present({name: records[0][col] for name, col in mapping.items()}))


# --- sales orders and invoices ----------------------------------------------------------


class SalesOrderInvoice(BaseModel):
    """invoice_sales_order's arguments as a document: the order by number or by its reference."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True, str_strip_whitespace=True)

    reference: str
    invoice_date: date
    sales_order_no: str = ""
    sales_order_ref: str = ""

    @field_validator("reference", "sales_order_ref")
    @classmethod
    def _reference(cls, value: str, info: Any) -> str:
        if len(value) > 30:
            raise ValueError(f"{info.field_name} is {len(value)} characters; UDF_PAYTRACE_REF holds 30")
        return value

    @field_validator("sales_order_no")
    @classmethod
    def _order_no(cls, value: str) -> str:
        if len(value) > 7:
            raise ValueError(f"sales_order_no is {len(value)} characters; SalesOrderNo holds 7")
        return value

    @model_validator(mode="after")
    def _one_order(self) -> SalesOrderInvoice:
        if not self.reference:
            raise ValueError("reference is required")
        if bool(self.sales_order_no) == bool(self.sales_order_ref):
            raise ValueError("give exactly one of SalesOrderNo and SalesOrderRef")
        return self


def _order_records(order: SalesOrder) -> list[Record]:
    header = {RECORD_TYPE: "H", "UDF_PAYTRACE_REF": order.reference, "ARDivisionNo": order.division,
              "CustomerNo": order.customer_no, "OrderDate": order.order_date, "CustomerPONo": order.customer_po_no,
              "WarehouseCode": order.warehouse_code}
    lines = [{RECORD_TYPE: "L", "UDF_PAYTRACE_REF": order.reference, "ItemCode": line.item_code,
              "QuantityOrdered": line.quantity, "UnitPrice": line.unit_price} for line in order.lines]
    return [header, *lines]


def _order_document(records: list[Record]) -> SalesOrder:
    header, *lines = records
    return SalesOrder.model_validate(_present({
        "reference": header["UDF_PAYTRACE_REF"], "division": header["ARDivisionNo"],
        "customer_no": header["CustomerNo"], "order_date": header["OrderDate"],
        "customer_po_no": header["CustomerPONo"], "warehouse_code": header["WarehouseCode"],
        "lines": [_present({"item_code": line["ItemCode"], "quantity": line["QuantityOrdered"],
                            "unit_price": line["UnitPrice"]}) for line in lines],
    }))


_INVOICE_MAP = {"reference": "UDF_PAYTRACE_REF", "sales_order_no": "SalesOrderNo",
                "sales_order_ref": "SalesOrderRef", "invoice_date": "InvoiceDate"}


# --- credit memos and refunds -------------------------------------------------------------


def _memo_records(memo: CreditMemo) -> list[Record]:
    return [{"UDF_PAYTRACE_REF": memo.reference, "ARDivisionNo": memo.division, "CustomerNo": memo.customer_no,
             "InvoiceType": "CM", "InvoiceDate": memo.memo_date, "ApplyToInvoiceNo": memo.apply_to_invoice_no,
             "NonTaxableSalesAmt": memo.amount, "Account": memo.account, "Comment": memo.comment,
             "PaymentType": memo.payment_type, "UserCreatedKey": memo.entered_by}]


def _memo_document(records: list[Record]) -> CreditMemo:
    row = records[0]
    if row["InvoiceType"] != "CM":
        raise ValueError("InvoiceType must be CM")
    return CreditMemo.model_validate(_present({
        "reference": row["UDF_PAYTRACE_REF"], "division": row["ARDivisionNo"], "customer_no": row["CustomerNo"],
        "memo_date": row["InvoiceDate"], "apply_to_invoice_no": row["ApplyToInvoiceNo"],
        "amount": row["NonTaxableSalesAmt"], "account": row["Account"], "comment": row["Comment"],
        "payment_type": row.get("PaymentType"), "entered_by": row.get("UserCreatedKey"),
    }))


_REFUND_MAP = {
    "transaction_id": "CreditCardTransactionID", "division": "ARDivisionNo", "customer_no": "CustomerNo",
    "refund_date": "TransactionDate", "amount": "TransactionAmt", "payment_type": "PaymentType",
    "credit_memo_no": "InvoiceNo", "authorization_no": "CreditCardAuthorizationNo",
    "last4": "Last4UnencryptedCreditCardNos", "comment": "Comment",
}


# --- cash receipts ------------------------------------------------------------------------

CARD_DEPOSIT = "R"
PREPAYMENT = "PP"


def _receipt_records(receipt: CardReceipt) -> list[Record]:
    deposit = {RECORD_TYPE: "D", "BankCode": receipt.bank_code, "DepositDate": receipt.deposit_date,
               "DepositDesc": receipt.deposit_description, "DepositType": CARD_DEPOSIT}
    header = {
        RECORD_TYPE: "H", "CreditCardTransactionID": receipt.transaction_id, "ARDivisionNo": receipt.division,
        "CustomerNo": receipt.customer_no, "PaymentType": receipt.payment_type, "PostingAmt": receipt.amount,
        "CreditCardAuthorizationNo": receipt.authorization_no, "Last4UnencryptedCreditCardNos": receipt.last4,
        "ExpirationDateYear": receipt.expiration_year, "ExpirationDateMonth": receipt.expiration_month,
        "CardType": receipt.card_type, "CardholderName": receipt.cardholder_name,
        "CreditCardGUID": receipt.credit_card_guid, "CreditCardComment": receipt.comment,
    }
    lines = [{RECORD_TYPE: "L", "CreditCardTransactionID": receipt.transaction_id, "InvoiceNo": line.invoice_no,
              "InvoiceType": line.open_item_type, "AmountPosted": line.amount} for line in receipt.lines]
    return [deposit, header, *lines]


def _receipt_line(line: Record) -> dict[str, Any]:
    prepayment = line["InvoiceType"] == PREPAYMENT
    return _present({"invoice_no": line["InvoiceNo"], "invoice_type": "IN" if prepayment else line["InvoiceType"],
                     "prepayment": prepayment, "amount": line["AmountPosted"]})


def _receipt_document(records: list[Record]) -> CardReceipt:
    deposit, header, *lines = records
    if deposit["DepositType"] != CARD_DEPOSIT:
        raise ValueError(f"DepositType must be {CARD_DEPOSIT} (credit card deposit)")
    return CardReceipt.model_validate(_present({
        "transaction_id": header["CreditCardTransactionID"], "division": header["ARDivisionNo"],
        "customer_no": header["CustomerNo"], "deposit_date": deposit["DepositDate"],
        "bank_code": deposit["BankCode"], "deposit_description": deposit["DepositDesc"],
        "payment_type": header["PaymentType"], "amount": header["PostingAmt"],
        "authorization_no": header["CreditCardAuthorizationNo"],
        "last4": header["Last4UnencryptedCreditCardNos"], "expiration_year": header["ExpirationDateYear"],
        "expiration_month": header["ExpirationDateMonth"], "card_type": header["CardType"],
        "cardholder_name": header["CardholderName"], "credit_card_guid": header["CreditCardGUID"],
        "comment": header["CreditCardComment"], "lines": [_receipt_line(line) for line in lines],
    }))


# --- journal entries ------------------------------------------------------------------------


def _journal_records(entry: JournalEntry) -> list[Record]:
    header = {RECORD_TYPE: "H", "UDF_PAYTRACE_REF": entry.reference, "PostingDate": entry.posting_date,
              "JournalComment": entry.comment}
    lines = [{RECORD_TYPE: "L", "UDF_PAYTRACE_REF": entry.reference, "Account": line.account,
              "DebitAmount": line.debit, "CreditAmount": line.credit, "Comment": line.comment}
             for line in entry.lines]
    return [header, *lines]


def _journal_document(records: list[Record]) -> JournalEntry:
    header, *lines = records
    return JournalEntry.model_validate(_present({
        "reference": header["UDF_PAYTRACE_REF"], "posting_date": header["PostingDate"],
        "comment": header["JournalComment"],
        "lines": [_present({"account": line["Account"], "debit": line["DebitAmount"], "credit": line["CreditAmount"],
                            "comment": line["Comment"]}) for line in lines],
    }))


# --- the layouts ----------------------------------------------------------------------------


def _text(*names: str, records: str = "") -> tuple[Field, ...]:
    return tuple(Field(name, "text", records) for name in names)


CUSTOMERS = Layout(
    "PAYTRACE-AR-CUSTOMER", 1, UPSERT_CUSTOMER, "ar_customers",
    _text(*_CUSTOMER_MAP.values()), "UDF_PAYTRACE_REF",
    _mapped_records(_CUSTOMER_MAP), _mapped_document(CustomerRecord, _CUSTOMER_MAP),
)
VAULT_CARDS = Layout(
    "PAYTRACE-AR-CUSTOMER-CREDIT-CARD", 1, STORE_VAULT_CARD, "ar_customer_cards",
    (*_text("ARDivisionNo", "CustomerNo", "CreditCardGUID", "PaymentType", "CardType",
            "Last4UnencryptedCreditCardNos"),
     Field("ExpirationDateYear", "int"), Field("ExpirationDateMonth", "month"), Field("CardholderName")),
    "CreditCardGUID", _mapped_records(_CARD_MAP), _mapped_document(VaultCard, _CARD_MAP),
)
SALES_ORDERS = Layout(
    "PAYTRACE-SO-SALES-ORDER", 1, CREATE_SALES_ORDER, "so_sales_orders",
    (Field("UDF_PAYTRACE_REF", "text", "HL"), *_text("ARDivisionNo", "CustomerNo", records="H"),
     Field("OrderDate", "date", "H"), *_text("CustomerPONo", "WarehouseCode", records="H"),
     Field("ItemCode", "text", "L"), Field("QuantityOrdered", "quantity", "L"), Field("UnitPrice", "quantity", "L")),
    "UDF_PAYTRACE_REF", _order_records, _order_document, header_record="H", line_record="L",
)
ORDER_INVOICES = Layout(
    "PAYTRACE-SO-INVOICE", 1, INVOICE_SALES_ORDER, "so_invoices",
    (*_text("UDF_PAYTRACE_REF", "SalesOrderNo", "SalesOrderRef"), Field("InvoiceDate", "date")),
    "UDF_PAYTRACE_REF", _mapped_records(_INVOICE_MAP), _mapped_document(SalesOrderInvoice, _INVOICE_MAP),
)
CREDIT_MEMOS = Layout(
    "PAYTRACE-AR-CREDIT-MEMO", 1, CREATE_CREDIT_MEMO, "ar_credit_memos",
    (*_text("UDF_PAYTRACE_REF", "ARDivisionNo", "CustomerNo", "InvoiceType"), Field("InvoiceDate", "date"),
     Field("ApplyToInvoiceNo"), Field("NonTaxableSalesAmt", "money"),
     *_text("Account", "Comment", "PaymentType", "UserCreatedKey")),
    "UDF_PAYTRACE_REF", _memo_records, _memo_document,
)
CASH_RECEIPTS = Layout(
    "PAYTRACE-AR-CASH-RECEIPTS", 1, POST_CARD_RECEIPT, "ar_cash_receipts",
    (Field("BankCode", "text", "D"), Field("DepositDate", "date", "D"),
     *_text("DepositDesc", "DepositType", records="D"),
     Field("CreditCardTransactionID", "text", "HL"), *_text("ARDivisionNo", "CustomerNo", "PaymentType", records="H"),
     Field("PostingAmt", "money", "H"),
     *_text("CreditCardAuthorizationNo", "Last4UnencryptedCreditCardNos", records="H"),
     Field("ExpirationDateYear", "int", "H"), Field("ExpirationDateMonth", "month", "H"),
     *_text("CardType", "CardholderName", "CreditCardGUID", "CreditCardComment", records="H"),
     *_text("InvoiceNo", "InvoiceType", records="L"), Field("AmountPosted", "money", "L")),
    "CreditCardTransactionID", _receipt_records, _receipt_document,
    context_record="D", header_record="H", line_record="L",
)
CARD_REFUNDS = Layout(
    "PAYTRACE-AR-CARD-REFUND", 1, RECORD_CARD_REFUND, "ar_card_refunds",
    (*_text("CreditCardTransactionID", "ARDivisionNo", "CustomerNo"), Field("TransactionDate", "date"),
     Field("TransactionAmt", "money"),
     *_text("PaymentType", "InvoiceNo", "CreditCardAuthorizationNo", "Last4UnencryptedCreditCardNos", "Comment")),
    "CreditCardTransactionID", _mapped_records(_REFUND_MAP), _mapped_document(CardRefund, _REFUND_MAP),
)
JOURNAL_ENTRIES = Layout(
    "PAYTRACE-GL-JOURNAL-ENTRY", 1, POST_JOURNAL_ENTRY, "gl_journal_entries",
    (Field("UDF_PAYTRACE_REF", "text", "HL"), Field("PostingDate", "date", "H"), Field("JournalComment", "text", "H"),
     Field("Account", "text", "L"), Field("DebitAmount", "money", "L"), Field("CreditAmount", "money", "L"),
     Field("Comment", "text", "L")),
    "UDF_PAYTRACE_REF", _journal_records, _journal_document, header_record="H", line_record="L",
)

# In the order a site chains its VI jobs (a document after the ones it depends on).
LAYOUTS: tuple[Layout, ...] = (
    CUSTOMERS, VAULT_CARDS, SALES_ORDERS, ORDER_INVOICES, CREDIT_MEMOS, CASH_RECEIPTS, CARD_REFUNDS, JOURNAL_ENTRIES,
)
LAYOUT_BY_OPERATION: dict[str, Layout] = {layout.operation: layout for layout in LAYOUTS}


def layout_for(name: str, version: int) -> Layout:
    for layout in LAYOUTS:
        if (layout.name, layout.version) == (name, version):
            return layout
    raise VisualIntegratorError(f"unknown Visual Integrator layout {name} v{version}")


# ------------------------------------------------------------------------------ CSV and files


def csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Readers (a VI job, the importer) see the old file or the whole new one, never a part."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VisualIntegratorError(f"{path.name}: not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise VisualIntegratorError(f"{path.name}: not a {MANIFEST_FORMAT} manifest")
    return manifest


def manifests_in_order(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every manifest of the folder, by batch sequence (the order the batches were written)."""
    found = [(path, read_manifest(path)) for path in folder.glob(MANIFEST_GLOB)]
    return sorted(found, key=lambda item: (int(item[1].get("sequence", 0)), item[0].name))
