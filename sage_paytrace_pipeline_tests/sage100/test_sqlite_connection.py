"""The demo company file after a crash: a process killed inside a Sage write leaves SQLite's rollback
journal (a hot journal) beside the file; the next read-only open must roll it back by itself, since a
crash may never need a person."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline_tests.sage100.writer_support import customer_with_open_invoices, dump, receipt

KILLED_INSIDE_A_WRITE = 87

_KILLED_WRITER = f"""
import os, sys
from sage_paytrace_pipeline.sage100.documents import CardReceipt
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter


class KilledInsideTheTransaction(DemoCompanyWriter):
    def _run(self, name, operation):
        def killed(session):
            # A small page cache spills the changed pages into the file before the commit, as a large
            # write does: the journal then holds the only copy of the old pages.
            session.connection.execute("PRAGMA cache_size = 2")
            operation(session)  # every row of the receipt is written, nothing is committed yet
            os._exit({KILLED_INSIDE_A_WRITE})
        return super()._run(name, killed)


KilledInsideTheTransaction(sys.argv[1]).post_card_receipt(CardReceipt.model_validate_json(sys.argv[2]))
"""


def test_a_process_killed_inside_a_write_leaves_a_file_the_read_only_reader_opens(company: Path):
    division, customer, invoices = customer_with_open_invoices(company)
    document = receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=amount)
                                            for invoice, amount in invoices], transaction_id="930001")
    DemoCompanyWriter(company)  # the UDF columns first, so the killed process only writes the receipt
    before = dump(company)
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(company), document.model_dump_json()],
                            capture_output=True, check=False)
    assert killed.returncode == KILLED_INSIDE_A_WRITE, killed.stderr.decode()[-2000:]
    journal = company.with_name(company.name + "-journal")
    assert journal.exists() and journal.stat().st_size > 0, "the kill left a hot journal"

    reader = Sage100Reader.for_sqlite(company)
    assert reader.receipt_for_transaction_id("930001") is None, "the unfinished receipt was rolled back"
    balances = {invoice.invoice_no: invoice.balance for invoice in reader.open_invoices(division, customer)}
    assert [balances[invoice] for invoice, _ in invoices] == [amount for _, amount in invoices]
    assert not journal.exists()
    assert dump(company) == before, "the file is as before the killed write"
    assert DemoCompanyWriter(company).post_card_receipt(document).created, "and the next run writes the receipt"
