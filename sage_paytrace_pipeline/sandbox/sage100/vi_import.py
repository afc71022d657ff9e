"""What Sage's Visual Integrator jobs do with a folder of import files, played on the demo company.

`import_visual_integrator_folder` takes every manifest of the folder not yet imported (batch
order), checks each file against the manifest (sha256, header row, row count, every cell against
its layout, every document against the document models) and refuses a changed or malformed file
whole, naming the file and the line. The documents of the accepted files are applied through
`DemoCompanyWriter` in the order the writer received them, so the demo company ends in the same
state, document numbers included, as if the direct writer had been called. A document Sage would
refuse (unknown customer, invoice not open...) is reported as refused and the rest go on, as a VI
job logs a rejected record and continues.

A manifest is recorded as imported (``imported/manifest-<batch>.json``) only when nothing of it
was refused; otherwise the next run tries it again, and what was applied is then reported as
already present (the writer is idempotent). The log belongs to the folder, not to a database:
like a site's VI import folder, a folder feeds one company.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sage_paytrace_pipeline.sage100.documents import DocumentResult
from sage_paytrace_pipeline.sage100.errors import DocumentStateError, Sage100ValidationError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.vi_layouts import (
    IMPORTED_DIR,
    MANIFEST_GLOB,
    RECORD_TYPE,
    Layout,
    Record,
    SalesOrderInvoice,
    VisualIntegratorError,
    VisualIntegratorFileError,
    json_bytes,
    layout_for,
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
    STORE_VAULT_CARD,
    UPSERT_CUSTOMER,
)
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter, Posting


@dataclass(frozen=True)
class RefusedItem:
    """A file, manifest or document that was not applied, and why."""

    file: str
    line: int | None
    reference: str  # "" when a whole file or manifest is refused
    error: str


@dataclass
class ImportReport:
    manifests: list[str] = field(default_factory=list)  # manifests read in this run
    files: list[str] = field(default_factory=list)  # files accepted (sha256 and layout check passed)
    applied: list[DocumentResult] = field(default_factory=list)  # created, or an upsert that changed Sage
    already_present: list[DocumentResult] = field(default_factory=list)  # found by reference, nothing written
    refused: list[RefusedItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused


@dataclass(frozen=True)
class _Parsed:
    file: str
    line: int
    seq: int
    operation: str
    document: Any


def import_visual_integrator_folder(
    folder: str | Path,
    db_path: str | Path,
    *,
    posting: Posting = "post",
    clock: Callable[[], datetime] = datetime.now,
    user: str = "PAYTRACE",
    credit_memo_account: str | None = None,
) -> ImportReport:
    """Import every batch of `folder` not yet imported into the demo company at `db_path`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VisualIntegratorError(f"{folder} is not a folder of Visual Integrator files")
    writer = DemoCompanyWriter(db_path, posting=posting, user=user, clock=clock,
                               credit_memo_account=credit_memo_account)
    reader = Sage100Reader.for_sqlite(db_path)
    report = ImportReport()
    for path, manifest in _manifests_to_import(folder, report):
        _import_manifest(folder, path, manifest, writer=writer, reader=reader, report=report, clock=clock)
    return report


def _manifests_to_import(folder: Path, report: ImportReport) -> list[tuple[Path, dict[str, Any]]]:
    """Readable manifests not yet imported, in batch order; an unreadable one is refused, the rest go on."""
    found = []
    for path in folder.glob(MANIFEST_GLOB):
        if (folder / IMPORTED_DIR / path.name).exists():
            continue
        try:
            found.append((path, read_manifest(path)))
        except VisualIntegratorError as exc:
            report.refused.append(RefusedItem(file=path.name, line=None, reference="", error=str(exc)))
    return sorted(found, key=lambda item: (int(item[1].get("sequence", 0)), item[0].name))


def _import_manifest(folder: Path, path: Path, manifest: dict[str, Any], *, writer: DemoCompanyWriter,
                     reader: Sage100Reader, report: ImportReport, clock: Callable[[], datetime]) -> None:
    report.manifests.append(path.name)
    refused_before, applied_before = len(report.refused), len(report.applied)
    documents: list[_Parsed] = []
    for entry in manifest.get("files", []):
        try:
            documents += _parse_file(folder, entry)
        except VisualIntegratorFileError as exc:
            report.refused.append(RefusedItem(file=exc.file, line=exc.line, reference="", error=str(exc)))
            continue
        except (KeyError, TypeError, ValueError, VisualIntegratorError) as exc:
            report.refused.append(RefusedItem(file=path.name, line=None, reference="",
                                              error=f"{path.name}: a malformed file entry ({exc})"))
            continue
        report.files.append(entry["name"])
    for parsed in sorted(documents, key=lambda p: p.seq):
        _apply(parsed, writer, reader, report)
    if len(report.refused) == refused_before:
        log = {"manifest": path.name, "imported_at": clock().isoformat(timespec="seconds"),
               "documents": len(documents), "applied": len(report.applied) - applied_before}
        (folder / IMPORTED_DIR).mkdir(exist_ok=True)
        write_atomically(folder / IMPORTED_DIR / path.name, json_bytes(log))


# ------------------------------------------------------------------------------- parsing


@dataclass
class _Group:
    """One document's records as read: its context (D) record, its own records, the line it starts on."""

    line: int
    context: Record | None
    own: list[Record]

    @property
    def records(self) -> list[Record]:
        return ([self.context] if self.context is not None else []) + self.own


