"""`VisualIntegratorWriter`: the `Sage100Writer` that writes Visual Integrator import files.

Each operation checks the document's shape the way the demo writer does (the document models and
the shared checks of sage100/writer.py; checks that need company data happen when Sage's VI job,
or `import_visual_integrator_folder`, imports the file) and adds it to the open batch, in memory.
`flush` writes the batch: one CSV per operation (layouts in vi_layouts.py), each written
atomically, then ``manifest-<batch>.json``. Nothing reaches the folder before `flush`, so a VI job
never picks up half a batch and a crash before `flush` leaves nothing to clean up.

A result's ``documents`` are ``{"File": <csv name>, "Line": <line of the document's first own
record>}``: Sage assigns the document numbers only at import. Where a later call needs the number
of an order written in a batch not yet imported, pass the order's reference instead
(``invoice_sales_order(result.reference, ...)``); the invoice row then carries ``SalesOrderRef``.

Idempotent by external reference, across batches: the writer indexes the folder's manifests, so
the same reference (pending or in any earlier batch) returns its first result with
``created=False`` and writes nothing. The two upserts (customers, vault cards) write an update
row when the document differs from the last one written; ``updated`` then lists the columns the
row sets (Sage compares them with its values at import). One writer per folder at a time; an
unreadable manifest stops the writer (without it, idempotency could not be promised).

`confirm(manifest)` reads every document of a batch back through the reader (a batch's receipts in
one chunked look-up) and stores the answer in ``confirmation-<batch>.json`` next to the manifest.
A day's receipts thus cost one pass: added in memory, each file written once at `flush`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from sage_paytrace_pipeline.domain.ledger import LedgerDocument
from sage_paytrace_pipeline.sage100.documents import (
    CardReceipt,
    CardRefund,
    CreditMemo,
    CustomerBillingUpdate,
    CustomerRecord,
    DocumentResult,
    JournalEntry,
    ReceiptReversal,
    RefundReversal,
    SalesOrder,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import (
    Sage100ConfigurationError,
    Sage100UnsupportedOperation,
    Sage100ValidationError,
)
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.vi_layouts import (
    CARD_REFUNDS,
    CASH_RECEIPTS,
    CREDIT_MEMOS,
    CUSTOMERS,
    JOURNAL_ENTRIES,
    LAYOUT_BY_OPERATION,
    MANIFEST_FORMAT,
    ORDER_INVOICES,
    SALES_ORDERS,
    VAULT_CARDS,
    Layout,
    SalesOrderInvoice,
    VisualIntegratorError,
    csv_bytes,
    json_bytes,
    manifests_in_order,
    read_manifest,
    sha256_hex,
    write_atomically,
)
from sage_paytrace_pipeline.sage100.writer import (
    CREATE_CREDIT_MEMO,
    CREATE_SALES_ORDER,
    INVOICE_SALES_ORDER,
    POST_CARD_RECEIPT,
    POST_JOURNAL_ENTRY,
    RECORD_CARD_REFUND,
    REVERSE_CARD_RECEIPT,
    REVERSE_CARD_REFUND,
    STORE_VAULT_CARD,
    UPSERT_CUSTOMER,
    check_journal_balanced,
    check_receipt_distribution,
)
from sage_paytrace_pipeline.sage100.writers import WriterTarget

CONFIRMED = "confirmed"
PENDING = "pending"
_UPSERTS = frozenset({UPSERT_CUSTOMER, STORE_VAULT_CARD})
_Doc = TypeVar("_Doc", bound=BaseModel)


def revalidated(document: _Doc) -> _Doc:
    """Validate again: `model_copy(update=...)` skips validation, and the guards (no card numbers,
    lengths, money) must hold for whatever reaches a file. A ledger document exactly as validation left
    it (`validated_as_is`: the pipeline's own, built from its fields) is not validated twice."""
    if isinstance(document, LedgerDocument) and document.validated_as_is():
        return document
    return type(document).model_validate(document.model_dump())


def document_digest(document: BaseModel) -> str:
    return hashlib.sha256(document.model_dump_json().encode("utf-8")).hexdigest()


@dataclass
class _Written:
    """The latest row written for an idempotency key (this batch or an earlier one)."""

    result: DocumentResult
    digest: str


@dataclass
class _PendingFile:
    layout: Layout
    name: str
    rows: list[list[str]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    last_context: list[str] | None = None

    def add(self, records_cells: list[list[str]]) -> int:
        """Append a document's rows; returns the file line of its first own record (header is line 1)."""
        if self.layout.context_record:
            context, *own = records_cells
            if context != self.last_context:  # a D record only where the deposit changes
                self.rows.append(context)
                self.last_context = context
        else:
            own = records_cells
        line = len(self.rows) + 2
        self.rows.extend(own)
        return line


@dataclass
class _Batch:
    batch_id: str
    sequence: int
    files: dict[str, _PendingFile] = field(default_factory=dict)  # operation -> file, in order of first use
    documents: int = 0


class VisualIntegratorWriter:
    """Writes Visual Integrator import files into `folder`; implements `Sage100Writer`.

    `reader` reads the company back for `confirm`; `clock` names batches and stamps manifests.
    """

    def __init__(
        self,
        folder: str | Path,
        reader: Sage100Reader | None = None,
        *,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.reader = reader
        self.clock = clock
        self._written: dict[tuple[str, str], _Written] = {}
        self._last_sequence = 0
        self._batch: _Batch | None = None
        self._index_folder()

    # --- Sage100Writer ----------------------------------------------------------------
    def post_card_receipt(self, receipt: CardReceipt) -> DocumentResult:
        receipt = revalidated(receipt)
        check_receipt_distribution(receipt)
        return self._add(CASH_RECEIPTS, receipt, key=receipt.transaction_id, reference=receipt.transaction_id)

    def upsert_customer(self, customer: CustomerRecord) -> DocumentResult:
        customer = revalidated(customer)
        return self._add(CUSTOMERS, customer, key=customer.reference, reference=customer.reference)

    def store_vault_card(self, card: VaultCard) -> DocumentResult:
        card = revalidated(card)
        key = f"{card.division}-{card.customer_no}-{card.credit_card_guid}"  # the demo's AR_CustomerCreditCard key
        return self._add(VAULT_CARDS, card, key=key, reference=card.credit_card_guid)

    # The customer sync's operations: the import layouts here only add and update rows by reference,
    # so these are refused in one sentence rather than half-done.
    def update_customer_billing(self, update: CustomerBillingUpdate) -> DocumentResult:
        raise Sage100UnsupportedOperation(
            "update_customer_billing: the Visual Integrator writer updates customers only by their PayTrace "
            "reference (upsert_customer); change the billing fields in AR Customer Maintenance (the sync lists "
            "them as exceptions) or write through a BOI bridge")

    def delete_vault_card(self, credit_card_guid: str) -> DocumentResult:
        raise Sage100UnsupportedOperation(
            "delete_vault_card: a Visual Integrator import cannot delete a saved card; remove it in Customer "
            "Credit Card Maintenance (the sync lists it as an exception) or use a BOI bridge")

    def set_default_card(self, division: str, customer_no: str, credit_card_guid: str) -> DocumentResult:
        raise Sage100UnsupportedOperation(
            "set_default_card: the Visual Integrator layouts do not carry AR_Customer.CreditCardGUID; set the "
            "default card in AR Customer Maintenance or use a BOI bridge")

    def create_sales_order(self, order: SalesOrder) -> DocumentResult:
        order = revalidated(order)
        return self._add(SALES_ORDERS, order, key=order.reference, reference=order.reference)

    def invoice_sales_order(self, sales_order_no: str, *, reference: str, invoice_date: date) -> DocumentResult:
        """`sales_order_no` is Sage's number, or the reference of an order written to this folder."""
        order = str(sales_order_no).strip()
        by_reference = (CREATE_SALES_ORDER, order) in self._written
        invoice = SalesOrderInvoice(
            reference=reference, invoice_date=invoice_date,
            sales_order_no="" if by_reference else order, sales_order_ref=order if by_reference else "",
        )
        return self._add(ORDER_INVOICES, invoice, key=invoice.reference, reference=invoice.reference)

    def create_credit_memo(self, memo: CreditMemo) -> DocumentResult:
        memo = revalidated(memo)
        return self._add(CREDIT_MEMOS, memo, key=memo.reference, reference=memo.reference)

    def record_card_refund(self, refund: CardRefund) -> DocumentResult:
        refund = revalidated(refund)
        if refund.more_credit_memo_nos or refund.prepayment_no:
            raise Sage100ValidationError(
                operation=RECORD_CARD_REFUND, reference=refund.transaction_id,
                field="more_credit_memo_nos" if refund.more_credit_memo_nos else "prepayment_no",
                problem="the card refund import layout (PAYTRACE-AR-CARD-REFUND v1) names one credit memo only",
                fix="record this refund in Sage by hand (A/R Invoice Data Entry adjustment per consumed credit), "
                    "or use the demo_company writer")
        return self._add(CARD_REFUNDS, refund, key=refund.transaction_id, reference=refund.transaction_id)

    def reverse_card_receipt(self, reversal: ReceiptReversal) -> DocumentResult:
        raise _no_layout(REVERSE_CARD_RECEIPT, reversal.reference,
                         "in Cash Receipts Entry: a Cash deposit, check no. CCREVERSE, the original lines negative "
                         "(Sage KB 223924250030110)")

    def reverse_card_refund(self, reversal: RefundReversal) -> DocumentResult:
        raise _no_layout(REVERSE_CARD_REFUND, reversal.reference,
                         "in A/R Invoice Data Entry: a credit adjustment restoring the credit the refund consumed, "
                         "distributed to the card payment type's clearing account")

    def post_journal_entry(self, entry: JournalEntry) -> DocumentResult:
        entry = revalidated(entry)
        check_journal_balanced(entry)
        return self._add(JOURNAL_ENTRIES, entry, key=entry.reference, reference=entry.reference)

    # --- batches ----------------------------------------------------------------------
    @property
    def pending_documents(self) -> int:
        return self._batch.documents if self._batch else 0

    def flush(self) -> Path | None:
        """Write the open batch (CSV files, then its manifest); returns the manifest, None when empty."""
        batch, self._batch = self._batch, None
        if batch is None or not batch.documents:
            return None
        files = [self._write_file(pending) for pending in batch.files.values()]
        manifest = {
            "format": MANIFEST_FORMAT,
            "batch": batch.batch_id,
            "sequence": batch.sequence,
            "created_at": self.clock().isoformat(timespec="seconds"),
            "layouts": {p.layout.name: p.layout.version for p in batch.files.values()},
            "files": files,
        }
        path = self.folder / f"manifest-{batch.batch_id}.json"
        write_atomically(path, json_bytes(manifest))
        return path

    def confirm(self, manifest_path: str | Path) -> dict[str, str]:
        """``confirmed`` / ``pending`` (not yet imported by Sage's VI job) per reference of a batch.

        Stored in ``confirmation-<batch>.json`` next to the manifest, with the time of the check.
        """
        if self.reader is None:
            raise VisualIntegratorError("confirm needs a Sage100Reader: VisualIntegratorWriter(folder, reader)")
        path = Path(manifest_path)
        manifest = read_manifest(path)
        statuses: dict[str, str] = {}
        receipts_found = _receipts_in_sage(self.reader, manifest)
        for entry in manifest["files"]:
            for document in entry["documents"]:
                found = document["reference"] in receipts_found if entry["operation"] == POST_CARD_RECEIPT \
                    else reference_in_sage(self.reader, entry["operation"], document["reference"])
                if statuses.get(document["reference"]) != PENDING:  # shared reference: pending wins
                    statuses[document["reference"]] = CONFIRMED if found else PENDING
        record = {"batch": manifest["batch"], "checked_at": self.clock().isoformat(timespec="seconds"),
                  "documents": statuses}
        write_atomically(path.with_name(f"confirmation-{manifest['batch']}.json"), json_bytes(record))
        return statuses

    # --- internals --------------------------------------------------------------------
    def _index_folder(self) -> None:
        """Every document of the folder's earlier batches, for idempotency across runs."""
        for _path, manifest in manifests_in_order(self.folder):
            self._last_sequence = max(self._last_sequence, int(manifest.get("sequence", 0)))
            for entry in manifest["files"]:
                for document in entry["documents"]:
                    result = DocumentResult(
                        operation=entry["operation"], reference=document["reference"],
                        documents={"File": entry["name"], "Line": str(document["line"])}, created=False,
                    )
                    self._written[entry["operation"], document["key"]] = _Written(result, document["digest"])

    def _add(self, layout: Layout, document: BaseModel, *, key: str, reference: str) -> DocumentResult:
        digest = document_digest(document)
        previous = self._written.get((layout.operation, key))
        if previous is not None and (layout.operation not in _UPSERTS or previous.digest == digest):
            return previous.result.model_copy(update={"created": False, "updated": ()})
        cells = self._cells(layout, document, reference)
        batch = self._open_batch()
        pending = batch.files.get(layout.operation)
        if pending is None:
            pending = batch.files[layout.operation] = _PendingFile(layout, f"{batch.batch_id}-{layout.stem}.csv")
        line = pending.add(cells)
        batch.documents += 1
        pending.documents.append({"reference": reference, "key": key, "line": line, "seq": batch.documents,
                                  "digest": digest})
        result = DocumentResult(operation=layout.operation, reference=reference,
                                documents={"File": pending.name, "Line": str(line)}, created=previous is None,
                                updated=() if previous is None else _columns_set(layout, cells))
        self._written[layout.operation, key] = _Written(result, digest)
        return result

    @staticmethod
    def _cells(layout: Layout, document: BaseModel, reference: str) -> list[list[str]]:
        try:
            return [layout.row(record) for record in layout.to_records(document)]
        except ValueError as exc:  # a key with a line break: Sage would refuse it too
            raise Sage100ValidationError(operation=layout.operation, reference=reference, field=layout.name,
                                         problem=str(exc), fix="remove line breaks from the document's fields") from exc

    def _open_batch(self) -> _Batch:
        if self._batch is None:
            self._last_sequence += 1
            stamp = self.clock().strftime("%Y%m%dT%H%M%S")
            self._batch = _Batch(f"{stamp}-{self._last_sequence:04d}", self._last_sequence)
        return self._batch

    def _write_file(self, pending: _PendingFile) -> dict[str, Any]:
        data = csv_bytes(pending.layout.columns, pending.rows)
        write_atomically(self.folder / pending.name, data)
        return {
            "name": pending.name,
            "operation": pending.layout.operation,
            "layout": pending.layout.name,
            "version": pending.layout.version,
            "rows": len(pending.rows),
            "sha256": sha256_hex(data),
            "references": [document["reference"] for document in pending.documents],
            "documents": pending.documents,
        }


def _columns_set(layout: Layout, cells: list[list[str]]) -> tuple[str, ...]:
    """The non-key columns an update row fills (single-record upsert layouts)."""
    keys = {"ARDivisionNo", "CustomerNo", layout.reference_field}
    return tuple(column for column, cell in zip(layout.columns, cells[0]) if cell and column not in keys)


# ------------------------------------------------------------------- reading documents back

# Where each operation's reference is found once Sage has imported it: (table key, column).
_REFERENCE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    UPSERT_CUSTOMER: (("AR_Customer", UDF_PAYTRACE_REF),),
    CREATE_SALES_ORDER: (("SO_SalesOrderHeader", UDF_PAYTRACE_REF),),
    INVOICE_SALES_ORDER: (("AR_InvoiceHistoryHeader", UDF_PAYTRACE_REF),),
    CREATE_CREDIT_MEMO: (("AR_InvoiceHistoryHeader", UDF_PAYTRACE_REF),),
    RECORD_CARD_REFUND: (("AR_TransactionPaymentHistory", "CreditCardTransactionID"),),
    POST_JOURNAL_ENTRY: (("GL_GeneralJournalHistory", UDF_PAYTRACE_REF), ("GL_GeneralJournalHeader", UDF_PAYTRACE_REF)),
}


def _no_layout(operation: str, reference: str, how: str) -> Sage100ValidationError:
    """Visual Integrator imports no negative receipt (KB 223924250030110: "import will bring in as zero"), so the
    reversals have no layout: refused with what a clerk enters instead."""
    return Sage100ValidationError(
        operation=operation, reference=reference, field="writer",
        problem="Visual Integrator has no import for this reversal (a negative receipt imports as zero)",
        fix=f"enter it {how}, with reference {reference}, or use the demo_company writer")


def _receipts_in_sage(reader: Sage100Reader, manifest: dict[str, Any]) -> set[str]:
    """The batch's receipt references Sage holds, in one chunked look-up (a day's receipts)."""
    references = [document["reference"] for entry in manifest["files"] if entry["operation"] == POST_CARD_RECEIPT
                  for document in entry["documents"]]
    return {receipt.transaction_id for receipt in reader.receipts_for_transaction_ids(references)} if references \
        else set()


def reference_in_sage(reader: Sage100Reader, operation: str, reference: str) -> bool:
    """Whether Sage holds the document of `operation` with this external reference."""
    if operation == POST_CARD_RECEIPT:
        return reader.receipt_for_transaction_id(reference) is not None
    if operation == STORE_VAULT_CARD:
        return bool(reader.customers_by_card_guid(reference))
    if operation not in LAYOUT_BY_OPERATION:
        raise VisualIntegratorError(f"unknown operation {operation!r} in a manifest")
    return any(reader.rows_where(table_key, column, reference, (column,))
               for table_key, column in _REFERENCE_COLUMNS[operation])


def open_visual_integrator_writer(target: WriterTarget) -> VisualIntegratorWriter:
    """Entry point `visual_integrator` (sage100/writers.py): files in SAGE100_VI_FOLDER, confirmed
    by reading the company back."""
    if not target.vi_folder:
        raise Sage100ConfigurationError(
            "sage.writer is visual_integrator: set SAGE100_VI_FOLDER to the folder Sage's Visual Integrator "
            "jobs import from")
    return VisualIntegratorWriter(target.vi_folder, target.reader())
