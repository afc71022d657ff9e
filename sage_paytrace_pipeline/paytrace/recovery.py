"""Lost-answer recovery for state-changing calls: never charge, refund or change anything twice.

The promise. A money-moving call (sale, authorization, refund, capture, void) or a vault change
whose answer is lost (timeout, dropped connection, 5xx after the request went out) is NEVER sent
again blindly. PayTrace v1 has no idempotency key, so after a lost answer the outcome is looked up:

* new transactions by their invoice_id (always sent, generated when the caller gave none) in
  ``export/by_date_range`` over PayTrace's business day ±1 (its clock, learned from ``Date``, not
  ours), keeping records of the same type, amount and customer created since the call started;
* captures and voids by the transaction id (``export/by_id``): the new status tells;
* vault changes in the vault export (created with the same card, renamed, gone).

Then:

* exactly one record found → it is adopted (`TransactionResult.adopted`, a "Recovered by lookup"
  message) and nothing is sent again; a declined or at once auto-voided one raises `PayTraceDeclined`;
* nothing found → nothing was committed, and only then is the call sent again (at most
  ``RetryPolicy.money_max_attempts`` sends in all);
* several candidates, or a lookup that fails → `PayTraceIndeterminateError`: reconcile by hand, never
  resend. A connect failure (request certainly never sent) is resent without a lookup.

After a lost answer, a repeat refused as "already done" (e.g. 818 on a void, 171 on a create) also
triggers the lookup: the first send probably went through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from sage_paytrace_pipeline.paytrace.auth import PayTraceAuth
from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceCustomerNotFound,
    PayTraceDeclined,
    PayTraceDuplicateCustomer,
    PayTraceError,
    PayTraceIndeterminateError,
    PayTraceNotCapturable,
    PayTraceNotFound,
    PayTraceNotVoidable,
    PayTraceTransientError,
)
from sage_paytrace_pipeline.paytrace.models import (
    CustomerResult,
    SettleResult,
    Transaction,
    TransactionResult,
    TransactionStatus,
    VaultCustomer,
    parse_customer_result,
    parse_settle_result,
    parse_transaction_result,
)
from sage_paytrace_pipeline.paytrace.requests import (
    Capture,
    CustomerCreate,
    CustomerUpdate,
)
from sage_paytrace_pipeline.paytrace.session import PayTraceSession

# Export timestamps have one-second resolution and the Date header may come from another host.
LOOKUP_CLOCK_SLACK = timedelta(minutes=2)
RECOVERED = "Recovered by lookup after a lost response."
_T = TypeVar("_T")


class OutcomeLookups(Protocol):
    """The reads recovery looks outcomes up with (the client's own, with their retries)."""

    def export_transactions(
        self, start_date: date, end_date: date, *, including_text: str | None = None, include_bin: bool = True
    ) -> list[Transaction]: ...

    def export_transaction(self, transaction_id: int, *, include_bin: bool = True) -> Transaction: ...

    def export_customers(self, customer_id: str | None = None) -> list[VaultCustomer]: ...

    def server_now(self) -> datetime: ...


@dataclass(frozen=True)
class ExpectedTransaction:
    """What the record a new-transaction call creates looks like in an export."""

    transaction_type: str  # SALE, AUTHORIZATION, REFUND
    invoice_id: str
    amount: Decimal | None  # None: a full refund, amount unknown beforehand
    customer_id: str | None  # None: not a vault call

    def matches(self, record: Transaction, not_before: datetime | None) -> bool:
        return (
            record.invoice_id == self.invoice_id
            and record.transaction_type == self.transaction_type
            and (self.amount is None or record.amount == self.amount)
            # A record without customer_id still matches: PayTrace may not echo it on every type.
            and (self.customer_id is None or record.customer_id in (None, self.customer_id))
            and (not_before is None or record.created_at is None or record.created_at >= not_before)
        )


class LostAnswerRecovery:
    """Sends state-changing calls and settles their outcome when the answer is lost (see module doc)."""

    def __init__(self, session: PayTraceSession, auth: PayTraceAuth, lookups: OutcomeLookups) -> None:
        self._session = session
        self._auth = auth
        self._lookups = lookups

    # ------------------------------------------------------------------ the calls

    def new_transaction(
        self, route: str, payload: Mapping[str, Any], expected: ExpectedTransaction
    ) -> TransactionResult:
        """A sale, authorization or refund; after a lost answer it is looked up by invoice_id."""
        not_before = self._lookup_horizon()
        return self.send(
            route,
            payload,
            on_success=lambda body: parse_transaction_result(body, approved=True),
            recover=lambda: self._find_by_invoice(route, expected, not_before),
        )

    def capture(self, route: str, request: Capture) -> TransactionResult:
        def captured_already() -> TransactionResult | None:
            record = self._existing(request.transaction_id)
            if record is not None and record.status in (TransactionStatus.PENDING, TransactionStatus.SETTLED):
                return adopted(record, 112)
            return None

        return self.send(
            route,
            request.payload(),
            on_success=lambda body: approved_result(body, request.transaction_id),
            recover=captured_already,
            done_already=(PayTraceNotCapturable,),
        )

    def void(self, route: str, transaction_id: int) -> TransactionResult:
        def voided_already() -> TransactionResult | None:
            record = self._existing(transaction_id)
            if record is not None and record.status is TransactionStatus.VOIDED:
                return adopted(record, 109)
            return None

        return self.send(
            route,
            {"transaction_id": transaction_id},
            on_success=lambda body: approved_result(body, transaction_id),
            recover=voided_already,
            done_already=(PayTraceNotVoidable,),
        )

    def settle(self, route: str) -> SettleResult:
        """Close the open batch now. A repeat after a lost answer is harmless (nothing left to settle)."""
        return self.send(route, {}, on_success=parse_settle_result, recover=None)

    def create_customer(self, route: str, request: CustomerCreate) -> CustomerResult:
        customer_id, card = request.customer_id, request.card

        def created_already() -> CustomerResult | None:
            existing = self._vault_customer(customer_id)
            if existing is None or existing.card is None or existing.card.last4 != card.masked[-4:]:
                return None  # not there, or another card under the same id: not our create
            return CustomerResult(customer_id=customer_id, masked_card_number=existing.card.masked_number,
                                  response_code=160, status_message=RECOVERED)

        return self.send(
            route,
            request.payload(),
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=customer_id),
            recover=created_already,
            done_already=(PayTraceDuplicateCustomer,),
        )

    def update_customer(self, route: str, request: CustomerUpdate) -> CustomerResult:
        customer_id, new_id = request.customer_id, request.new_id

        def renamed_already() -> CustomerResult | None:
            # Without a rename an update is idempotent: sending it again is the recovery.
            if not new_id or self._vault_customer(customer_id) is not None:
                return None
            renamed = self._vault_customer(new_id)
            if renamed is None:
                return None
            masked = renamed.card.masked_number if renamed.card else None
            return CustomerResult(customer_id=new_id, masked_card_number=masked, response_code=161,
                                  status_message=RECOVERED)

        return self.send(
            route,
            request.payload(),
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=new_id or customer_id),
            recover=renamed_already,
            done_already=(PayTraceCustomerNotFound, PayTraceDuplicateCustomer) if new_id else (),
        )

    def delete_customer(self, route: str, customer_id: str) -> CustomerResult:
        def deleted_already() -> CustomerResult | None:
            if self._vault_customer(customer_id) is not None:
                return None
            return CustomerResult(customer_id=customer_id, response_code=162, status_message=RECOVERED)

        return self.send(
            route,
            {"customer_id": customer_id},
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=customer_id),
            recover=deleted_already,
            done_already=(PayTraceCustomerNotFound,),
        )

    # ------------------------------------------------------------------ the policy

    def send(
        self,
        route: str,
        payload: Mapping[str, Any],
        *,
        on_success: Callable[[dict], _T],
        recover: Callable[[], _T | None] | None,
        done_already: tuple[type[PayTraceError], ...] = (),
    ) -> _T:
        """A state-changing call that is never repeated while its first outcome is unknown.

        After a lost answer ``recover`` looks the outcome up: a result is adopted, None means
        "not committed" and only then is the call sent again. Errors in ``done_already`` (e.g. 818
        on a repeated void) after a lost answer also trigger the lookup.
        """
        in_doubt = False
        last_error: PayTraceTransientError | None = None
        attempts = self._session.retry.money_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return on_success(self._session.exchange(route, payload, attempt=attempt, auth=self._auth))
            except PayTraceTransientError as exc:
                last_error = exc
                if self._session.outage_budget_spent(exc):
                    raise  # nothing was sent (no connection), so nothing is in doubt
                self._session.back_off(attempt, exc)
                if exc.request_sent and recover is not None:
                    in_doubt = True
                    found = self._recover(recover, route, exc)
                    if found is not None:
                        return found
            except done_already as exc:
                if in_doubt and recover is not None:
                    found = self._recover(recover, route, exc)
                    if found is not None:
                        return found
                raise
        raise PayTraceTransientError(
            f"no answer after {attempts} attempts; lookups found nothing committed",
            route=route,
            http_status=last_error.http_status if last_error else None,
        ) from last_error

    @staticmethod
    def _recover(recover: Callable[[], _T | None], route: str, cause: PayTraceError) -> _T | None:
        """Run a lookup; any failure of the lookup itself makes the outcome indeterminate."""
        try:
            return recover()
        except (PayTraceDeclined, PayTraceIndeterminateError):
            raise
        except PayTraceError as exc:
            raise PayTraceIndeterminateError(
                f"outcome unknown after '{cause.message}'; the lookup failed: {exc.message}", route=route
            ) from exc

    # ------------------------------------------------------------------ the lookups

    def _lookup_horizon(self) -> datetime | None:
        """Records created before this call (minus clock slack) cannot be its outcome.

        Only known once PayTrace's clock is (from any earlier answer, the token's included); without
        it every candidate stays in: an ambiguous lookup stops safely, a missed one would charge twice.
        """
        self._auth.access_token()  # the call needs it anyway; a fresh token also tells us the server's clock
        if not self._session.knows_server_clock:
            return None
        return self._lookups.server_now() - LOOKUP_CLOCK_SLACK

    def _find_by_invoice(
        self, route: str, expected: ExpectedTransaction, not_before: datetime | None
    ) -> TransactionResult | None:
        """The one record our lost request created, or None; several candidates are indeterminate."""
        today = self._lookups.server_now().date()  # PayTrace's business day, not ours: they differ around midnight
        records = self._lookups.export_transactions(
            today - timedelta(days=1), today + timedelta(days=1), including_text=expected.invoice_id, include_bin=False
        )
        matches = [record for record in records if expected.matches(record, not_before)]
        if not matches:
            return None
        if len(matches) > 1:
            ids = ", ".join(str(r.transaction_id) for r in matches)
            raise PayTraceIndeterminateError(
                f"outcome unknown: {len(matches)} {expected.transaction_type} records carry invoice_id "
                f"{expected.invoice_id!r} ({ids})",
                route=route,
            )
        record = matches[0]
        if record.status in (TransactionStatus.DECLINED, TransactionStatus.VOIDED):
            # Declined, or approved and auto-voided at once by AVS/CSC rules (103): no money moved.
            raise PayTraceDeclined(
                "Your transaction was not approved. (recovered by lookup after a lost response)",
                approval_message=record.approval_message,
                response_code=102 if record.status is TransactionStatus.DECLINED else 103,
                route=route,
                transaction_id=record.transaction_id,
            )
        return adopted(record, 106 if expected.transaction_type == "REFUND" else 101)

    def _existing(self, transaction_id: int) -> Transaction | None:
        try:
            return self._lookups.export_transaction(transaction_id, include_bin=False)
        except PayTraceNotFound:
            return None

    def _vault_customer(self, customer_id: str) -> VaultCustomer | None:
        try:
            customers = self._lookups.export_customers(customer_id)
        except PayTraceCustomerNotFound:
            return None
        return next((c for c in customers if c.customer_id == customer_id), None)


def adopted(record: Transaction, response_code: int) -> TransactionResult:
    """The result of a call whose lost outcome was found as ``record``."""
    return TransactionResult(
        transaction_id=record.transaction_id,
        response_code=response_code,
        status_message=RECOVERED,
        approved=True,
        approval_code=record.approval_code,
        approval_message=record.approval_message,
        avs_response=record.avs_response,
        csc_response=record.csc_response,
        masked_card_number=record.card.masked_number if record.card else None,
        adopted=True,
    )


def approved_result(body: Mapping[str, Any], transaction_id: int) -> TransactionResult:
    result = parse_transaction_result(body, approved=True)
    if result.transaction_id is None:  # void/capture answers may omit it; the id is the one we sent
        return result.model_copy(update={"transaction_id": transaction_id})
    return result
