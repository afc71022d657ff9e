"""Post planned receipts to Sage exactly once: look up, log the intent, write, read back.

Sage is the authority on what is posted (CreditCardTransactionID on the receipt), the log is the
warehouse's record of it. Order per payment: (1) look the transaction id up in Sage — present
means posted earlier (perhaps by a run that died before logging it), so it is only confirmed;
(2) commit the intent to the log; (3) write through the writer, which checks Sage once more
inside its own transaction; (4) read back and confirm. A refusal by Sage is an exception row and
the other payments go on; any other failure stops the step, and the next run resumes at (1).
Steps (2)-(4) go chunk by chunk, not receipt by receipt: the writer takes a chunk in one
transaction (`ChunkedReceiptWriter`) and the log records the chunk's outcomes in one update
after that; a crash in between leaves intents that step (1) of the next run settles from Sage.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.receivables.collector import collector_paused
from sage_paytrace_pipeline.receivables.posting_log import Confirmation, Intent, PostingLog
from sage_paytrace_pipeline.sage100.documents import CardReceipt
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.models import PostedReceipt
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import ChunkedReceiptWriter, ReceiptOutcome, Sage100Writer

_APPLICATION_FIELDS = ["invoice_no", "invoice_type", "amount_cents", "method", "score", "explanation"]
_LINK_FIELDS = ["method", "score", "explanation"]
# With currency conversion the applications carry these too; the log keeps them with the lines.
_EXCHANGE_FIELDS = ["paytrace_amount_cents", "fx_rate"]
LOG_CHUNK = 500  # receipts a log update for writers that take one receipt a call


@dataclass(frozen=True)
class PostingOutcome:
    written: list[int]  # written to Sage by this run
    confirmed_existing: list[int]  # found in Sage before writing (posted earlier)
    awaiting_import: list[int]  # written as import files, not yet in Sage
    exceptions: pd.DataFrame


def intent_for(receipt: CardReceipt, applications: pd.DataFrame, link: pd.Series | None,
               business_date: date) -> Intent:
    """What the log records before the write; the hash proves later what exactly was sent."""
    link_fields = {} if link is None else {field: _plain(link[field]) for field in _LINK_FIELDS}
    lines = [{field: _plain(row[field]) for field in _application_fields(applications)}
             for _, row in applications.iterrows()]
    return _intent(receipt, lines, link_fields, business_date)


@collector_paused()
def intents_for(receipts: Mapping[int, CardReceipt], applications: pd.DataFrame, links: pd.DataFrame,
                business_date: date) -> dict[int, Intent]:
    """`intent_for` of every planned receipt at once: the applications and links read column-wise
    in one pass (a pandas row look-up per receipt cost more than writing the receipt)."""
    lines = _rows_by_transaction(applications, _application_fields(applications))
    first_links = {tid: rows[0] for tid, rows in _rows_by_transaction(links, _LINK_FIELDS).items()}
    return {tid: _intent(receipt, lines.get(tid, []), first_links.get(tid, {}), business_date)
            for tid, receipt in receipts.items()}


def _application_fields(applications: pd.DataFrame) -> list[str]:
    return _APPLICATION_FIELDS + [field for field in _EXCHANGE_FIELDS if field in applications.columns]


def _rows_by_transaction(frame: pd.DataFrame, fields: list[str]) -> dict[int, list[dict]]:
    """The frame's `fields` as JSON-safe dicts per transaction id, in the frame's order."""
    rows: dict[int, list[dict]] = defaultdict(list)
    if frame.empty:
        return rows
    columns = [frame[field].tolist() for field in fields]
    for position, tid in enumerate(frame["transaction_id"].tolist()):
        rows[int(tid)].append({field: _plain(column[position]) for field, column in zip(fields, columns, strict=True)})
    return rows


def _intent(receipt: CardReceipt, lines: list[dict], link_fields: dict, business_date: date) -> Intent:
    payload = receipt.model_dump_json()
    return Intent(
        transaction_id=int(receipt.transaction_id), business_date=business_date, division=receipt.division,
        customer_no=receipt.customer_no, amount_cents=decimal_to_cents(receipt.amount),
        payment_type=receipt.payment_type,
        payload_sha256=hashlib.sha256(payload.encode()).hexdigest(),
        applications_json=json.dumps(lines),
        link_json=json.dumps(link_fields),
    )


def post_receipts(receipts: dict[int, CardReceipt], intents: dict[int, Intent], *, writer: Sage100Writer,
                  reader: Sage100Reader, log: PostingLog, posted_earlier: Iterable[int] = (),
                  business_date: date | None = None) -> PostingOutcome:
    """Write `receipts` that Sage does not hold yet; confirm those it holds and `posted_earlier` ones
    (payments matching found in Sage already, which a new or restored warehouse may not have logged).
    `business_date` dates log rows made from Sage for receipts whose deposit date Sage does not show."""
    with collector_paused():
        return _post_receipts(receipts, intents, writer=writer, reader=reader, log=log, posted_earlier=posted_earlier,
                              business_date=business_date)


def _post_receipts(receipts: dict[int, CardReceipt], intents: dict[int, Intent], *, writer: Sage100Writer,
                   reader: Sage100Reader, log: PostingLog, posted_earlier: Iterable[int],
                   business_date: date | None) -> PostingOutcome:
    ids = sorted(set(receipts) | set(posted_earlier))
    in_sage = receipts_in_sage(reader, ids)
    problems = [_posted_twice(in_sage)]
    entries = log.entries(transaction_ids=ids)
    logged = set(entries["transaction_id"].tolist())
    settled = {(int(row.transaction_id), row.deposit_no, row.entry_no)  # confirmed by an earlier run: left as is
               for row in entries[entries["state"] == "confirmed"].itertuples(index=False)}
    log.record_confirmations([
        _confirmation(logged, intents.get(transaction_id), found[0], found_in_sage=True, business_date=business_date)
        for transaction_id, found in sorted(in_sage.items())
        if (transaction_id, found[0].deposit_no, found[0].entry_no) not in settled])
    to_write = [transaction_id for transaction_id in sorted(receipts) if transaction_id not in in_sage]
    log.record_intents([intents[transaction_id] for transaction_id in to_write])
    written, accepted = [], []  # created by this call / taken by the writer (created now or found by it)
    for outcomes in _write(writer, [receipts[transaction_id] for transaction_id in to_write]):
        taken, refused = {}, {}  # logged once the chunk is in Sage: one update each
        for receipt, outcome in outcomes:
            transaction_id = int(receipt.transaction_id)
            if isinstance(outcome, Sage100ValidationError):
                refused[transaction_id] = str(outcome)
                problems.append(_rejected(transaction_id, outcome))
                continue
            taken[transaction_id] = outcome.documents
            accepted.append(transaction_id)
            if outcome.created:  # created=False: the writer found it already (in Sage, or in a pending import file)
                written.append(transaction_id)
        log.record_outcomes(taken, refused)
    flush = getattr(writer, "flush", None)
    if callable(flush):  # Visual Integrator: the batch becomes files only now, atomically
        flush()
    read_back = receipts_in_sage(reader, accepted)
    logged_now = set(accepted)  # once, not once a receipt
    log.record_confirmations([_confirmation(logged_now, None, found[0], found_in_sage=False,
                                            business_date=business_date) for found in read_back.values()])
    awaiting = [transaction_id for transaction_id in accepted if transaction_id not in read_back]
    problems.append(_awaiting_import(awaiting))
    return PostingOutcome(written=written, confirmed_existing=sorted(set(in_sage) & set(receipts)),
                          awaiting_import=awaiting, exceptions=concat_exceptions(problems))


@collector_paused()
def receipts_in_sage(reader: Sage100Reader, transaction_ids: list[int]) -> dict[int, list[PostedReceipt]]:
    """Sage's receipts by PayTrace transaction id (entered or posted), in one chunked look-up (a day's
    read-back builds thousands of models: without the collector, as planning and posting)."""
    found: dict[int, list[PostedReceipt]] = defaultdict(list)
    for receipt in reader.receipts_for_transaction_ids(str(transaction_id) for transaction_id in transaction_ids):
        if receipt.transaction_id.isdigit():
            found[int(receipt.transaction_id)].append(receipt)
    return dict(found)


def intent_from_sage(receipt: PostedReceipt, business_date: date) -> Intent:
    """A log row for a receipt found in Sage that the log never saw (a crash before the intent)."""
    applications = [{"invoice_no": line.invoice_no, "invoice_type": line.invoice_type,  # as Sage holds it (PP too)
                     "amount_cents": decimal_to_cents(line.amount), "method": "found_in_sage", "score": 100.0,
                     "explanation": f"posted earlier: Sage deposit {receipt.deposit_no} applies {line.amount} "
                                    f"to {line.invoice_no}"} for line in receipt.lines]
    return Intent(
        transaction_id=int(receipt.transaction_id), business_date=business_date, division=receipt.division,
        customer_no=receipt.customer_no, amount_cents=decimal_to_cents(receipt.amount),
        payment_type=receipt.payment_type,
        payload_sha256="", applications_json=json.dumps(applications),
        link_json=json.dumps({"method": "found_in_sage", "score": 100.0,
                              "explanation": f"Sage receipt in deposit {receipt.deposit_no} is for "
                                             f"{receipt.division}-{receipt.customer_no}"}),
    )


def _write(writer: Sage100Writer, receipts: list[CardReceipt]) -> Iterator[list[ReceiptOutcome]]:
    """The writer's outcomes chunk by chunk, each chunk once the writer has taken it; a writer
    without `post_card_receipts` is called receipt by receipt. A failure other than a refusal is
    raised after the outcomes before it, so they are logged first."""
    if isinstance(writer, ChunkedReceiptWriter):
        yield from writer.post_card_receipts(receipts)
        return
    for start in range(0, len(receipts), LOG_CHUNK):
        outcomes: list[ReceiptOutcome] = []
        failure: Exception | None = None
        for receipt in receipts[start:start + LOG_CHUNK]:
            try:
                outcomes.append((receipt, writer.post_card_receipt(receipt)))
            except Sage100ValidationError as refusal:
                outcomes.append((receipt, refusal))
            except Exception as error:
                failure = error
                break
        yield outcomes
        if failure is not None:
            raise failure


def _confirmation(logged: set[int], intent: Intent | None, receipt: PostedReceipt, *,
                  found_in_sage: bool, business_date: date | None) -> Confirmation:
    """Confirmed; a payment the log never saw gets its row first (from the plan, else from Sage)."""
    transaction_id = int(receipt.transaction_id)
    if transaction_id not in logged and intent is None:
        intent = intent_from_sage(receipt, receipt.deposit_date or business_date or date.today())
    return Confirmation(transaction_id, deposit_no=receipt.deposit_no, entry_no=receipt.entry_no,
                        found_in_sage=found_in_sage, intent=None if transaction_id in logged else intent)


def _plain(value):
    """JSON-safe scalars from numpy/pandas values."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _rejected(transaction_id: int, refusal: Sage100ValidationError) -> pd.DataFrame:
    return make_exceptions(
        "posting_rejected", "error", pd.Series([transaction_id]),
        source_ids=f"paytrace:{transaction_id} sage:{refusal.operation}",
        problem=f"Sage refused the cash receipt for transaction {transaction_id}: {refusal.field}: {refusal.problem}; "
                "nothing was written",
        action=f"{refusal.fix}; the next run posts it",
    )


