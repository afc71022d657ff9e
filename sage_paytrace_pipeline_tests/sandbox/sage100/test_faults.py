"""The demo company's injected faults: only the fault-injecting writer fails; a write that fails inside
its transaction writes nothing, and a worker killed right after Sage commits leaves a receipt the next
posting confirms, never repeats."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import sage_paytrace_pipeline
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.receivables.posting import post_receipts, receipts_in_sage
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.sage100.documents import ReceiptLine
from sage_paytrace_pipeline.sage100.errors import Sage100WriteError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import POST_CARD_RECEIPT
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.faults import (
    CRASH_EXIT_CODE,
    FaultInjectingDemoWriter,
    fault_state,
    write_fault_file,
)
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


def test_the_plain_demo_writer_has_no_fault_hook(company, writer, tmp_path):
    """Rules waiting in a fault file change nothing for the demo writer: only the campaign's writer reads one."""
    write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "fail", "at": 1}])
    assert all(writer.post_card_receipt(document).created for document in two_receipts(company))
    assert fault_state(tmp_path / "faults.json")["fired"] == []


def test_no_production_path_reaches_a_fault_hook(company):
    """The code location's resource opens the plain writer, and only the campaign names the faulty one."""
    assert type(Sage100Resource(database=str(company)).open_writer()) is DemoCompanyWriter
    package = Path(sage_paytrace_pipeline.__file__).parent
    importers = sorted(str(path.relative_to(package)) for path in package.rglob("*.py")
                       if re.search(r"^\s*from \S+(sandbox\.sage100\.faults|\.faulty_sage) import",
                                    path.read_text(encoding="utf-8"), re.M))
    assert importers == ["sandbox/reliability/campaign.py", "sandbox/reliability/faulty_sage.py",
                         "sandbox/reliability/runs.py", "sandbox/reliability/worker.py"]


def test_a_failing_write_in_the_middle_of_a_deposit_rolls_back_only_itself_and_fires_once(company, tmp_path):
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "fail", "at": 2}])
    writer = FaultInjectingDemoWriter(company, faults_file=faults, clock=lambda: NOW)
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
import sage_paytrace_pipeline
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.receivables.posting import post_receipts
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.faults import FaultInjectingDemoWriter
from sage_paytrace_pipeline_tests.receivables.test_posting import Day

company, warehouse, faults = sys.argv[1], sys.argv[2], sys.argv[3]
day = Day(Path(company))
with duckdb.connect(warehouse) as connection:
    post_receipts(day.receipts, day.intents, writer=FaultInjectingDemoWriter(company, faults_file=faults),
                  reader=Sage100Reader.for_sqlite(company), log=PostingLog(connection, "killed-run"))
"""


def test_a_worker_killed_after_sage_commits_leaves_an_intent_the_next_run_confirms_without_writing(
        company, tmp_path):
    DemoCompanyWriter(company)  # the UDF columns, before the worker's clock starts
    day = Day(company)  # planned on the untouched company, exactly as the worker plans it
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "crash", "at": 1}])
    warehouse = tmp_path / "warehouse.duckdb"
    worker = subprocess.run([sys.executable, "-c", _KILLED_WORKER, str(company), str(warehouse), str(faults)],
                            check=False, capture_output=True)
    assert worker.returncode == CRASH_EXIT_CODE, worker.stderr.decode()[-2000:]

    reader = Sage100Reader.for_sqlite(company)
    everything = sorted(day.receipts)  # one chunk: committed together, then death
    assert list(receipts_in_sage(reader, everything)) == everything, "Sage took the chunk, then death"
    with duckdb.connect(str(warehouse)) as connection:
        log = PostingLog(connection, "re-run")
        assert log.entries(transaction_ids=everything)["state"].tolist() == ["intent"] * len(everything), \
            "the warehouse never heard back"
        outcome = post_receipts(day.receipts, day.intents, writer=DemoCompanyWriter(company, clock=lambda: NOW),
                                reader=reader, log=log)
        states = dict(zip(*log.entries(transaction_ids=list(day.receipts))[["transaction_id", "state"]].T.values))
    assert outcome.confirmed_existing == everything and outcome.written == []
    assert set(states.values()) == {"confirmed"}
    for transaction_id in day.receipts:
        documents = query(company, "SELECT DISTINCT DepositNo, CreditCardEntryNo FROM AR_CashReceiptsHistory "
                                   "WHERE CreditCardTransactionID = ?", (str(transaction_id),))
        assert len(documents) == 1, f"transaction {transaction_id} is in Sage {len(documents)} times"


def test_a_worker_killed_inside_a_chunk_leaves_nothing_of_it_and_the_replay_posts_each_receipt_once(
        company, tmp_path):
    """Killed after the 2nd receipt is entered, before the chunk commits: nothing of the chunk is in Sage
    (its rows are written at once before the commit, so the file may be untouched; a hot journal, when
    there is one, is rolled back by the next connection), the log holds intents only, and the replay
    writes each once."""
    DemoCompanyWriter(company)
    day = Day(company)
    before = dump(company)
    faults = write_fault_file(tmp_path / "faults.json", [{"operation": POST_CARD_RECEIPT, "kind": "kill", "at": 2}])
    warehouse = tmp_path / "warehouse.duckdb"
    worker = subprocess.run([sys.executable, "-c", _KILLED_WORKER, str(company), str(warehouse), str(faults)],
                            check=False, capture_output=True)
    assert worker.returncode == CRASH_EXIT_CODE, worker.stderr.decode()[-2000:]

    reader = Sage100Reader.for_sqlite(company)  # rolls a hot journal back on its first read
    assert receipts_in_sage(reader, sorted(day.receipts)) == {}
    assert dump(company) == before, "nothing of the chunk is in Sage"
    with duckdb.connect(str(warehouse)) as connection:
        log = PostingLog(connection, "re-run")
        assert set(log.entries(transaction_ids=sorted(day.receipts))["state"]) == {"intent"}
        outcome = post_receipts(day.receipts, day.intents, writer=DemoCompanyWriter(company, clock=lambda: NOW),
                                reader=reader, log=log)
        states = set(log.entries(transaction_ids=sorted(day.receipts))["state"])
    assert (outcome.written, outcome.confirmed_existing, states) == (sorted(day.receipts), [], {"confirmed"})
    for transaction_id in day.receipts:
        documents = query(company, "SELECT DISTINCT DepositNo, CreditCardEntryNo FROM AR_CashReceiptsHistory "
                                   "WHERE CreditCardTransactionID = ?", (str(transaction_id),))
        assert len(documents) == 1, f"transaction {transaction_id} is in Sage {len(documents)} times"
