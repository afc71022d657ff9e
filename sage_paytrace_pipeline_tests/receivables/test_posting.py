"""`post_receipts` against a real demo company: each payment in Sage exactly once, logged, confirmed.

Receipts are planned the way the pipeline plans them (applications -> `plan_receipts` ->
`intent_for`), written by the real `DemoCompanyWriter` (or `VisualIntegratorWriter` files imported
by `import_visual_integrator_folder`) and read back by the real reader.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from sage_paytrace_pipeline.config import SageSettings
from sage_paytrace_pipeline.defs.receivables import checks
from sage_paytrace_pipeline.defs.receivables.assets import _read_back_checks
from sage_paytrace_pipeline.receivables.posting import (
    intent_for,
    intent_from_sage,
    intents_for,
    post_receipts,
    receipts_in_sage,
)
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.receivables.receipts import plan_receipts
from sage_paytrace_pipeline.sage100.visual_integrator import VisualIntegratorWriter
from sage_paytrace_pipeline.sandbox.sage100.vi_import import import_visual_integrator_folder
from sage_paytrace_pipeline_tests.receivables.conftest import DAY, applications, payments
from sage_paytrace_pipeline_tests.sage100.writer_support import NOW, dump, money, query

A, B, C = 7001, 7002, 7003


def open_invoices(company: Path) -> dict[tuple[str, str], list[tuple[str, Decimal]]]:
    """Open IN invoices (balance > 1.00) of active customers with at least two, by customer."""
    rows = query(company, """
        SELECT o.ARDivisionNo, o.CustomerNo, o.InvoiceNo, o.Balance FROM AR_OpenInvoice o
        JOIN AR_Customer c ON c.ARDivisionNo = o.ARDivisionNo AND c.CustomerNo = o.CustomerNo
        WHERE c.CustomerStatus = 'A' AND o.InvoiceType = 'IN' AND CAST(o.Balance AS NUMERIC) > 1
        ORDER BY o.ARDivisionNo, o.CustomerNo, o.InvoiceNo""")
    found: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for division, customer, invoice, balance in rows:
        found.setdefault((division, customer), []).append((invoice, money(balance)))
    return {key: invoices for key, invoices in found.items() if len(invoices) >= 2}


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def balance(company: Path, division: str, customer: str, invoice: str) -> Decimal:
    rows = query(company, "SELECT Balance FROM AR_OpenInvoice WHERE ARDivisionNo = ? AND CustomerNo = ? AND "
                          "InvoiceNo = ? AND InvoiceType = 'IN'", (division, customer, invoice))
    return money(rows[0][0])


class Day:
    """Three matched payments on two customers' open invoices, planned into receipts and intents."""

    def __init__(self, company: Path, *, overrides: dict[int, dict] | None = None) -> None:
        (first_key, first), (second_key, second) = list(open_invoices(company).items())[:2]
        (inv1, bal1), (inv2, _) = first[:2]
        (inv3, _) = second[0]
        rows = [
            {"transaction_id": A, "division": first_key[0], "customer_no": first_key[1], "invoice_no": inv1,
             "amount_cents": cents(bal1)},  # pays the invoice off
            {"transaction_id": A, "division": first_key[0], "customer_no": first_key[1], "invoice_no": inv2,
             "amount_cents": 1001},
            {"transaction_id": B, "division": second_key[0], "customer_no": second_key[1], "invoice_no": inv3,
             "amount_cents": 100},
            {"transaction_id": C, "division": second_key[0], "customer_no": second_key[1], "invoice_no": "PT07003",
             "invoice_type": "PP", "amount_cents": 2500, "method": "prepayment"},
        ]
        for row in rows:
            row.update((overrides or {}).get(row["transaction_id"], {}))
        self.applications = applications(*rows)
        self.payments = payments(*[{"transaction_id": tid, "amount_cents": int(amount)} for tid, amount in
                                   self.applications.groupby("transaction_id")["amount_cents"].sum().items()])
        plan = plan_receipts(self.applications, self.payments, SageSettings(), DAY)
        assert plan.exceptions.empty, plan.exceptions.to_dict("records")
        self.receipts = plan.receipts
        link = pd.Series({"method": "vault_id", "score": 100.0, "explanation": "vault id on file"})
        self.intents = {tid: intent_for(receipt, self.applications[self.applications["transaction_id"] == tid],
                                        link, DAY) for tid, receipt in self.receipts.items()}
        self.applied = [(row["division"], row["customer_no"], row["invoice_no"], row["amount_cents"])
                        for row in rows if row.get("method") != "prepayment"]


