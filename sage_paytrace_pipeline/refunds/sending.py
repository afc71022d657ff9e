"""Send approved refund requests to PayTrace exactly once, then record them in Sage against the clerk's memo.

For each request ready to go (approved, or waiting for its sale's batch to settle):

1. what remains of the sale = its amount - PayTrace refunds of it in the warehouse (one query of
   `pipeline.paytrace_transactions`) - requests in flight (sent/confirmed/recorded, not yet in the
   warehouse); the sale itself is re-read (`export_transaction`) just before the call;
2. the domain decides (domain/refunds/requests.py): void the untouched unsettled sale, refund a
   settled one, wait for the batch, or refuse (above what remains: `refund_above_remaining`);
3. dry run: an event saying what would be sent, nothing sent;
4. `sent` (with the action and the SPR invoice_id) is committed, then the call is made;
   817 / 818 -> the sale is re-read once and the other call made (never a loop); a decline ->
   `failed` with PayTrace's message; a lost answer is settled by the client's own look-up (same
   invoice_id); an outcome still unknown leaves the request `sent`, and the next run finds it by
   its invoice_id (warehouse, then PayTrace's export) before anything is sent again;
5. `confirmed` (the refund id; for a void the sale id), then `record_card_refund` in Sage against
   the memo, CreditCardTransactionID = the refund id, or "V<sale id>" for a void -> `recorded`.

The refund always goes to the sale's own card: `refund_transaction` refunds the original
transaction, and a void cancels it; no card or customer is ever given.

Under a currency conversion (`RequestConversion`) the memo is in Sage's currency and PayTrace
refunds in its own: the memo is converted back at the rate the sale's receipt recorded (README
"Currencies"), just before step 2. The memo that takes the rest of what the receipt debited (a whole
receipt, or the last part of one) refunds the rest of the sale exactly; any other memo is memo / rate
rounded half up to the cent, never above what remains of the sale (a rounding cent is capped). A
memo above what remains of the receipt in Sage's currency is `refund_above_remaining`; a sale whose
receipt recorded no rate is `missing_exchange_rate`; nothing is sent for either. The PayTrace amount
and the rate are kept on the request (`paytrace_amount_cents`, `fx_rate`), the card refund in Sage
credits the memo's own amount.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from sage_paytrace_pipeline.domain.currency import (
    MISSING_EXCHANGE_RATE,
    SaleExchange,
    convert_back_cents,
    convert_cents,
)
from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents, format_decimal
from sage_paytrace_pipeline.domain.refunds.requests import (
    APPROVED,
    CONFIRMED,
    FAILED,
    IN_FLIGHT_STATES,
    RECORDED,
    SENT,
    WAITING_FOR_SETTLEMENT,
    Action,
    Decision,
    SaleSnapshot,
    decide,
    fallback,
    void_key,
)
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceDeclined,
    PayTraceError,
    PayTraceNotRefundable,
    PayTraceNotVoidable,
)
from sage_paytrace_pipeline.paytrace.models import Transaction, TransactionStatus
from sage_paytrace_pipeline.refunds.remaining import sale_snapshot
from sage_paytrace_pipeline.refunds.request_store import RefundRequest, RequestStore
from sage_paytrace_pipeline.sage100.documents import CardRefund
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

EXCEPTIONS = ExceptionFrames("transaction_id")
SYSTEM = "pipeline"
READY = (APPROVED, WAITING_FOR_SETTLEMENT)


@dataclass(frozen=True)
class RequestConversion:
    """PayTrace's currency -> Sage's: each sale's receipt as recorded (sale ids -> SaleExchange; a sale
    whose receipt the log does not hold is absent), and the two currency codes (PayTrace's, Sage's)."""

    sale_receipts: Callable[[list[int]], Mapping[int, SaleExchange]]
    currencies: tuple[str, str]


@dataclass
class SendOutcome:
    sent: list[dict] = field(default_factory=list)  # one per money call made (or adopted) this run
    would_send: list[dict] = field(default_factory=list)  # dry run
    recorded: list[str] = field(default_factory=list)
    exception_frames: list[pd.DataFrame] = field(default_factory=list)

    @property
    def exceptions(self) -> pd.DataFrame:
        return EXCEPTIONS.concat(self.exception_frames)


class RequestSender:
    """One run's sending: the store, PayTrace, Sage and the warehouse's refunds (read once)."""

    def __init__(self, store: RequestStore, client: PayTraceClient, writer: Sage100Writer, *,
                 refunds: pd.DataFrame, today: date, dry_run: bool, disputed: Mapping[int, str] | None = None,
                 conversion: RequestConversion | None = None) -> None:
        self.store = store
        self.conversion = conversion
        self.receipts: Mapping[int, SaleExchange] = {}
        # Sale id -> its open dispute case: the chargeback took the money back already, a refund would
        # lose it twice (disputes.md §5), so nothing is sent while the case is open.
        self.disputed = dict(disputed or {})
        self.client = client
        self.writer = writer
        self.refunds = refunds
        self.today = today
        self.dry_run = dry_run
        self.outcome = SendOutcome()

    def run(self) -> SendOutcome:
        if self.conversion is not None:  # one read for every sale about to be sent
            sales = sorted({r.sale_transaction_id for r in self.store.all() if r.sale_transaction_id is not None
                            and r.state in (*READY, SENT)})
            self.receipts = self.conversion.sale_receipts(sales) if sales else {}
        for request in self.store.all(SENT):
            self._resolve_sent(request)
        for request in self.store.all():
            if request.state in READY and request.sale_transaction_id is not None:
                self._send(request)
        for request in self.store.all(CONFIRMED):
            self._record(request)
        return self.outcome

    # -------------------------------------------------------------- amounts

    def snapshot(self, request: RefundRequest, sale: Transaction) -> SaleSnapshot:
        """The sale's status (just re-read), what PayTrace refunded of it and what is in flight."""
        return sale_snapshot(request, self.store.all(), self.refunds, transaction_id=sale.transaction_id,
                             status=sale.status.value, amount_cents=decimal_to_cents(sale.amount),
                             invoice_id=sale.invoice_id, card_last4=sale.card.last4 if sale.card else None)

    # -------------------------------------------------------------- currency

    def _in_paytrace_currency(self, request: RefundRequest, snapshot: SaleSnapshot) -> RefundRequest | None:
        """The request with its PayTrace amount and rate (stored when they changed), or None after its
        exception (no rate recorded, or above what remains of the receipt): nothing is sent."""
        assert self.conversion is not None and request.sale_transaction_id is not None
        sale_id = request.sale_transaction_id
        paytrace, sage = self.conversion.currencies
        receipt = self.receipts.get(sale_id)
        if receipt is None or receipt.rate is None:
            self._fail(request, MISSING_EXCHANGE_RATE,
                       f"sale {sale_id}'s receipt recorded no {paytrace}->{sage} rate (posted before the conversion "
                       f"or entered in Sage), so the {paytrace} amount of this {sage} memo is not known; nothing was "
                       "sent", f"delete the credit memo in Sage (or remove its card payment type) and refund the sale "
                       f"from PayTrace's virtual terminal in {paytrace}: the pipeline then records that refund in Sage "
                       "with its own credit memo, converted at the refund day's rate")
            return None
        rate = receipt.rate
        others = [r for r in self.store.all() if r.sale_transaction_id == sale_id and r.request_id != request.request_id
                  and r.action == "refund" and r.state in (*IN_FLIGHT_STATES, RECORDED)]
        # what the receipt debited, less what the sale's refunds so far credit back in Sage: the memos of
        # the other requests, and the PayTrace-side refunds at the sale's rate (as the refund flow records them)
        sage_rest = receipt.sage_cents - sum(r.amount_cents for r in others) \
            - convert_cents(snapshot.refunded_in_paytrace_cents, rate)
        if request.amount_cents > sage_rest:
            self._fail(request, "refund_above_remaining",
                       f"{_amount(request.amount_cents, sage)} is above what remains of sale {sale_id}'s receipt: "
                       f"{_amount(max(sage_rest, 0), sage)} of {_amount(receipt.sage_cents, sage)} (at the sale's "
                       f"rate {rate}); nothing was sent",
                       "lower the credit memo to what remains (a new memo) or check the refunds already made for "
                       "this sale; nothing was sent")
            return None
        remaining = snapshot.remaining_cents
        if request.amount_cents == sage_rest and remaining > 0:
            cents = remaining  # the rest of the receipt: the rest of the sale, to the cent
        else:
            cents = convert_back_cents(request.amount_cents, rate)
            cents = min(cents, remaining) if remaining > 0 else cents  # a rounding cent never sends more
        if request.paytrace_amount_cents == cents and request.fx_rate == str(rate):
            return request
        return self.store.note(request.request_id, actor=SYSTEM, paytrace_amount_cents=cents, fx_rate=str(rate),
                               reason=f"{_amount(request.amount_cents, sage)} is {_amount(cents, paytrace)} at sale "
                                      f"{sale_id}'s rate {rate} ({sage} per 1 {paytrace})")

    # -------------------------------------------------------------- sending

    def _send(self, request: RefundRequest) -> None:
        sale_id = request.sale_transaction_id
        assert sale_id is not None
        if sale_id in self.disputed:
            self._problem(request, "refund_blocked_sale_disputed", "error",
                          f"sale {sale_id} is under dispute (case {self.disputed[sale_id]}): the chargeback took the "
                          "money back already, a refund would give it twice",
                          "leave the refund unsent; answer or accept the case (sage-paytrace disputes list), and "
                          "reject this request if the case is lost or accepted")
            return
        try:
            sale = self.client.export_transaction(sale_id, include_bin=False)
        except PayTraceError as exc:
            self._problem(request, "refund_sale_unreadable", "error", f"sale {sale_id} could not be read: {exc}",
                          "check the PayTrace connection; the next run tries again")
            return
        snapshot = self.snapshot(request, sale)
        if self.conversion is not None:
            converted = self._in_paytrace_currency(request, snapshot)
            if converted is None:
                return
            request = converted
        decision = decide(snapshot, request.paytrace_cents)
        if decision.action == "refuse":
            self._refuse(request, decision)
        elif decision.action == "wait":
            if request.state != WAITING_FOR_SETTLEMENT:
                self.store.transition(request.request_id, WAITING_FOR_SETTLEMENT, actor=SYSTEM, reason=decision.reason)
        elif self.dry_run:
            self.store.note(request.request_id, actor=SYSTEM, reason=f"dry run: would {decision.action} "
                            f"{_dollars(request.paytrace_cents)} of sale {sale_id} ({decision.reason})")
            self.outcome.would_send.append(self._row(request, decision.action))
        else:
            self._call(request, decision.action, first=True)

    def _call(self, request: RefundRequest, action: Action, *, first: bool) -> None:
        sale_id = request.sale_transaction_id
        assert sale_id is not None
        paytrace_id = sale_id if action == "void" else None
        if request.state != SENT:
            request = self.store.transition(request.request_id, SENT, actor=SYSTEM, action=action,
                                            paytrace_transaction_id=paytrace_id,
                                            reason=f"sending {action} of sale {sale_id} "
                                                   f"(invoice_id {request.invoice_id})")
        elif request.action != action:
            request = self.store.note(request.request_id, actor=SYSTEM, action=action,
                                      paytrace_transaction_id=paytrace_id,
                                      reason=f"PayTrace refused the {request.action}: sending {action} instead")
        try:
            if action == "void":
                result = self.client.void(sale_id)
                money_id = sale_id
            else:
                result = self.client.refund_transaction(sale_id, cents_to_decimal(request.paytrace_cents),
                                                        invoice_id=request.invoice_id)
                money_id = result.transaction_id or 0
        except (PayTraceNotRefundable, PayTraceNotVoidable) as exc:
            self._fall_back(request, action, exc, first=first)
            return
        except PayTraceDeclined as exc:
            self._fail(request, "refund_declined", f"PayTrace declined the {action}: {exc.approval_message or exc}",
                       "call the customer; refund by another means (check) after voiding the credit memo's card "
                       "payment type")
            return
        except PayTraceError as exc:  # outcome unknown after the client's own look-up: stays `sent`
            self._problem(request, "refund_outcome_unknown", "error",
                          f"the {action} of sale {sale_id} was sent but its outcome is unknown: {exc}",
                          f"nothing is sent again until the outcome is found; the next run looks up invoice_id "
                          f"{request.invoice_id} in PayTrace")
            return
        how = " (found by look-up after a lost answer)" if result.adopted else ""
        self.store.transition(request.request_id, CONFIRMED, actor=SYSTEM, paytrace_transaction_id=money_id,
                              reason=f"PayTrace approved the {action}: transaction {money_id}{how}")
        self.outcome.sent.append({**self._row(request, action), "paytrace_transaction_id": money_id,
                                  "adopted": result.adopted})

    def _fall_back(self, request: RefundRequest, action: Action, exc: PayTraceError, *, first: bool) -> None:
        code = 817 if isinstance(exc, PayTraceNotRefundable) else 818
        sale_id = request.sale_transaction_id
        assert sale_id is not None
        fresh: Decision | None = None
        if first:
            try:
                fresh = decide(self.snapshot(request, self.client.export_transaction(sale_id, include_bin=False)),
                               request.paytrace_cents)
            except PayTraceError:
                fresh = None
        other = fallback(action, code, fresh) if fresh is not None else None
        if other == "wait":
            self.store.transition(request.request_id, WAITING_FOR_SETTLEMENT, actor=SYSTEM, action="",
                                  paytrace_transaction_id=None,
                                  reason=f"PayTrace answered {code} to the {action}: {fresh.reason if fresh else ''}")
        elif other is not None:
            self._call(request, other, first=False)
        else:
            self._fail(request, "refund_refused_by_paytrace",
                       f"PayTrace refused the {action} of sale {sale_id} ({code}: {exc.message})"
                       + ("" if first else " after the other call was refused too"),
                       "look the sale up in PayTrace's virtual terminal; refund it there if still due, then record "
                       "the refund against the credit memo")

    # -------------------------------------------------------------- a `sent` request from an earlier run

    def _resolve_sent(self, request: RefundRequest) -> None:
        """The answer of an earlier run's call was lost (or the run died): find it before any resend."""
        sale_id = request.sale_transaction_id
        assert sale_id is not None
        try:
            if request.action == "void":
                sale = self.client.export_transaction(sale_id, include_bin=False)
                found = sale_id if sale.status is TransactionStatus.VOIDED else None
            else:
                found = self._find_refund(request)
        except PayTraceError as exc:
            self._problem(request, "refund_outcome_unknown", "error",
                          f"the {request.action} of sale {sale_id} is unresolved and the look-up failed: {exc}",
                          "nothing is sent again until the outcome is found; the next run looks again")
            return
        if found is not None:
            self.store.transition(request.request_id, CONFIRMED, actor=SYSTEM, paytrace_transaction_id=found,
                                  reason=f"found in PayTrace after a lost answer: transaction {found}")
            self.outcome.sent.append({**self._row(request, request.action), "paytrace_transaction_id": found,
                                      "adopted": True})
        elif not self.dry_run:
            # PayTrace holds no trace of it: the earlier call never committed, so it is decided and made
            # now, from the sale as it is now (it may have settled meanwhile)
            self._send(request)

    def _find_refund(self, request: RefundRequest) -> int | None:
        known = self.refunds[self.refunds["invoice_id"] == request.invoice_id]
        if len(known):
            return int(known["transaction_id"].iloc[0])
        today = self.client.server_today()
        start = min(request.updated_at.date(), today) - timedelta(days=1)
        records = [t for t in self.client.export_transactions(start, today + timedelta(days=1),
                                                              including_text=request.invoice_id, include_bin=False)
                   if t.invoice_id == request.invoice_id and t.transaction_type == "REFUND"
                   and t.status not in (TransactionStatus.DECLINED, TransactionStatus.VOIDED)]
        if len(records) > 1:
            ids = ", ".join(str(t.transaction_id) for t in records)
            raise PayTraceError(f"{len(records)} refunds carry invoice_id {request.invoice_id} ({ids})")
        return records[0].transaction_id if records else None

    # -------------------------------------------------------------- Sage

    def _record(self, request: RefundRequest) -> None:
        """The card refund in Sage, consuming the clerk's memo; idempotent by the transaction id."""
        if request.paytrace_transaction_id is None or request.sale_transaction_id is None:
            return
        void = request.action == "void"
        key = void_key(request.sale_transaction_id) if void else str(request.paytrace_transaction_id)
        refund = CardRefund(transaction_id=key, division=request.division, customer_no=request.customer_no,
                            refund_date=self.today, amount=cents_to_decimal(request.amount_cents),
                            payment_type=request.payment_type, credit_memo_no=request.memo_no,
                            comment=f"{request.action} of sale {request.sale_transaction_id}")
        try:
            result = self.writer.record_card_refund(refund)
        except Sage100ValidationError as exc:
            self._problem(request, "refund_not_recorded", "error",
                          f"PayTrace {'voided' if request.action == 'void' else 'refunded'} "
                          f"{_dollars(request.amount_cents)} (transaction {key}) but Sage refused the card refund: "
                          f"{exc}", "fix what Sage says; the next run records it (the money is not sent again)")
            return
        entry = result.documents.get("CreditCardEntryNo", "")
        self.store.transition(request.request_id, RECORDED, actor=SYSTEM,
                              reason=f"recorded in Sage as card refund {key} (entry {entry}) against credit memo "
                                     f"{request.memo_no}")
        self.outcome.recorded.append(request.request_id)

    # -------------------------------------------------------------- helpers

    def _refuse(self, request: RefundRequest, decision: Decision) -> None:
        above = "above what remains" in decision.reason
        self._fail(request, "refund_above_remaining" if above else "refund_sale_not_refundable", decision.reason,
                   "lower the credit memo to what remains (a new memo) or check the PayTrace refunds already made "
                   "for this sale; nothing was sent" if above else
                   "nothing was sent; remove the card payment type from the memo or refund by another means")

    def _fail(self, request: RefundRequest, kind: str, problem: str, action: str) -> None:
        self.store.transition(request.request_id, FAILED, actor=SYSTEM, error=problem, reason=problem)
        self._problem(request, kind, "error", problem, action)

    def _problem(self, request: RefundRequest, kind: str, severity: str, problem: str, action: str) -> None:
        self.outcome.exception_frames.append(EXCEPTIONS.rows(
            kind, severity, [request.sale_transaction_id], source_ids=request.request_id,
            problem=f"refund request {request.request_id} (credit memo {request.memo_no}): {problem}",
            action=action))

    @staticmethod
    def _row(request: RefundRequest, action: str) -> dict:
        row = {"request_id": request.request_id, "action": action, "sale_transaction_id": request.sale_transaction_id,
               "amount": format_decimal(cents_to_decimal(request.amount_cents))}
        if request.fx_rate:  # under a conversion: the memo's amount (Sage's currency), what PayTrace refunds
            row |= {"paytrace_amount": format_decimal(cents_to_decimal(request.paytrace_cents)),
                    "fx_rate": request.fx_rate}
        return row


def send_requests(store: RequestStore, client: PayTraceClient, writer: Sage100Writer, *, refunds: pd.DataFrame,
                  today: date, dry_run: bool, disputed: Mapping[int, str] | None = None,
                  conversion: RequestConversion | None = None) -> SendOutcome:
    return RequestSender(store, client, writer, refunds=refunds, today=today, dry_run=dry_run,
                         disputed=disputed, conversion=conversion).run()


def _dollars(cents: int) -> str:
    return "$" + format_decimal(cents_to_decimal(cents))


def _amount(cents: int, currency: str) -> str:
    return f"{format_decimal(cents_to_decimal(cents))} {currency}"