def _parse_file(folder: Path, entry: dict[str, Any]) -> list[_Parsed]:
    """All documents of one file, or VisualIntegratorFileError naming the file (and the line)."""
    name = entry["name"]
    layout = layout_for(entry["layout"], int(entry["version"]))
    if layout.operation != entry["operation"]:
        raise VisualIntegratorFileError(name, None, f"layout {layout.name} is not for {entry['operation']}")
    text = _verified_text(folder, name, entry["sha256"])
    groups, rows = _document_groups(name, layout, text)
    if rows != entry["rows"]:
        raise VisualIntegratorFileError(name, None, f"{rows} data rows, the manifest says {entry['rows']}")
    seq_by_line = {int(d["line"]): int(d["seq"]) for d in entry["documents"]}
    if set(seq_by_line) != {group.line for group in groups}:
        raise VisualIntegratorFileError(name, None, "its documents are not the ones the manifest lists")
    return [_document(name, layout, group, seq_by_line[group.line]) for group in groups]


def _verified_text(folder: Path, name: str, sha256: str) -> str:
    try:
        data = (folder / name).read_bytes()
    except OSError as exc:
        raise VisualIntegratorFileError(name, None, f"cannot be read ({exc.strerror})") from None
    if sha256_hex(data) != sha256:
        raise VisualIntegratorFileError(name, None, "sha256 differs from the manifest: the file was changed "
                                                    "after it was written; nothing from it is imported")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VisualIntegratorFileError(name, None, "is not UTF-8 text") from None


def _document_groups(name: str, layout: Layout, text: str) -> tuple[list[_Group], int]:
    """The file's documents and its number of data rows."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None or tuple(header) != layout.columns:
        raise VisualIntegratorFileError(name, 1, f"the header row is not the column list of {layout.name} "
                                                 f"v{layout.version}")
    groups: list[_Group] = []
    context: Record | None = None
    count = 0
    for cells in rows:
        count += 1
        try:
            record = layout.record(cells)
            context = _place(layout, record, rows.line_num, context, groups)
        except ValueError as exc:
            raise VisualIntegratorFileError(name, rows.line_num, str(exc)) from None
    return groups, count


def _place(layout: Layout, record: Record, line: int, context: Record | None, groups: list[_Group]) -> Record | None:
    """Put one record into its document; returns the context (D) record now in force."""
    kind = record.get(RECORD_TYPE, "")
    if layout.context_record and kind == layout.context_record:
        return record
    if not layout.multi_record or kind == layout.header_record:
        if layout.context_record and context is None:
            raise ValueError(f"a {kind} record before any {layout.context_record} record")
        groups.append(_Group(line, context, [record]))
        return context
    if not groups:
        raise ValueError(f"a {kind} record before any {layout.header_record} record")
    reference = layout.reference_field
    if record.get(reference) != groups[-1].own[0].get(reference):
        raise ValueError(f"{reference} differs from the {layout.header_record} record above")
    groups[-1].own.append(record)
    return context


def _document(name: str, layout: Layout, group: _Group, seq: int) -> _Parsed:
    try:
        document = layout.from_records(group.records)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors())
        raise VisualIntegratorFileError(name, group.line, problems) from None
    except ValueError as exc:
        raise VisualIntegratorFileError(name, group.line, str(exc)) from None
    return _Parsed(name, group.line, seq, layout.operation, document)


# ------------------------------------------------------------------------------- applying

_APPLY: dict[str, Callable[[DemoCompanyWriter, Any], DocumentResult]] = {
    UPSERT_CUSTOMER: lambda w, d: w.upsert_customer(d),
    STORE_VAULT_CARD: lambda w, d: w.store_vault_card(d),
    CREATE_SALES_ORDER: lambda w, d: w.create_sales_order(d),
    CREATE_CREDIT_MEMO: lambda w, d: w.create_credit_memo(d),
    POST_CARD_RECEIPT: lambda w, d: w.post_card_receipt(d),
    RECORD_CARD_REFUND: lambda w, d: w.record_card_refund(d),
    POST_JOURNAL_ENTRY: lambda w, d: w.post_journal_entry(d),
}


def _apply(parsed: _Parsed, writer: DemoCompanyWriter, reader: Sage100Reader, report: ImportReport) -> None:
    try:
        if parsed.operation == INVOICE_SALES_ORDER:
            result = _invoice(writer, reader, parsed.document)
        else:
            result = _APPLY[parsed.operation](writer, parsed.document)
    except Sage100ValidationError as exc:
        report.refused.append(RefusedItem(file=parsed.file, line=parsed.line, reference=exc.reference, error=str(exc)))
        return
    (report.applied if result.created or result.updated else report.already_present).append(result)


def _invoice(writer: DemoCompanyWriter, reader: Sage100Reader, invoice: SalesOrderInvoice) -> DocumentResult:
    """The order by number, or by the reference it was written with (its number unknown to the writer)."""
    order_no = invoice.sales_order_no
    if not order_no:
        rows = reader.rows_where("SO_SalesOrderHeader", UDF_PAYTRACE_REF, invoice.sales_order_ref,
                               ("SalesOrderNo",))
        if not rows:
            raise DocumentStateError(
                operation=INVOICE_SALES_ORDER, reference=invoice.reference, field="SalesOrderRef",
                problem=f"no sales order has the reference {invoice.sales_order_ref}",
                fix="import the sales order first (same batch or an earlier one), or give its SalesOrderNo",
            )
        order_no = str(rows[0]["SalesOrderNo"])
    return writer.invoice_sales_order(order_no, reference=invoice.reference, invoice_date=invoice.invoice_date)