def state(log: PostingLog) -> dict[int, dict]:
    return {row["transaction_id"]: row for row in log.entries(business_date=DAY).to_dict("records")}


def history(company: Path, transaction_id: int) -> list[tuple]:
    return query(company, "SELECT DepositNo, CreditCardEntryNo, InvoiceNo, InvoiceType, CashAmountApplied "
                          "FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = ? ORDER BY SequenceNo",
                 (str(transaction_id),))


def assert_confirmed_as_in_sage(company: Path, log: PostingLog, transaction_id: int, *, found_in_sage: bool) -> None:
    row = state(log)[transaction_id]
    rows = history(company, transaction_id)
    assert {(deposit, entry) for deposit, entry, *_ in rows} == {(row["deposit_no"], row["entry_no"])}
    assert (row["state"], bool(row["found_in_sage"]), row["error"]) == ("confirmed", found_in_sage, None)


# ----------------------------------------------------------------------------------- posting


def test_each_receipt_is_written_once_confirmed_and_applied_to_the_cent(company, writer, reader, log):
    day = Day(company)
    before = {key[:3]: balance(company, *key[:3]) for key in day.applied}

    outcome = post_receipts(day.receipts, day.intents, writer=writer, reader=reader, log=log)

    assert (outcome.written, outcome.confirmed_existing, outcome.awaiting_import) == ([A, B, C], [], [])
    assert outcome.exceptions.empty
    for transaction_id in (A, B, C):
        assert_confirmed_as_in_sage(company, log, transaction_id, found_in_sage=False)
        assert len(receipts_in_sage(reader, [transaction_id])[transaction_id]) == 1
    rows = state(log)
    assert {tid: row["amount_cents"] for tid, row in rows.items()} == {A: day.intents[A].amount_cents, B: 100, C: 2500}
    assert {tid: row["payload_sha256"] for tid, row in rows.items()} == {
        tid: intent.payload_sha256 for tid, intent in day.intents.items()}
    for division, customer, invoice, applied_cents in day.applied:
        expected = before[division, customer, invoice] - Decimal(applied_cents) / 100
        assert balance(company, division, customer, invoice) == expected
    assert [(invoice, kind, money(amount)) for _, _, invoice, kind, amount in history(company, C)] == [
        ("PT07003", "PP", Decimal("25.00"))]
    # one card deposit for the day and payment type, described as configured
    deposits = query(company, "SELECT DISTINCT DepositNo, DepositDesc FROM AR_CashReceiptsHistory "
                              "WHERE CreditCardTransactionID IN ('7001', '7002', '7003')")
    assert [description for _, description in deposits] == ["PAYTRACE 2026-03-02 VISA"]


def test_posting_the_same_receipts_again_writes_nothing(company, writer, reader, log):
    day = Day(company)
    post_receipts(day.receipts, day.intents, writer=writer, reader=reader, log=log)
    sage_before, log_before = dump(company), state(log)

    again = post_receipts(day.receipts, day.intents, writer=writer, reader=reader,
                          log=PostingLog(log.connection, "run-2"))

    assert (again.written, again.confirmed_existing, again.awaiting_import) == ([], [A, B, C], [])
    assert again.exceptions.empty
    assert dump(company) == sage_before  # not one row of any Sage table changed
    assert state(log) == log_before  # the log keeps who confirmed it and when, and that it was not found


