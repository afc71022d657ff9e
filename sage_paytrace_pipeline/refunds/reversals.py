"""Voids after posting: a voided sale's receipt and a voided refund's Sage refund, each reversed once.

- A sale PayTrace shows VOIDED whose receipt Sage holds (posted intraday before the void): its money
  never arrives (the sale is in no batch), so `reverse_card_receipt` (reference ``PT-V<sale id>``)
  reinstates the invoice and credits card clearing back. Not when the sale was voided through a
  Sage request (R2's flow records that void as a card refund ``V<sale id>`` against the clerk's
  memo), nor for voided authorizations or sales never posted.
- A REFUND PayTrace shows VOIDED that Sage recorded: `reverse_card_refund` (``PT-VR<refund id>``)
  gives the credit back and takes the refund out of clearing.

Same log discipline as refunds (refunds/posting_log.py): intent before the write, written, then
confirmed by reading the reference back (one read for all).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.refunds.plan import (
    receipt_reversal_reference,
    refund_reversal_reference,
    request_void_key,
    voided_refunds_to_reverse,
    voided_sales_to_reverse,
)
from sage_paytrace_pipeline.refunds.paytrace_to_sage import Problem
from sage_paytrace_pipeline.refunds.posting_log import RefundIntent, RefundLog
from sage_paytrace_pipeline.sage100.documents import DocumentResult, ReceiptReversal, RefundReversal
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.models import PostedReceipt, RecordedRefund
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

RECEIPT_REVERSAL = "receipt_reversal"
REFUND_REVERSAL = "refund_reversal"
_REQUEST_VOID_STATES = ("sent", "confirmed", "recorded")


@dataclass
class ReversalOutcome:
    receipts_reversed: list[int] = field(default_factory=list)
    refunds_reversed: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def sales_voided_by_requests(connection: duckdb.DuckDBPyConnection, sale_ids: Iterable[int]) -> set[int]:
    """Sales the Sage -> PayTrace flow voided (pipeline.refund_requests, action 'void'); none before it exists."""
    wanted = sorted(set(sale_ids))
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'refund_requests'").fetchall()[0][0]
    if not wanted or not exists:
        return set()
    frame = pd.DataFrame({"sale_transaction_id": pd.Series(wanted, dtype="int64")})
    connection.register("voided_sales", frame)
    try:
        rows = connection.execute(
            "SELECT DISTINCT r.sale_transaction_id FROM pipeline.refund_requests r JOIN voided_sales "
            f"USING (sale_transaction_id) WHERE r.action = 'void' AND r.state IN {_REQUEST_VOID_STATES}").fetchall()
    finally:
        connection.unregister("voided_sales")
    return {int(row[0]) for row in rows}


def reverse_voids(transactions: pd.DataFrame, *, day: date, reader: Sage100Reader, writer: Sage100Writer,
                  log: RefundLog, voided_by_requests: Callable[[Iterable[int]], set[int]]) -> ReversalOutcome:
    """Reverse, once, the Sage documents of the day's sales and refunds PayTrace voided after they posted."""
    outcome = ReversalOutcome()
    voided = _voided_ids(transactions)
    if not voided:
        return outcome
    receipts = {int(r.transaction_id): r for r in reader.receipts_for_transaction_ids(map(str, voided))
                if r.transaction_id.isdigit()}
    refunds = {int(r.transaction_id): r for r in reader.card_refunds_for_transaction_ids(map(str, voided))
               if r.transaction_id.isdigit()}
    request_voids = reader.card_refunds_for_transaction_ids(request_void_key(s) for s in receipts)
    by_request = voided_by_requests(receipts) | {int(r.transaction_id[1:]) for r in request_voids}
    references = [receipt_reversal_reference(s) for s in receipts] + [refund_reversal_reference(r) for r in refunds]
    reversed_already = reader.reversals_for_references(references)
    sales = voided_sales_to_reverse(transactions, receipts, by_request, reversed_already)
    voided_refunds = voided_refunds_to_reverse(transactions, refunds, reversed_already)
    _confirm_found(log, receipts, refunds, reversed_already, day)
    for sale_id in sales:
        receipt = receipts[sale_id]
        receipt_reversal = ReceiptReversal(reference=receipt_reversal_reference(sale_id), transaction_id=str(sale_id),
                                           reversal_date=day, comment="voided in PayTrace")
        intent = RefundIntent(sale_id, RECEIPT_REVERSAL, sale_id, receipt.division, receipt.customer_no,
                              decimal_to_cents(receipt.amount), day, {})
        if _write(log, intent, partial(writer.reverse_card_receipt, receipt_reversal), outcome):
            outcome.receipts_reversed.append(sale_id)
    for refund_id in voided_refunds:
        refund = refunds[refund_id]
        refund_reversal = RefundReversal(reference=refund_reversal_reference(refund_id),
                                         transaction_id=str(refund_id), reversal_date=day,
                                         comment="refund voided in PayTrace")
        intent = RefundIntent(refund_id, REFUND_REVERSAL, None, refund.division, refund.customer_no,
                              decimal_to_cents(refund.amount), day, {})
        if _write(log, intent, partial(writer.reverse_card_refund, refund_reversal), outcome):
            outcome.refunds_reversed.append(refund_id)
    _read_back(reader, log, outcome)
    return outcome


