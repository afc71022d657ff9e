"""Visual Integrator files: the round trip against the direct writer, file safety, idempotency, refusals."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sage_paytrace_pipeline.sage100 import vi_layouts
from sage_paytrace_pipeline.sage100.documents import (
    CardRefund,
    CreditMemo,
    CustomerRecord,
    DocumentResult,
    JournalEntry,
    JournalLine,
    ReceiptLine,
    SalesOrder,
    SalesOrderLine,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import DistributionOutOfBalanceError, UnbalancedJournalEntryError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.visual_integrator import LAYOUTS, VisualIntegratorWriter
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.vi_import import import_visual_integrator_folder
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    NOW,
    TODAY,
    customer_with_open_invoices,
    dump,
    query,
    receipt,
)

PAN = "4111 1111 1111 1111"


@pytest.fixture
def twin(company_template, tmp_path) -> Path:
    """A second copy of the same fresh demo company, for the Visual Integrator side."""
    path = tmp_path / "vi-company.db"
    shutil.copy(company_template, path)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "vi"


def vi_writer(folder: Path, db: Path | None = None) -> VisualIntegratorWriter:
    reader = Sage100Reader.for_sqlite(db) if db else None
    return VisualIntegratorWriter(folder, reader, clock=lambda: NOW)


def import_folder(folder: Path, db: Path):
    return import_visual_integrator_folder(folder, db, clock=lambda: NOW)


def number_or_reference(result: DocumentResult, key: str) -> str:
    """Sage's number when the writer knows it (direct writer), else the document's reference (VI)."""
    return result.documents.get(key, result.reference)


def run_operations(writer, company: Path) -> list[DocumentResult]:
    """The same business day through any Sage100Writer: every operation, in an interleaved order."""
    division, payer, invoices = customer_with_open_invoices(company, 3)
    (first, first_balance), (second, _), (third, _) = invoices
    _, other, [(other_invoice, _)] = customer_with_open_invoices_except(company, payer)
    results = [
        writer.upsert_customer(CustomerRecord(reference="pt-cust-1001", division="01", name='=HYPERLINK("x")',
                                              city="Spokane", state="WA", email="ap@acme.example")),
        writer.upsert_customer(CustomerRecord(reference="pt-cust-1002", division="01", customer_no="WEB0002",
                                              name="Harbor Supply", terms_code="01", address_line1="-12 Pier St")),
        writer.store_vault_card(VaultCard(division="01", customer_no="WEB0002", credit_card_guid="PTVAULT-1002",
                                          payment_type="VISA", last4="1111", expiration_year=2029,
                                          expiration_month=7, card_type="VISA", cardholder_name="Lee Park")),
        writer.post_card_receipt(receipt(division, payer, [  # one payment applied to two invoices
            ReceiptLine(invoice_no=first, amount=first_balance), ReceiptLine(invoice_no=second, amount="10.00")],
            transaction_id="700001", deposit_description="PayTrace batch A")),
        writer.post_card_receipt(receipt(division, other, [  # partial payment + prepayment of the remainder
            ReceiptLine(invoice_no=other_invoice, amount="1.00"),
            ReceiptLine(invoice_no="PT70002", amount="25.00", prepayment=True)],
            transaction_id="700002", deposit_description="PayTrace batch B", comment=f"card {PAN}")),
        writer.post_card_receipt(receipt(division, payer, [ReceiptLine(invoice_no=third, amount="0.50")],
                                         transaction_id="700003", deposit_description="PayTrace batch A")),
        writer.post_card_receipt(receipt("01", "WEB0002", [ReceiptLine(invoice_no="PT70004", amount="99.99",
                                                                       prepayment=True)],
                                         transaction_id="700004", credit_card_guid="PTVAULT-1002", last4="1111")),
    ]
    order = writer.create_sales_order(SalesOrder(
        reference="web-5001", division="01", customer_no="RIVE0001", order_date=TODAY, customer_po_no="+PO 17",
        lines=(SalesOrderLine(item_code="DRILL-18V", quantity="2"),
               SalesOrderLine(item_code="/FREIGHT", quantity="1", unit_price="12.50"))))
    results += [
        order,
        writer.invoice_sales_order(number_or_reference(order, "SalesOrderNo"), reference="web-5001-inv",
                                   invoice_date=date(2026, 3, 3)),
        writer.create_credit_memo(CreditMemo(reference="rma-1", division=division, customer_no=payer,
                                             memo_date=TODAY, amount="1.00", apply_to_invoice_no=third,
                                             account="4950-00", comment="@damaged", payment_type="VISA",
                                             entered_by="clerk1")),  # a refund request: the mark round-trips
        writer.create_credit_memo(CreditMemo(reference="rma-2", division="01", customer_no="RIVE0001",
                                             memo_date=TODAY, amount="40.00", account="4950-00")),
        writer.record_card_refund(CardRefund(transaction_id="880001", division="01", customer_no="RIVE0001",
                                             refund_date=TODAY, amount="40.00", payment_type="VISA", last4="5439",
                                             authorization_no="RF1")),
        writer.post_journal_entry(JournalEntry(reference="fees-2026-03-02", posting_date=TODAY,
                                               comment="PayTrace fees batch 1",
                                               lines=(JournalLine(account="6150-00", debit="12.34"),
                                                      JournalLine(account="1061-00", credit="12.34")))),
        writer.upsert_customer(CustomerRecord(reference="pt-cust-1001", division="01", name='=HYPERLINK("x")',
                                              city="Seattle")),  # an update of the first customer
    ]
    return results


def customer_with_open_invoices_except(company: Path, excluded: str):
    rows = query(company, "SELECT o.ARDivisionNo, o.CustomerNo, o.InvoiceNo FROM AR_OpenInvoice o JOIN AR_Customer c "
                 "USING (ARDivisionNo, CustomerNo) WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' "
                 "AND CAST(o.Balance AS NUMERIC) > 30 AND o.CustomerNo <> ? ORDER BY 1, 2, 3 LIMIT 1", (excluded,))
    division, customer, invoice = rows[0]
    return division, customer, [(invoice, None)]


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def only_file(folder: Path, stem: str) -> Path:
    [path] = folder.glob(f"*-{stem}.csv")
    return path


# ---------------------------------------------------------------------------- the round trip


def test_visual_integrator_files_give_the_same_company_as_the_direct_writer(company, twin, folder):
    direct = run_operations(DemoCompanyWriter(company, clock=lambda: NOW), company)
    writer = vi_writer(folder)
    written = run_operations(writer, twin)
    manifest = writer.flush()

    report = import_folder(folder, twin)

    assert report.refused == [] and len(report.files) == len(LAYOUTS)
    assert len(report.applied) == len(written) == len(direct)
    assert [(r.operation, r.reference) for r in report.applied] == [(r.operation, r.reference) for r in direct]
    assert [r.documents for r in report.applied] == [r.documents for r in direct]  # same document numbers
    assert all(set(r.documents) == {"File", "Line"} for r in written)
    assert [r.created for r in written] == [True] * (len(written) - 1) + [False]  # the last one is an update
    assert written[-1].updated == ("CustomerName", "City", "CountryCode")
    assert dump(twin) == dump(company)  # every table, every column: audit stamps and numbers included
    assert json.loads(manifest.read_text())["batch"] == manifest.stem.removeprefix("manifest-")


def test_receipt_file_has_deposit_header_and_line_records_in_call_order(folder, company):
    writer = vi_writer(folder)
    run_operations(writer, company)
    writer.flush()
    rows = csv_rows(only_file(folder, "ar_cash_receipts"))
    assert rows[0] == list(vi_layouts.CASH_RECEIPTS.columns)
    # D A, H 700001, L, L | D B, H 700002, L, L | D A again (the deposit changed back), H 700003, L | D C, H, L
    kinds = "".join(row[0] for row in rows[1:])
    assert kinds == "DHLLDHLLDHLDHL"
    deposit = dict(zip(rows[0], rows[1]))
    assert (deposit["DepositDate"], deposit["DepositType"], deposit["PostingAmt"]) == ("20260302", "R", "")
    prepayment = dict(zip(rows[0], rows[8]))
    assert (prepayment["InvoiceNo"], prepayment["InvoiceType"], prepayment["AmountPosted"]) == (
        "PT70002", "PP", "25.00")
    with open(only_file(folder, "ar_cash_receipts"), "rb") as handle:
        assert handle.read().count(b"\r\n") == len(rows)


# ------------------------------------------------------------------------------ file safety


def test_formula_injection_is_neutralised_and_the_text_round_trips(folder, twin):
    writer = vi_writer(folder)
    writer.upsert_customer(CustomerRecord(reference="f-1", division="01", name='=HYPERLINK("x")'))
    writer.upsert_customer(CustomerRecord(reference="f-2", division="01", name="'quoted' name", city="+Springfield"))
    writer.post_journal_entry(JournalEntry(reference="f-3", posting_date=TODAY, comment="-minus",
                                           lines=(JournalLine(account="6150-00", debit="1.00"),
                                                  JournalLine(account="1061-00", credit="1.00"))))
    writer.flush()
    header, *rows = csv_rows(only_file(folder, "ar_customers"))
    names = [dict(zip(header, row)) for row in rows]
    # the documents store the neutralised text (Sage's lists go to Excel too); the file adds one more
    assert names[0]["CustomerName"] == "''=HYPERLINK(\"x\")"
    assert (names[1]["CustomerName"], names[1]["City"]) == ("''quoted' name", "''+Springfield")
    journal = [dict(zip(*[csv_rows(only_file(folder, "gl_journal_entries"))[0], row]))
               for row in csv_rows(only_file(folder, "gl_journal_entries"))[1:]]
    assert journal[0]["JournalComment"] == "''-minus" and journal[1]["DebitAmount"] == "1.00"
    assert vi_layouts.encode_cell("money", Decimal("-5.00")) == "-5.00"  # numbers are never prefixed

    assert import_folder(folder, twin).refused == []
    assert query(twin, "SELECT UDF_PAYTRACE_REF, CustomerName, City FROM AR_Customer WHERE UDF_PAYTRACE_REF "
                 "LIKE 'f-%' ORDER BY 1") == [("f-1", "'=HYPERLINK(\"x\")", ""),
                                              ("f-2", "'quoted' name", "'+Springfield")]
    assert query(twin, "SELECT JournalComment FROM GL_GeneralJournalHistory WHERE UDF_PAYTRACE_REF='f-3'") == [
        ("'-minus",)]


def test_a_card_number_in_a_comment_is_masked_in_the_file(folder, company):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    writer = vi_writer(folder)
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)],
                                     comment=f"card {PAN} paid"))
    writer.flush()
    content = only_file(folder, "ar_cash_receipts").read_text(encoding="utf-8")
    assert PAN not in content and PAN.replace(" ", "") not in content
    assert "card xxxxxxxxxxxx1111 paid" in content


def test_every_layout_is_documented_with_its_exact_columns():
    documentation = " ".join(vi_layouts.__doc__.split())
    for layout in LAYOUTS:
        assert f"{layout.name} v{layout.version} ({layout.operation}; {layout.stem})" in documentation
        assert "Columns: " + ", ".join(layout.columns) in documentation


# ------------------------------------------------------------------------------- idempotency


def test_the_same_receipt_twice_gives_one_row_and_importing_twice_applies_once(folder, company):
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    payment = receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)])
    writer = vi_writer(folder)
    first = writer.post_card_receipt(payment)
    again = writer.post_card_receipt(payment)
    assert (first.created, again.created, again.documents) == (True, False, first.documents)
    assert first.documents == {"File": only_file_name(writer), "Line": "3"}  # header row, D, then H
    writer.flush()
    assert [row[0] for row in csv_rows(only_file(folder, "ar_cash_receipts"))[1:]] == ["D", "H", "L"]

    later = vi_writer(folder)  # a new run: the folder's manifests remember the receipt
    repeated = later.post_card_receipt(payment)
    assert (repeated.created, repeated.documents) == (False, first.documents)
    assert later.flush() is None and len(list(folder.glob("manifest-*.json"))) == 1

    assert len(import_folder(folder, company).applied) == 1
    after_first_import = dump(company)
    second = import_folder(folder, company)
    assert (second.manifests, second.applied) == ([], [])  # logged in imported/
    for log in (folder / "imported").iterdir():
        log.unlink()
    third = import_folder(folder, company)  # without the log the writer's idempotency still holds
    assert (len(third.applied), len(third.already_present), third.refused) == (0, 1, [])
    assert dump(company) == after_first_import
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID='700001'") == [
        (1,)]


def only_file_name(writer: VisualIntegratorWriter) -> str:
    [pending] = writer._batch.files.values()  # private on purpose: the name before flush
    return pending.name


def test_shape_checks_refuse_before_anything_is_written(folder, company):
    division, customer, [(invoice, _)] = customer_with_open_invoices(company, 1)
    writer = vi_writer(folder)
    assert isinstance(writer, Sage100Writer)
    with pytest.raises(DistributionOutOfBalanceError):
        writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount="5.00")],
                                         amount=Decimal("6.00")))
    with pytest.raises(UnbalancedJournalEntryError):
        writer.post_journal_entry(JournalEntry(reference="j", posting_date=TODAY, lines=(
            JournalLine(account="6150-00", debit="1.00"), JournalLine(account="1061-00", credit="2.00"))))
    assert writer.pending_documents == 0 and writer.flush() is None
    assert list(folder.iterdir()) == []


def test_an_order_of_an_earlier_batch_is_invoiced_by_its_reference(folder, twin):
    first = vi_writer(folder)
    order = first.create_sales_order(SalesOrder(reference="web-7", division="01", customer_no="RIVE0001",
                                                order_date=TODAY, lines=(SalesOrderLine(item_code="DRILL-18V",
                                                                                        quantity="1"),)))
    first.flush()
    second = vi_writer(folder)
    second.invoice_sales_order(order.reference, reference="web-7-inv", invoice_date=TODAY)
    second.flush()
    header, row = csv_rows(only_file(folder, "so_invoices"))
    assert dict(zip(header, row)) == {"UDF_PAYTRACE_REF": "web-7-inv", "SalesOrderNo": "", "SalesOrderRef": "web-7",
                                      "InvoiceDate": "20260302"}
    report = import_folder(folder, twin)
    assert report.refused == [] and len(report.manifests) == 2
    order_no = report.applied[0].documents["SalesOrderNo"]
    assert report.applied[1].documents == {"InvoiceNo": report.applied[1].documents["InvoiceNo"],
                                           "SalesOrderNo": order_no}


# --------------------------------------------------------------------------------- refusals


def two_file_batch(folder: Path, company: Path) -> Path:
    division, customer, [(invoice, balance)] = customer_with_open_invoices(company, 1)
    writer = vi_writer(folder)
    writer.upsert_customer(CustomerRecord(reference="c-9", division="01", name="Nine Ltd"))
    writer.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=balance)]))
    return writer.flush()


def test_a_tampered_file_is_refused_whole_and_the_batch_stays_pending(folder, company):
    manifest = two_file_batch(folder, company)
    receipts = only_file(folder, "ar_cash_receipts")
    receipts.write_bytes(receipts.read_bytes().replace(b"Ana Chen", b"Bob Chen"))
    before = dump(company)

    report = import_folder(folder, company)

    [refused] = report.refused
    assert refused.file == receipts.name and "sha256 differs" in refused.error and receipts.name in refused.error
    assert [r.operation for r in report.applied] == ["upsert_customer"]  # the untouched file goes in
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID='700001'") == [
        (0,)]
    assert dump(company) != before and not (folder / "imported" / manifest.name).exists()


def test_a_malformed_row_is_refused_with_the_file_and_line(folder, company):
    manifest = two_file_batch(folder, company)
    receipts = only_file(folder, "ar_cash_receipts")
    header, *rows = csv_rows(receipts)
    rows[1][header.index("PostingAmt")] = "12.34x"  # file line 3: the H record
    receipts.write_bytes(vi_layouts.csv_bytes(header, rows))
    content = json.loads(manifest.read_text())  # a producer bug, not tampering: the sha256 matches
    for entry in content["files"]:
        if entry["name"] == receipts.name:
            entry["sha256"] = vi_layouts.sha256_hex(receipts.read_bytes())
    manifest.write_text(json.dumps(content))

    report = import_folder(folder, company)

    [refused] = report.refused
    assert (refused.file, refused.line) == (receipts.name, 3)
    assert f"{receipts.name} line 3" in refused.error and "PostingAmt" in refused.error
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID='700001'") == [
        (0,)]


def test_a_document_sage_refuses_is_reported_and_the_rest_is_imported(folder, company):
    writer = vi_writer(folder)
    writer.store_vault_card(VaultCard(division="01", customer_no="NOBODY", credit_card_guid="g-1",
                                      payment_type="VISA", last4="1111", expiration_year=2029, expiration_month=7))
    writer.upsert_customer(CustomerRecord(reference="c-10", division="01", name="Ten Ltd"))
    manifest = writer.flush()

    report = import_folder(folder, company)

    [refused] = report.refused
    assert refused.reference == "g-1" and "NOBODY" in refused.error and refused.line == 2
    assert [r.reference for r in report.applied] == ["c-10"]
    assert not (folder / "imported" / manifest.name).exists()  # retried next run


# ------------------------------------------------------------------------------ confirmation


def test_confirm_reports_pending_until_imported_then_confirmed(folder, twin):
    DemoCompanyWriter(twin)  # adds the UDF_PAYTRACE_REF columns, as the one-time setup does at a real site
    writer = vi_writer(folder, twin)
    run_operations(writer, twin)
    manifest = writer.flush()

    before = writer.confirm(manifest)
    assert set(before.values()) == {"pending"} and len(before) == 13  # 14 documents, one customer written twice
    stored = json.loads((folder / f"confirmation-{manifest.stem.removeprefix('manifest-')}.json").read_text())
    assert stored["documents"] == before

    import_folder(folder, twin)
    after = writer.confirm(manifest)
    assert set(after.values()) == {"confirmed"} and after.keys() == before.keys()


def test_import_vi_command_applies_a_folder_once(company, tmp_path, capsys):
    from sage_paytrace_pipeline.cli import main

    division, customer, invoices = customer_with_open_invoices(company, count=2)
    folder = tmp_path / "vi"
    vi = VisualIntegratorWriter(folder)
    vi.post_card_receipt(receipt(division, customer, [ReceiptLine(invoice_no=number, amount=balance)
                                                      for number, balance in invoices], transaction_id="800001"))
    vi.flush()
    args = ["sandbox", "sage100", "import-vi", "--db", str(company), "--folder", str(folder)]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["applied"] == ["post_card_receipt 800001"] and first["refused"] == []
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == []
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = ?",
                 ("800001",))[0][0] == 2
