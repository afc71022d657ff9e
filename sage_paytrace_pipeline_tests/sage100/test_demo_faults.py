"""The demo company's injected faults: a write that fails inside its transaction writes nothing, and
a worker killed right after Sage commits leaves a receipt the next posting confirms, never repeats."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sage_paytrace_pipeline.receivables.posting import post_receipts, receipts_in_sage
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.sage100.demo_faults import (
    CRASH_EXIT_CODE,
    FAULTS_VARIABLE,
    fault_state,
    write_fault_file,
)
from sage_paytrace_pipeline.sage100.demo_writer import DemoCompanyWriter
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.errors import Sage100WriteError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import POST_CARD_RECEIPT
from sage_paytrace_pipeline_tests.receivables.test_posting import Day
from sage_paytrace_pipeline_tests.sage100.writer_support import (
    NOW,
    customer_with_open_invoices,
    dump,
    query,
    receipt,
)


def two_receipts(company: Path):
    division, customer, invoices = customer_with_open_invoices(company)
    return [receipt(division, customer, [ReceiptLine(invoice_no=invoice, amount=amount)], transaction_id=str(tid))
            for tid, (invoice, amount) in zip((810001, 810002), invoices)]


def test_unarmed_hooks_do_nothing(company, writer, monkeypatch):
    monkeypatch.delenv(FAULTS_VARIABLE, raising=False)
    assert all(writer.post_card_receipt(document).created for document in two_receipts(company))


def test_a_failing_write_in_the_middle_of_a_deposit_rolls_back_only_itself_and_fires_once(
        company, writer, tmp_path, monkeypatch):
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "fail", "at": 2}])
    monkeypatch.setenv(FAULTS_VARIABLE, str(faults))
    first, second = two_receipts(company)
    deposit = writer.post_card_receipt(first).documents["DepositNo"]
    before = dump(company)

    with pytest.raises(Sage100WriteError, match="injected"):
        writer.post_card_receipt(second)

    assert dump(company) == before, "the failed receipt left no row behind"
    assert writer.post_card_receipt(second).documents["DepositNo"] == deposit  # the retry joins the same deposit
    state = fault_state(faults)
    assert (state["created"], state["fired"]) == ({POST_CARD_RECEIPT: 2}, [0])


_KILLED_WORKER = """
import sys
from pathlib import Path

import duckdb
from sage_paytrace_pipeline.receivables.posting import post_receipts
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.sage100.demo_writer import DemoCompanyWriter
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline_tests.receivables.test_posting import Day

company, warehouse = sys.argv[1], sys.argv[2]
day = Day(Path(company))
with duckdb.connect(warehouse) as connection:
    post_receipts(day.receipts, day.intents, writer=DemoCompanyWriter(company), reader=Sage100Reader.for_sqlite(company),
                  log=PostingLog(connection, "killed-run"))
"""


def test_a_worker_killed_after_sage_commits_leaves_an_intent_the_next_run_confirms_without_writing(
        company, tmp_path, monkeypatch):
    DemoCompanyWriter(company)  # the UDF columns, before the worker's clock starts
    day = Day(company)  # planned on the untouched company, exactly as the worker plans it
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "crash", "at": 1}])
    warehouse = tmp_path / "warehouse.duckdb"
    worker = subprocess.run([sys.executable, "-c", _KILLED_WORKER, str(company), str(warehouse)], check=False,
                            env={**os.environ, FAULTS_VARIABLE: str(faults)}, capture_output=True)
    assert worker.returncode == CRASH_EXIT_CODE, worker.stderr.decode()[-2000:]

    reader = Sage100Reader.for_sqlite(company)
    first = min(day.receipts)
    assert list(receipts_in_sage(reader, list(day.receipts))) == [first], "Sage took the first receipt, then death"
    with duckdb.connect(str(warehouse)) as connection:
        log = PostingLog(connection, "re-run")
        assert log.entries(transaction_ids=[first])["state"].tolist() == ["intent"], "the warehouse never heard back"
        monkeypatch.delenv(FAULTS_VARIABLE, raising=False)
        outcome = post_receipts(day.receipts, day.intents, writer=DemoCompanyWriter(company, clock=lambda: NOW),
                                reader=reader, log=log)
        states = dict(zip(*log.entries(transaction_ids=list(day.receipts))[["transaction_id", "state"]].T.values))
    assert outcome.confirmed_existing == [first] and first not in outcome.written
    assert set(states.values()) == {"confirmed"}
    for transaction_id in day.receipts:
        documents = query(company, "SELECT DISTINCT DepositNo, CreditCardEntryNo FROM AR_CashReceiptsHistory "
                                   "WHERE CreditCardTransactionID = ?", (str(transaction_id),))
        assert len(documents) == 1, f"transaction {transaction_id} is in Sage {len(documents)} times"