def _voided_ids(transactions: pd.DataFrame) -> list[int]:
    if transactions.empty:
        return []
    status = transactions["status"].astype("string").fillna("").str.upper()
    return sorted(set(transactions.loc[status == "VOIDED", "transaction_id"].astype("int64").tolist()))


def _write(log: RefundLog, intent: RefundIntent, call: Callable[[], DocumentResult], outcome: ReversalOutcome) -> bool:
    log.record_intent(intent)
    try:
        result = call()
    except Sage100ValidationError as exc:
        log.record_rejected(intent.transaction_id, intent.kind, str(exc))
        what = "receipt of sale" if intent.kind == RECEIPT_REVERSAL else "refund"
        outcome.problems.append(Problem(
            f"{intent.kind}_rejected_by_sage", "error", intent.transaction_id, f"paytrace:{intent.transaction_id}",
            f"Sage refused to reverse the {what} {intent.transaction_id} PayTrace voided: {exc.problem}",
            exc.fix or "reverse it in Sage by hand"))
        return False
    log.record_written(intent.transaction_id, intent.kind, dict(result.documents))
    return True


def _confirm_found(log: RefundLog, receipts: dict[int, PostedReceipt], refunds: dict[int, RecordedRefund],
                   reversed_already: set[str], day: date) -> None:
    """Reversals Sage holds already (an earlier run, or its lost answer): the log says confirmed."""
    for kind, reference, found in ((RECEIPT_REVERSAL, receipt_reversal_reference, receipts),
                                   (REFUND_REVERSAL, refund_reversal_reference, refunds)):
        for transaction_id in found:
            if reference(transaction_id) not in reversed_already or log.state_of(transaction_id, kind) == "confirmed":
                continue
            document = found[transaction_id]
            if log.state_of(transaction_id, kind) is None:
                sale = transaction_id if kind == RECEIPT_REVERSAL else None
                log.record_intent(RefundIntent(transaction_id, kind, sale, document.division, document.customer_no,
                                               decimal_to_cents(document.amount), day, {}))
            log.record_confirmed(transaction_id, kind)


def _read_back(reader: Sage100Reader, log: RefundLog, outcome: ReversalOutcome) -> None:
    wanted = {receipt_reversal_reference(s): (s, RECEIPT_REVERSAL) for s in outcome.receipts_reversed}
    wanted |= {refund_reversal_reference(r): (r, REFUND_REVERSAL) for r in outcome.refunds_reversed}
    if not wanted:
        return
    for reference in reader.reversals_for_references(wanted):
        transaction_id, kind = wanted[reference]
        log.record_confirmed(transaction_id, kind)
