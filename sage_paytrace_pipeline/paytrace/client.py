"""PayTrace v1 JSON API client (httpx, synchronous): the API facade.

Three kinds of calls, three failure policies:

* reads (exports, ping) and token calls: retried with exponential backoff and jitter
  (`paytrace.session`, the one request path; `paytrace.auth` owns the token);
* money-moving calls (sale, authorization, refund, capture, void): never sent twice blindly. After a
  lost answer the client looks the outcome up (export by invoice_id, or by transaction id) and
  adopts what it finds; only when nothing was committed does it send again (`paytrace.recovery`);
* vault changes: the same reconcile-then-resend pattern, with the vault export as the lookup.

Money-moving and vault calls build a typed request (`paytrace.requests`) that validates amounts
and invoice_id before anything is sent. Nothing secret (card number, CSC, password, token) reaches
a log line, exception text or repr.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.paytrace.auth import PayTraceAuth
from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceError,
    PayTraceNotFound,
    PayTraceTransientError,
)
from sage_paytrace_pipeline.paytrace.models import (
    Address,
    Batch,
    CardInput,
    CustomerResult,
    RetryPolicy,
    SettleResult,
    Transaction,
    TransactionResult,
    VaultCustomer,
    parse_batch,
    parse_vault_customer,
)
from sage_paytrace_pipeline.paytrace.records import (
    ExportShapeError,
    ParsedRecords,
    TransactionExport,
    export_records,
    parse_transaction_export,
)
from sage_paytrace_pipeline.paytrace.recovery import (
    ExpectedTransaction,
    LostAnswerRecovery,
)
from sage_paytrace_pipeline.paytrace.requests import (
    Capture,
    CustomerCreate,
    CustomerTransaction,
    CustomerUpdate,
    KeyedSale,
    TransactionRefund,
    VaultProfile,
    compact,
)
from sage_paytrace_pipeline.paytrace.session import (
    DEFAULT_LOGGER_NAME,
    DEFAULT_OUTAGE_BUDGET_SECONDS,
    PayTraceSession,
)
from sage_paytrace_pipeline.paytrace.settings import DEFAULT_EXPORT_WINDOW_DAYS

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_LOGGER_NAME", "DEFAULT_TIMEOUT", "PayTraceClient"]

DEFAULT_BASE_URL = "https://api.paytrace.com"
# PayTrace calls take 2-20 s; a short read timeout would turn slow approvals into lost answers.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=90.0, write=30.0, pool=10.0)
# PayTrace documents no size limit for a date-range export (reference: "query day-by-day for safety"):
# a long range is asked for in windows of DEFAULT_EXPORT_WINDOW_DAYS days (paytrace/settings.py), so
# no answer holds more than a month of records (a year's range in one answer took minutes to build
# and could outlast the read timeout).

PING = "/v1/ping"
SALE_KEYED = "/v1/transactions/sale/keyed"
SALE_BY_CUSTOMER = "/v1/transactions/sale/by_customer"
AUTH_BY_CUSTOMER = "/v1/transactions/authorization/by_customer"
CAPTURE = "/v1/transactions/authorization/capture"
VOID = "/v1/transactions/void"
REFUND_FOR_TRANSACTION = "/v1/transactions/refund/for_transaction"
REFUND_TO_CUSTOMER = "/v1/transactions/refund/to_customer"
SETTLE = "/v1/transactions/settle"
EXPORT_BY_ID = "/v1/transactions/export/by_id"
EXPORT_BY_DATE_RANGE = "/v1/transactions/export/by_date_range"
BATCH_EXPORT_ONE = "/v1/batches/export_one"
BATCH_EXPORT = "/v1/batches/export"
BATCH_TRANSACTIONS = "/v1/batches/transaction_list"
CUSTOMER_CREATE = "/v1/customer/create"
CUSTOMER_UPDATE = "/v1/customer/update"
CUSTOMER_DELETE = "/v1/customer/delete"
CUSTOMER_EXPORT = "/v1/customer/export"

_T = TypeVar("_T")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _wire_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def date_windows(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """`first`..`last` cut into consecutive windows of at most `days` days (one window when it is
    shorter; a reversed range is passed on as it is, for PayTrace to refuse)."""
    if last < first:
        return [(first, last)]
    windows = []
    while first <= last:
        end = min(first + timedelta(days=days - 1), last)
        windows.append((first, end))
        first = end + timedelta(days=1)
    return windows


def _record_list(body: Mapping[str, Any], key: str) -> list[Any]:
    """The items under `key` (non-objects included, so the caller reports them instead of losing them)."""
    value = body.get(key)
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return value
    return []


def _raise_for_malformed(export: TransactionExport, route: str) -> None:
    """Strict reads: a malformed record (or a differing repeat of one id) stops the read, named."""
    bad = export.malformed
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise PayTraceError(f"malformed transactions record from PayTrace: {bad[0].describe()}{more}", route=route)


class PayTraceClient:
    """Synchronous PayTrace v1 client. One instance per merchant account; not thread-safe."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        username: str,
        password: str,
        integrator_id: str = "",
        time_zone: str = "America/Los_Angeles",
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        token_refresh_margin: float = 300.0,
        allow_insecure_http: bool = False,
        logger: logging.Logger | None = None,
        outage_budget: float = DEFAULT_OUTAGE_BUDGET_SECONDS,
        export_window_days: int = DEFAULT_EXPORT_WINDOW_DAYS,
    ) -> None:
        url = httpx.URL(base_url)
        if export_window_days < 1:
            raise ValueError(f"export_window_days must be at least 1, got {export_window_days}")
        if url.scheme not in ("https", "http") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {scrub_text(base_url)!r}")
        if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
            raise ValueError("refusing plain http:// to a non-loopback host (card data and passwords); use https")
        self.base_url = str(base_url).rstrip("/")
        self.username = username
        self.integrator_id = integrator_id
        self.zone = ZoneInfo(time_zone)
        self.export_window_days = export_window_days
        self._session = PayTraceSession(
            self.base_url,
            integrator_id=integrator_id,
            timeout=timeout or DEFAULT_TIMEOUT,
            transport=transport,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            clock=clock,
            logger=logger,
            outage_budget=outage_budget,
        )
        self._auth = PayTraceAuth(
            self._session, username=username, password=password, clock=clock, refresh_margin=token_refresh_margin
        )
        self._recovery = LostAnswerRecovery(self._session, self._auth, lookups=self)

    def __repr__(self) -> str:
        return f"PayTraceClient(base_url={self.base_url!r}, username={self.username!r}, time_zone={self.zone.key!r})"

    def __enter__(self) -> PayTraceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ server clock

    def server_now(self) -> datetime:
        """PayTrace's clock in the merchant zone (our clock until a response has told us)."""
        return self._session.server_now(self.zone)

    def server_today(self) -> date:
        return self.server_now().date()

    # ------------------------------------------------------------------ reads

    def _read(self, route: str, payload: Mapping[str, Any], *, no_records_ok: bool = False) -> dict:
        """A read-only call (token attached, retried with backoff on transient failures)."""
        return self._session.read(route, payload, auth=self._auth, no_records_ok=no_records_ok)

    def ping(self) -> bool:
        """True when PayTrace answers /v1/ping (no token needed); False when it stays unreachable."""
        payload = {"integrator_id": self.integrator_id}
        try:
            body, status = self._session.with_retries(
                lambda attempt: self._session.post(PING, attempt=attempt, json_body=payload)
            )
        except PayTraceTransientError:
            return False
        # The ping body is undocumented: any JSON answer that does not say `success:false` counts.
        return status < 400 and body.get("success") is not False

    def export_transactions(
        self,
        start_date: date,
        end_date: date,
        *,
        transaction_type: str | None = None,
        customer_id: str | None = None,
        transaction_id: int | None = None,
        include_bin: bool = True,
        including_text: str | None = None,
    ) -> list[Transaction]:
        """Transactions created between the dates (inclusive, merchant zone); one per transaction id.

        Strict: a malformed record raises `PayTraceError` naming it. `read_transactions` instead
        keeps the good records and returns the bad ones beside them.
        """
        export = self.read_transactions(
            start_date, end_date, transaction_type=transaction_type, customer_id=customer_id,
            transaction_id=transaction_id, include_bin=include_bin, including_text=including_text)
        _raise_for_malformed(export, EXPORT_BY_DATE_RANGE)
        return export.transactions

    def read_transactions(
        self,
        start_date: date,
        end_date: date,
        *,
        transaction_type: str | None = None,
        customer_id: str | None = None,
        transaction_id: int | None = None,
        include_bin: bool = True,
        including_text: str | None = None,
        parsed: ParsedRecords | None = None,
        only_ids: Collection[int] | None = None,
    ) -> TransactionExport:
        """The export with every usable record, and a `RejectedRecord` for each malformed or repeated one
        (`parsed`: records of earlier exports, see `ParsedRecords`; `only_ids`: read only the records of
        these transactions, see `parse_transaction_export`). A range longer than
        `export_window_days` is asked for window by window and read as one answer (positions and
        repeats counted over all of them)."""
        filters = {"transaction_type": transaction_type, "customer_id": customer_id, "transaction_id": transaction_id,
                   "include_bin": include_bin, "including_text": including_text}
        bodies = [self._read(EXPORT_BY_DATE_RANGE, compact({"start_date": _wire_date(first),
                                                             "end_date": _wire_date(last), **filters}),
                             no_records_ok=True)
                  for first, last in date_windows(start_date, end_date, self.export_window_days)]
        return self._transaction_export(bodies, "transactions", EXPORT_BY_DATE_RANGE, parsed, only_ids)

    def _transaction_export(self, bodies: Mapping[str, Any] | Sequence[Mapping[str, Any]], key: str, route: str,
                            parsed: ParsedRecords | None = None,
                            only_ids: Collection[int] | None = None) -> TransactionExport:
        """The records under `key` of one answer, or of several read as one (a windowed range)."""
        try:
            if not isinstance(bodies, Mapping):
                bodies = {key: [record for body in bodies for record in export_records(body, key)]}
            return parse_transaction_export(bodies, self.zone, key, parsed, only_ids=only_ids)
        except ExportShapeError as exc:
            raise PayTraceError(f"unusable export answer from PayTrace: {exc}", route=route) from None

    def export_transaction(self, transaction_id: int, *, include_bin: bool = True) -> Transaction:
        body = self._read(EXPORT_BY_ID, {"transaction_id": transaction_id, "include_bin": include_bin})
        records = []
        for key in ("transactions", "transaction"):
            export = self._transaction_export(body, key, EXPORT_BY_ID)
            _raise_for_malformed(export, EXPORT_BY_ID)
            records += export.transactions
        if not records:
            raise PayTraceNotFound("The Transaction ID that you provided was not found.", route=EXPORT_BY_ID,
                                   transaction_id=transaction_id, errors={"811": ["no record in export"]})
        return records[0]

    def export_batches(self, start_date: date, end_date: date) -> list[Batch]:
        payload = {"start_date": _wire_date(start_date), "end_date": _wire_date(end_date)}
        body = self._read(BATCH_EXPORT, payload, no_records_ok=True)
        return self._parse_all(body, "batches", parse_batch, BATCH_EXPORT)

    def export_batch(self, batch_number: int | None = None) -> Batch:
        """One batch; without a number, the current pending (open) batch."""
        body = self._read(BATCH_EXPORT_ONE, compact({"batch_number": batch_number}))
        batches = self._parse_all(body, "batch", parse_batch, BATCH_EXPORT_ONE)
        if not batches:
            raise PayTraceError("batch export without a batch object", route=BATCH_EXPORT_ONE)
        return batches[0]

    def batch_transactions(self, batch_number: int) -> list[Transaction]:
        """Strict, like `export_transactions`; `read_batch_transactions` keeps the good records."""
        export = self.read_batch_transactions(batch_number)
        _raise_for_malformed(export, BATCH_TRANSACTIONS)
        return export.transactions

    def read_batch_transactions(self, batch_number: int, *, parsed: ParsedRecords | None = None) -> TransactionExport:
        body = self._read(BATCH_TRANSACTIONS, {"batch_number": batch_number}, no_records_ok=True)
        return self._transaction_export(body, "transactions", BATCH_TRANSACTIONS, parsed)

    def export_customers(self, customer_id: str | None = None, *, include_bin: bool = True) -> list[VaultCustomer]:
        """The vault (one profile when `customer_id` is given). With the BIN the brand is known
        (PayTrace's export carries no brand field); without it every brand would read UNKNOWN."""
        payload = compact({"customer_id": customer_id, "include_bin": include_bin or None})
        body = self._read(CUSTOMER_EXPORT, payload, no_records_ok=customer_id is None)
        return self._parse_all(body, "customers", parse_vault_customer, CUSTOMER_EXPORT)

    def _parse_all(
        self, body: Mapping[str, Any], key: str, parse: Callable[[Any, ZoneInfo], _T], route: str
    ) -> list[_T]:
        records = _record_list(body, key)
        for position, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise PayTraceError(f"malformed {key} record #{position + 1} from PayTrace: not a JSON object",
                                    route=route)
        try:
            return [parse(record, self.zone) for record in records]
        except (ValueError, TypeError, ArithmeticError) as exc:  # MoneyError and pydantic errors are ValueErrors
            # The exception text may quote record values, so only its type is reported.
            raise PayTraceError(f"malformed {key} record from PayTrace ({type(exc).__name__})", route=route) from None

    # ------------------------------------------------------------------ vault

    def create_customer(
        self,
        customer_id: str,
        card: CardInput,
        *,
        billing_address: Address | None = None,
        shipping_address: Address | None = None,
        email: str | None = None,
        phone: str | None = None,
        discretionary_data: Mapping[str, Any] | None = None,
    ) -> CustomerResult:
        profile = VaultProfile(None, billing_address, shipping_address, email, phone, discretionary_data)
        return self._recovery.create_customer(CUSTOMER_CREATE, CustomerCreate(customer_id, card, profile))

    def update_customer(
        self,
        customer_id: str,
        *,
        card: CardInput | None = None,
        new_id: str | None = None,
        billing_address: Address | None = None,
        shipping_address: Address | None = None,
        email: str | None = None,
        phone: str | None = None,
        discretionary_data: Mapping[str, Any] | None = None,
        expiry: tuple[int, int] | None = None,
    ) -> CustomerResult:
        """Changes to a vault profile: only what is given. `expiry` (month, year) renews the card on file
        without its number; `card` replaces the card."""
        profile = VaultProfile(card, billing_address, shipping_address, email, phone, discretionary_data,
                               expiry=expiry)
        return self._recovery.update_customer(CUSTOMER_UPDATE, CustomerUpdate(customer_id, profile, new_id=new_id))

    def delete_customer(self, customer_id: str) -> CustomerResult:
        return self._recovery.delete_customer(CUSTOMER_DELETE, customer_id)

    # ------------------------------------------------------------------ money-moving calls

    def sale_keyed(
        self,
        card: CardInput,
        amount: Decimal,
        *,
        invoice_id: str | None = None,
        billing_address: Address | None = None,
        email: str | None = None,
        description: str | None = None,
        tax_amount: Decimal | None = None,
        customer_reference_id: str | None = None,
    ) -> TransactionResult:
        request = KeyedSale(card, amount, invoice_id=invoice_id, billing_address=billing_address, email=email,
                            description=description, tax_amount=tax_amount,
                            customer_reference_id=customer_reference_id)
        expected = ExpectedTransaction("SALE", request.sent_invoice_id, request.amount, customer_id=None)
        return self._recovery.new_transaction(SALE_KEYED, request.payload(), expected)

    def sale_by_customer(
        self,
        customer_id: str,
        amount: Decimal,
        *,
        invoice_id: str | None = None,
        description: str | None = None,
        tax_amount: Decimal | None = None,
        customer_reference_id: str | None = None,
        csc: str | None = None,
    ) -> TransactionResult:
        request = CustomerTransaction(customer_id, amount, invoice_id=invoice_id, description=description,
                                      tax_amount=tax_amount, customer_reference_id=customer_reference_id, csc=csc)
        return self._by_customer(SALE_BY_CUSTOMER, "SALE", request)

    def authorize_by_customer(
        self,
        customer_id: str,
        amount: Decimal,
        *,
        invoice_id: str | None = None,
        description: str | None = None,
        tax_amount: Decimal | None = None,
        customer_reference_id: str | None = None,
        csc: str | None = None,
    ) -> TransactionResult:
        request = CustomerTransaction(customer_id, amount, invoice_id=invoice_id, description=description,
                                      tax_amount=tax_amount, customer_reference_id=customer_reference_id, csc=csc)
        return self._by_customer(AUTH_BY_CUSTOMER, "AUTHORIZATION", request)

    def refund_to_customer(
        self, customer_id: str, amount: Decimal, *, invoice_id: str | None = None
    ) -> TransactionResult:
        return self._by_customer(REFUND_TO_CUSTOMER, "REFUND", CustomerTransaction(customer_id, amount, invoice_id))

    def refund_transaction(
        self, transaction_id: int, amount: Decimal | None = None, *, invoice_id: str | None = None
    ) -> TransactionResult:
        """Refund a settled transaction (full when amount is None). Unsettled ones must be voided (817)."""
        request = TransactionRefund(transaction_id, amount, invoice_id)
        expected = ExpectedTransaction("REFUND", request.sent_invoice_id, request.amount, customer_id=None)
        return self._recovery.new_transaction(REFUND_FOR_TRANSACTION, request.payload(), expected)

    def capture(self, transaction_id: int, amount: Decimal | None = None) -> TransactionResult:
        return self._recovery.capture(CAPTURE, Capture(transaction_id, amount))

    def void(self, transaction_id: int) -> TransactionResult:
        return self._recovery.void(VOID, transaction_id)

    def settle(self) -> SettleResult:
        """Close the open batch now. A repeat after a lost answer is harmless (nothing left to settle)."""
        return self._recovery.settle(SETTLE)

    def _by_customer(self, route: str, transaction_type: str, request: CustomerTransaction) -> TransactionResult:
        """A sale, authorization or refund on a vault customer's card, found by invoice_id if its answer is lost."""
        expected = ExpectedTransaction(transaction_type, request.sent_invoice_id, request.amount, request.customer_id)
        return self._recovery.new_transaction(route, request.payload(), expected)