@pytest.mark.parametrize("planned", [True, False], ids=["intent-from-plan", "intent-from-sage"])
def test_receipt_in_sage_without_a_log_row_is_confirmed_not_written_again(company, writer, reader, log, planned):
    """A run died after Sage took the receipt but before the log recorded the intent."""
    day = Day(company)
    first = writer.post_card_receipt(day.receipts[A])
    intents = day.intents if planned else {tid: i for tid, i in day.intents.items() if tid != A}

    outcome = post_receipts(day.receipts, intents, writer=writer, reader=reader, log=log)

    assert (outcome.written, outcome.confirmed_existing) == ([B, C], [A])
    assert outcome.exceptions.empty
    assert len(history(company, A)) == 2  # its two lines, once
    assert_confirmed_as_in_sage(company, log, A, found_in_sage=True)
    row = state(log)[A]
    assert (row["deposit_no"], row["entry_no"]) == (first.documents["DepositNo"], first.documents["CreditCardEntryNo"])
    assert (row["customer_no"], row["amount_cents"]) == (day.receipts[A].customer_no, day.intents[A].amount_cents)
    if planned:
        assert row["payload_sha256"] == day.intents[A].payload_sha256
    else:  # rebuilt from what Sage holds
        assert row["payload_sha256"] == "" and json.loads(row["link_json"])["method"] == "found_in_sage"
        assert [(line["invoice_no"], line["amount_cents"]) for line in json.loads(row["applications_json"])] == [
            (line.invoice_no, cents(line.amount)) for line in day.receipts[A].lines]
    for transaction_id in (B, C):
        assert_confirmed_as_in_sage(company, log, transaction_id, found_in_sage=False)


def test_intent_logged_then_written_then_crash_is_confirmed_without_a_duplicate(company, writer, reader, log):
    day = Day(company)
    log.record_intents([day.intents[A]])
    writer.post_card_receipt(day.receipts[A])  # ... and the run died before recording it

    outcome = post_receipts(day.receipts, day.intents, writer=writer, reader=reader,
                            log=PostingLog(log.connection, "run-2"))

    assert (outcome.written, outcome.confirmed_existing) == ([B, C], [A])
    assert len(history(company, A)) == 2
    assert_confirmed_as_in_sage(company, log, A, found_in_sage=True)
    assert state(log)[A]["payload_sha256"] == day.intents[A].payload_sha256


def test_payments_posted_earlier_are_confirmed_from_sage_and_left_alone_after(company, writer, reader, log):
    """Matching carried A (Sage holds it); a new warehouse never logged it: its row is made from Sage."""
    day = Day(company)
    writer.post_card_receipt(day.receipts[A])
    planned = {tid: receipt for tid, receipt in day.receipts.items() if tid != A}
    intents = {tid: intent for tid, intent in day.intents.items() if tid != A}

    outcome = post_receipts(planned, intents, writer=writer, reader=reader, log=log, posted_earlier=[A])

    assert (outcome.written, outcome.confirmed_existing) == ([B, C], [])
    assert outcome.exceptions.empty and len(history(company, A)) == 2
    assert_confirmed_as_in_sage(company, log, A, found_in_sage=True)
    row = state(log)[A]
    assert (row["customer_no"], row["amount_cents"], row["payload_sha256"]) == (
        day.receipts[A].customer_no, day.intents[A].amount_cents, "")

    log_before = state(log)
    post_receipts({}, {}, writer=writer, reader=reader, log=PostingLog(log.connection, "run-2"),
                  posted_earlier=[A, B, C])
    assert state(log) == log_before


# --------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("override, problem, fix", [
    ({"amount_cents": None}, "is applied to invoice {invoice} whose open balance is {balance}",
     "apply at most {balance}"),
    ({"customer_no": "NOSUCH"}, "NOSUCH", ""),
], ids=["above-balance", "unknown-customer"])
def test_a_receipt_sage_refuses_is_rejected_and_the_others_are_posted(company, writer, reader, log, override,
                                                                      problem, fix):
    plain = Day(company)
    invoice, over = plain.receipts[B].lines[0].invoice_no, None
    if override.get("amount_cents", 0) is None:
        over = balance(company, plain.receipts[B].division, plain.receipts[B].customer_no, invoice)
        override = {"amount_cents": cents(over) + 1}  # one cent more than is open
    day = Day(company, overrides={B: override})
    sage_rows_of_b = query(company,
                           "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = '7002'")

    outcome = post_receipts(day.receipts, day.intents, writer=writer, reader=reader, log=log)

    assert outcome.written == [A, C]
    assert outcome.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["posting_rejected", "error", B]]
    rejection = outcome.exceptions.iloc[0]
    assert rejection["source_ids"] == "paytrace:7002 sage:post_card_receipt"
    text = {"invoice": invoice, "balance": f"{over:.2f}" if over is not None else ""}
    assert problem.format(**text) in rejection["problem"] and "nothing was written" in rejection["problem"]
    assert rejection["action"].startswith(fix.format(**text)) and rejection["action"].endswith("the next run posts it")
    assert query(company, "SELECT COUNT(*) FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID = '7002'") == \
        sage_rows_of_b == [(0,)]
    rows = state(log)
    assert rows[B]["state"] == "rejected" and problem.format(**text) in rows[B]["error"]
    for transaction_id in (A, C):
        assert_confirmed_as_in_sage(company, log, transaction_id, found_in_sage=False)

    # fixed in the plan, the next run posts it
    retry = post_receipts(plain.receipts, plain.intents, writer=writer, reader=reader,
                          log=PostingLog(log.connection, "run-2"))
    assert (retry.written, retry.confirmed_existing) == ([B], [A, C]) and retry.exceptions.empty
    assert_confirmed_as_in_sage(company, log, B, found_in_sage=False)