def _posted_twice(in_sage: dict[int, list[PostedReceipt]]) -> pd.DataFrame:
    twice = {transaction_id: found for transaction_id, found in in_sage.items() if len(found) > 1}
    if not twice:
        return concat_exceptions([])
    ids = pd.Series(list(twice))
    deposits = pd.Series([", ".join(f"{r.deposit_no}/{r.entry_no}" for r in found) for found in twice.values()])
    return make_exceptions(
        "posted_twice_in_sage", "error", ids,
        source_ids="paytrace:" + ids.astype(str) + " sage deposits:" + deposits,
        problem="Sage holds " + pd.Series([str(len(f)) for f in twice.values()]) + " receipts for transaction "
                + ids.astype(str) + " (deposit/entry " + deposits + "); the customer's balance is understated",
        action="Delete or reverse the duplicate receipt in Sage (AR Cash Receipts Entry, or an NSF reversal if "
               "posted); the pipeline never writes a second one itself",
    )


def _awaiting_import(transaction_ids: list[int]) -> pd.DataFrame:
    if not transaction_ids:
        return concat_exceptions([])
    ids = pd.Series(transaction_ids)
    return make_exceptions(
        "awaiting_sage_import", "info", ids, source_ids="paytrace:" + ids.astype(str),
        problem="the receipt for transaction " + ids.astype(str) + " is written as a Visual Integrator import file "
                "but is not in Sage yet",
        action="Run the Visual Integrator cash receipts import job in Sage; the next run confirms it",
    )