# ------------------------------------------------------------------------ Visual Integrator


def test_visual_integrator_files_wait_for_the_import_then_are_confirmed(company, reader, log, tmp_path):
    day = Day(company)
    folder = tmp_path / "vi"
    sage_before = dump(company)

    outcome = post_receipts(day.receipts, day.intents, writer=VisualIntegratorWriter(folder, reader, clock=lambda: NOW),
                            reader=reader, log=log)

    assert (outcome.written, outcome.confirmed_existing, outcome.awaiting_import) == ([A, B, C], [], [A, B, C])
    assert outcome.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["awaiting_sage_import", "info", tid] for tid in (A, B, C)]
    assert dump(company) == sage_before
    files = sorted(path.name for path in folder.iterdir())
    assert len(files) == 2 and files[1].startswith("manifest-")  # one CSV, one manifest: flushed
    for row in state(log).values():
        assert (row["state"], row["deposit_no"], row["entry_no"]) == ("written", None, None)
        assert json.loads(row["documents_json"])["File"] == files[0]

    # a re-run before Sage's import writes no second file and still waits
    waiting = post_receipts(day.receipts, day.intents, writer=VisualIntegratorWriter(folder, reader, clock=lambda: NOW),
                            reader=reader, log=PostingLog(log.connection, "run-2"))
    assert waiting.awaiting_import == [A, B, C] and sorted(p.name for p in folder.iterdir()) == files
    assert {row["state"] for row in state(log).values()} == {"written"}

    report = import_visual_integrator_folder(folder, company, clock=lambda: NOW)
    assert report.ok and len(report.applied) == 3
    after_import = sorted(path.name for path in folder.rglob("*"))

    confirmed = post_receipts(day.receipts, day.intents,
                              writer=VisualIntegratorWriter(folder, reader, clock=lambda: NOW),
                              reader=reader, log=PostingLog(log.connection, "run-3"))

    assert (confirmed.written, confirmed.confirmed_existing, confirmed.awaiting_import) == ([], [A, B, C], [])
    assert confirmed.exceptions.empty
    assert sorted(path.name for path in folder.rglob("*")) == after_import
    for transaction_id in (A, B, C):
        assert_confirmed_as_in_sage(company, log, transaction_id, found_in_sage=True)


# ----------------------------------------------------------------------- posted twice in Sage


def duplicate_in_history(company: Path, transaction_id: int, entry_no: str) -> None:
    """What a person re-keying the receipt in Sage leaves: the same transaction id under another entry."""
    connection = sqlite3.connect(company)
    try:
        with connection:
            connection.execute("CREATE TEMP TABLE copy AS SELECT * FROM AR_CashReceiptsHistory "
                               "WHERE CreditCardTransactionID = ?", (str(transaction_id),))
            connection.execute("UPDATE copy SET CreditCardEntryNo = ?", (entry_no,))
            connection.execute("INSERT INTO AR_CashReceiptsHistory SELECT * FROM copy")
    finally:
        connection.close()


def test_two_receipts_in_sage_for_one_transaction_are_an_exception(company, writer, reader, log):
    day = Day(company)
    post_receipts(day.receipts, day.intents, writer=writer, reader=reader, log=log)
    deposit, entry = state(log)[B]["deposit_no"], state(log)[B]["entry_no"]
    duplicate_in_history(company, B, "999999")
    sage_before = dump(company)

    outcome = post_receipts(day.receipts, day.intents, writer=writer, reader=reader,
                            log=PostingLog(log.connection, "run-2"))

    assert (outcome.written, outcome.confirmed_existing) == ([], [A, B, C])
    assert dump(company) == sage_before
    assert outcome.exceptions[["kind", "severity", "transaction_id"]].values.tolist() == [
        ["posted_twice_in_sage", "error", B]]
    twice = outcome.exceptions.iloc[0]
    pairs = sorted([f"{deposit}/{entry}", f"{deposit}/999999"])
    assert twice["source_ids"] == f"paytrace:7002 sage deposits:{', '.join(pairs)}"
    assert twice["problem"].startswith("Sage holds 2 receipts for transaction 7002")
    assert "never writes a second one" in twice["action"]


def test_the_assets_read_back_checks_equal_the_checks_on_one_look_up(company, writer, reader, log):
    """`_read_back_checks` (day by day, collector paused) gives what the checks give on Sage's receipts
    read at once, failing ones included, and leaves the collector as it found it."""
    day = Day(company)
    post_receipts(day.receipts, day.intents, writer=writer, reader=reader, log=log)
    duplicate_in_history(company, B, "999999")
    rows = log.entries(business_date=DAY).drop(columns=["business_date"])
    found = receipts_in_sage(reader, rows["transaction_id"].astype("int64").tolist())
    expected = (checks.no_transaction_posted_twice(found), checks.receipts_in_sage_match_log(rows, found))

    assert gc.isenabled()
    assert _read_back_checks(reader, rows) == expected
    assert not expected[0].passed and not expected[1].passed  # B twice: both fail
    assert gc.isenabled()


# ---------------------------------------------------------------------------- log records


def test_intent_for_records_what_is_sent(company):
    day = Day(company)
    receipt = day.receipts[A]
    intent = day.intents[A]

    assert intent.payload_sha256 == hashlib.sha256(receipt.model_dump_json().encode()).hexdigest()
    assert (intent.transaction_id, intent.business_date, intent.division, intent.customer_no, intent.payment_type) == (
        A, DAY, receipt.division, receipt.customer_no, "VISA")
    assert intent.amount_cents == cents(receipt.amount) == sum(cents(line.amount) for line in receipt.lines)
    lines = json.loads(intent.applications_json)
    assert [(line["invoice_no"], line["invoice_type"], line["amount_cents"]) for line in lines] == [
        (line.invoice_no, "IN", cents(line.amount)) for line in receipt.lines]
    assert {line["method"] for line in lines} == {"invoice_id_exact"} and type(lines[0]["amount_cents"]) is int
    assert json.loads(intent.link_json) == {"method": "vault_id", "score": 100.0, "explanation": "vault id on file"}
    apps = day.applications[day.applications["transaction_id"] == A]
    assert json.loads(intent_for(receipt, apps, None, DAY).link_json) == {}


def test_intent_from_sage_describes_the_receipt_sage_holds(company, writer, reader):
    day = Day(company)
    writer.post_card_receipt(day.receipts[A])
    [found] = receipts_in_sage(reader, [A, B])[A]

    intent = intent_from_sage(found, DAY)

    assert (intent.transaction_id, intent.division, intent.customer_no, intent.payment_type) == (
        A, day.receipts[A].division, day.receipts[A].customer_no, "VISA")
    assert intent.amount_cents == day.intents[A].amount_cents and intent.payload_sha256 == ""
    lines = json.loads(intent.applications_json)
    assert [(line["invoice_no"], line["invoice_type"], line["amount_cents"], line["method"]) for line in lines] == [
        (line.invoice_no, "IN", cents(line.amount), "found_in_sage") for line in day.receipts[A].lines]
    assert found.deposit_no in json.loads(intent.link_json)["explanation"]


def test_intents_for_a_day_equal_intent_for_each_receipt(company):
    """The column-wise `intents_for` (what a day's posting uses) records what `intent_for` records per receipt."""
    day = Day(company)
    with_link, without_link = sorted(day.receipts)[:2]
    links = pd.DataFrame({"transaction_id": [with_link, with_link], "method": ["vault_id", "email"],
                          "score": [100.0, float("nan")], "explanation": ["vault id on file", "second, ignored"]})
    intents = intents_for(day.receipts, day.applications, links, DAY)

    assert set(intents) == set(day.receipts)
    for tid, receipt in day.receipts.items():
        link = links.iloc[0] if tid == with_link else None
        assert intents[tid] == intent_for(receipt, day.applications[day.applications["transaction_id"] == tid],
                                          link, DAY), tid
    assert json.loads(intents[with_link].link_json)["method"] == "vault_id"
    assert json.loads(intents[without_link].link_json) == {}
