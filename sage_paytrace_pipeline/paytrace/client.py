"""PayTrace v1 JSON API client (httpx, synchronous).

Three kinds of calls, three failure policies:

* reads (exports, ping) and token calls: retried with exponential backoff and jitter;
* money-moving calls (sale, authorization, refund, capture, void): never sent twice blindly. After a
  lost answer the client looks the outcome up (export by invoice_id, or by transaction id) and
  adopts what it finds; only when nothing was committed does it send again;
* vault changes: the same reconcile-then-resend pattern, with the vault export as the lookup.

Nothing secret (card number, CSC, password, token) reaches a log line, exception text or repr.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from sage_paytrace_pipeline.domain.money import MoneyError, format_decimal, parse_money
from sage_paytrace_pipeline.domain.pci import ScrubbingLogFilter, scrub_text
from sage_paytrace_pipeline.paytrace.auth import TOKEN_ROUTE, TokenCache, token_from_body
from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceAuthenticationError,
    PayTraceCustomerNotFound,
    PayTraceDeclined,
    PayTraceDuplicateCustomer,
    PayTraceError,
    PayTraceIndeterminateError,
    PayTraceNotCapturable,
    PayTraceNotFound,
    PayTraceNotVoidable,
    PayTraceTransientError,
    error_from_body,
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
    TransactionStatus,
    VaultCustomer,
    parse_batch,
    parse_customer_result,
    parse_settle_result,
    parse_transaction_result,
    parse_vault_customer,
)
from sage_paytrace_pipeline.paytrace.records import (
    ExportShapeError,
    TransactionExport,
    parse_transaction_export,
)
from sage_paytrace_pipeline.paytrace.retry import backoff_delay, parse_retry_after

DEFAULT_BASE_URL = "https://api.paytrace.com"
# PayTrace calls take 2-20 s; a short read timeout would turn slow approvals into lost answers.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=90.0, write=30.0, pool=10.0)
DEFAULT_LOGGER_NAME = "sage_paytrace_pipeline.paytrace"
# Export timestamps have one-second resolution and the Date header may come from another host.
LOOKUP_CLOCK_SLACK = timedelta(minutes=2)

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

_NO_RECORDS_WORDS = ("no record", "no transaction", "no batch", "no customer", "no result", "no data", "not any")
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


# The shape of the keys `_lookup_key` generates: "SPP" + 17 upper-case hex digits. Matching must
# not read invoice numbers out of them (their digit runs are random).
GENERATED_INVOICE_ID_PATTERN = r"SPP[0-9A-F]{17}"


def _lookup_key(invoice_id: str | None) -> str:
    """The invoice_id a money-moving call is sent with: it is how a lost answer is found again.

    Omitted → a unique one is generated. Given → it must not be blank; callers passing their own
    should keep it unique per payment (a repeat of the same amount would otherwise be ambiguous).
    """
    if invoice_id is None:
        return "SPP" + uuid.uuid4().hex[:17].upper()
    if not str(invoice_id).strip():
        raise ValueError("invoice_id is blank: pass a unique reference, or omit it to have one generated")
    return str(invoice_id)


def _positive_amount(amount: Decimal | str, field: str = "amount") -> Decimal:
    value = parse_money(amount, field=field)
    if value <= 0:
        raise MoneyError(f"{field}: {value} must be greater than zero")
    return value


def _compact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset optional fields so PayTrace applies its own defaults."""
    return {key: value for key, value in payload.items() if value is not None}


def _profile_fields(
    card: CardInput | None,
    billing_address: Address | None,
    shipping_address: Address | None,
    email: str | None,
    phone: str | None,
    discretionary_data: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The vault profile fields shared by customer create and update (only those given)."""
    return _compact(
        {
            **(card.to_wire() if card else {}),
            "billing_address": billing_address.to_wire() if billing_address else None,
            "shipping_address": shipping_address.to_wire() if shipping_address else None,
            "email": email,
            "phone": phone,
            "discretionary_data": dict(discretionary_data) if discretionary_data else None,
        }
    )


def _looks_like_no_records(body: Mapping[str, Any]) -> bool:
    """A ``success:false`` export that only says "nothing matched" (real PayTrace's shape is unknown)."""
    if body.get("success") is not False:
        return False
    texts = [str(body.get("status_message") or "")]
    errors = body.get("errors")
    if isinstance(errors, Mapping):
        for messages in errors.values():
            texts.extend(str(m) for m in (messages if isinstance(messages, list) else [messages]))
    return any(word in t.lower() for t in texts for word in _NO_RECORDS_WORDS)


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
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {scrub_text(base_url)!r}")
        if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
            raise ValueError("refusing plain http:// to a non-loopback host (card data and passwords); use https")
        self.base_url = str(base_url).rstrip("/")
        self.username = username
        self._password = SecretStr(password)
        self.integrator_id = integrator_id
        self.zone = ZoneInfo(time_zone)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._refresh_margin = token_refresh_margin
        self._tokens = TokenCache()
        self._server_offset: float | None = None  # server clock (from `Date`) minus our clock
        self._log = logger or self._default_logger()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout or DEFAULT_TIMEOUT,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "sage-paytrace-pipeline"},
            follow_redirects=False,
        )

    @staticmethod
    def _default_logger() -> logging.Logger:
        logger = logging.getLogger(DEFAULT_LOGGER_NAME)
        if not any(isinstance(f, ScrubbingLogFilter) for f in logger.filters):
            logger.addFilter(ScrubbingLogFilter())  # belt and braces: lines are built without secrets
        return logger

    def __repr__(self) -> str:
        return f"PayTraceClient(base_url={self.base_url!r}, username={self.username!r}, time_zone={self.zone.key!r})"

    def __enter__(self) -> PayTraceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ HTTP exchange

    def _post_json(
        self,
        route: str,
        *,
        attempt: int,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, Any], int]:
        """One POST; returns (decoded JSON body, HTTP status) or raises `PayTraceTransientError`."""
        started = time.monotonic()
        try:
            if form is not None:
                response = self._http.post(route, data=dict(form), headers=headers)
            else:
                response = self._http.post(route, json=dict(json_body or {}), headers=headers)
        except httpx.TransportError as exc:
            self._log_call(route, None, None, started, attempt, outcome=type(exc).__name__)
            # Connect failures (incl. connect/pool timeouts) never delivered the request.
            not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
            raise PayTraceTransientError(
                f"{type(exc).__name__} talking to PayTrace", route=route, request_sent=not not_sent
            ) from None
        self._learn_server_time(response)
        body = self._decode(response)
        code = body.get("response_code") if body is not None else None
        self._log_call(route, response.status_code, code, started, attempt)
        if response.status_code == 429 or response.status_code >= 500:
            raise PayTraceTransientError(
                f"PayTrace answered HTTP {response.status_code}",
                http_status=response.status_code,
                route=route,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if body is None:  # HTML firewall page, empty body, proxy error page
            raise PayTraceTransientError(
                f"PayTrace answered HTTP {response.status_code} without a JSON body",
                http_status=response.status_code,
                route=route,
            )
        return body, response.status_code

    @staticmethod
    def _decode(response: httpx.Response) -> dict[str, Any] | None:
        try:
            decoded = json.loads(response.text, parse_float=Decimal)  # amounts never pass through float
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None

    def _log_call(
        self, route: str, status: int | None, code: Any, started: float, attempt: int, outcome: str = ""
    ) -> None:
        duration_ms = (time.monotonic() - started) * 1000
        self._log.info(
            "paytrace POST %s http=%s response_code=%s duration_ms=%.0f attempt=%d%s",
            route,
            status if status is not None else "-",
            code if code is not None else "-",
            duration_ms,
            attempt,
            f" error={outcome}" if outcome else "",
        )

    def _learn_server_time(self, response: httpx.Response) -> None:
        """Remember PayTrace's clock (``Date`` header) to know its business day after a lost answer."""
        for value in reversed(response.headers.get_list("date")):  # the app's own Date comes last
            try:
                server_time = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            if server_time.tzinfo is not None:
                self._server_offset = server_time.timestamp() - self._clock()
                return

    def server_now(self) -> datetime:
        """PayTrace's clock in the merchant zone (our clock until a response has told us)."""
        return datetime.fromtimestamp(self._clock() + (self._server_offset or 0.0), self.zone)

    def server_today(self) -> date:
        return self.server_now().date()

    # ------------------------------------------------------------------ authentication

    def _access_token(self) -> str:
        token = self._tokens.current(self._clock())
        if token is None:
            fresh = self._with_retries(self._request_token)
            self._tokens.store(fresh)
            token = fresh.value  # used even if already "due": a brand-new token is the best we have
        return token

    def _request_token(self, attempt: int):  # -> AccessToken
        requested_at = self._clock()
        form = {"grant_type": "password", "username": self.username, "password": self._password.get_secret_value()}
        body, status = self._post_json(TOKEN_ROUTE, attempt=attempt, form=form)
        if body.get("error") or not body.get("access_token"):
            raise error_from_body(body, http_status=status, route=TOKEN_ROUTE) or PayTraceAuthenticationError(
                "token response without access_token", http_status=status, route=TOKEN_ROUTE
            )
        return token_from_body(body, requested_at=requested_at, margin=self._refresh_margin, http_status=status)

    @staticmethod
    def _is_invalid_token(body: Mapping[str, Any], status: int) -> bool:
        if body.get("error") == "invalid_token":
            return True
        return status == 401 and "success" not in body and "error" not in body

    # ------------------------------------------------------------------ call layers

    def _exchange(self, route: str, payload: Mapping[str, Any], attempt: int, *, no_records_ok: bool = False) -> dict:
        """One /v1 call with its envelope classified; re-authenticates and replays once on invalid_token."""
        body_out = {**payload, "integrator_id": self.integrator_id}
        for replay in (False, True):
            headers = {}
            if route != PING:
                try:
                    headers["Authorization"] = f"Bearer {self._access_token()}"
                except PayTraceTransientError as exc:  # the call itself was never sent
                    raise PayTraceTransientError(
                        f"could not obtain a token: {exc.message}", route=route, request_sent=False
                    ) from None
            body, status = self._post_json(route, attempt=attempt, json_body=body_out, headers=headers)
            if self._is_invalid_token(body, status):
                self._tokens.invalidate()
                if not replay:
                    continue  # rejected before processing, so replaying is safe even for money calls
                raise PayTraceAuthenticationError(
                    "access token rejected again right after re-authentication", http_status=status, route=route
                )
            if no_records_ok and _looks_like_no_records(body):
                return {"success": True, "response_code": 1}
            error = error_from_body(body, http_status=status, route=route)
            if error is not None:
                raise error
            return body
        raise AssertionError("unreachable")

    def _with_retries(self, operation: Callable[[int], _T]) -> _T:
        """Run a read-only operation, retrying transient failures with backoff."""
        attempts = self._retry.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return operation(attempt)
            except PayTraceTransientError as exc:
                if attempt == attempts:
                    raise
                self._sleep(backoff_delay(self._retry, attempt, retry_after=exc.retry_after))
        raise AssertionError("unreachable")

    def _read(self, route: str, payload: Mapping[str, Any], *, no_records_ok: bool = False) -> dict:
        return self._with_retries(lambda attempt: self._exchange(route, payload, attempt, no_records_ok=no_records_ok))

    def _guarded(
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
        for attempt in range(1, self._retry.money_max_attempts + 1):
            try:
                return on_success(self._exchange(route, payload, attempt))
            except PayTraceTransientError as exc:
                last_error = exc
                self._sleep(backoff_delay(self._retry, attempt, retry_after=exc.retry_after))
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
            f"no answer after {self._retry.money_max_attempts} attempts; lookups found nothing committed",
            route=route,
            http_status=last_error.http_status if last_error else None,
        ) from last_error

    def _recover(self, recover: Callable[[], _T | None], route: str, cause: PayTraceError) -> _T | None:
        try:
            return recover()
        except (PayTraceDeclined, PayTraceIndeterminateError):
            raise
        except PayTraceError as exc:
            raise PayTraceIndeterminateError(
                f"outcome unknown after '{cause.message}'; the lookup failed: {exc.message}", route=route
            ) from exc

    # ------------------------------------------------------------------ reads

    def ping(self) -> bool:
        """True when PayTrace answers /v1/ping (no token needed); False when it stays unreachable."""
        payload = {"integrator_id": self.integrator_id}
        try:
            body, status = self._with_retries(lambda attempt: self._post_json(PING, attempt=attempt, json_body=payload))
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
    ) -> TransactionExport:
        """The export with every usable record, and a `RejectedRecord` for each malformed or repeated one."""
        payload = _compact(
            {
                "start_date": _wire_date(start_date),
                "end_date": _wire_date(end_date),
                "transaction_type": transaction_type,
                "customer_id": customer_id,
                "transaction_id": transaction_id,
                "include_bin": include_bin,
                "including_text": including_text,
            }
        )
        body = self._read(EXPORT_BY_DATE_RANGE, payload, no_records_ok=True)
        return self._transaction_export(body, "transactions", EXPORT_BY_DATE_RANGE)

    def _transaction_export(self, body: Mapping[str, Any], key: str, route: str) -> TransactionExport:
        try:
            return parse_transaction_export(body, self.zone, key)
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
        body = self._read(BATCH_EXPORT_ONE, _compact({"batch_number": batch_number}))
        batches = self._parse_all(body, "batch", parse_batch, BATCH_EXPORT_ONE)
        if not batches:
            raise PayTraceError("batch export without a batch object", route=BATCH_EXPORT_ONE)
        return batches[0]

    def batch_transactions(self, batch_number: int) -> list[Transaction]:
        """Strict, like `export_transactions`; `read_batch_transactions` keeps the good records."""
        export = self.read_batch_transactions(batch_number)
        _raise_for_malformed(export, BATCH_TRANSACTIONS)
        return export.transactions

    def read_batch_transactions(self, batch_number: int) -> TransactionExport:
        body = self._read(BATCH_TRANSACTIONS, {"batch_number": batch_number}, no_records_ok=True)
        return self._transaction_export(body, "transactions", BATCH_TRANSACTIONS)

    def export_customers(self, customer_id: str | None = None) -> list[VaultCustomer]:
        body = self._read(CUSTOMER_EXPORT, _compact({"customer_id": customer_id}), no_records_ok=customer_id is None)
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
        payload = {"customer_id": customer_id, **_profile_fields(
            card, billing_address, shipping_address, email, phone, discretionary_data)}

        def created_already() -> CustomerResult | None:
            existing = self._vault_customer(customer_id)
            same_card = existing is not None and existing.card is not None and existing.card.last4 == card.masked[-4:]
            if not same_card:
                return None
            return CustomerResult(customer_id=customer_id, masked_card_number=existing.card.masked_number,
                                  response_code=160, status_message="Recovered by lookup after a lost response.")

        return self._guarded(
            CUSTOMER_CREATE,
            payload,
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=customer_id),
            recover=created_already,
            done_already=(PayTraceDuplicateCustomer,),
        )

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
    ) -> CustomerResult:
        payload = {**_compact({"customer_id": customer_id, "new_id": new_id}), **_profile_fields(
            card, billing_address, shipping_address, email, phone, discretionary_data)}

        def renamed_already() -> CustomerResult | None:
            # Without a rename an update is idempotent: sending it again is the recovery.
            if not new_id or self._vault_customer(customer_id) is not None:
                return None
            renamed = self._vault_customer(new_id)
            if renamed is None:
                return None
            masked = renamed.card.masked_number if renamed.card else None
            return CustomerResult(customer_id=new_id, masked_card_number=masked, response_code=161,
                                  status_message="Recovered by lookup after a lost response.")

        return self._guarded(
            CUSTOMER_UPDATE,
            payload,
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=new_id or customer_id),
            recover=renamed_already,
            done_already=(PayTraceCustomerNotFound, PayTraceDuplicateCustomer) if new_id else (),
        )

    def delete_customer(self, customer_id: str) -> CustomerResult:
        def deleted_already() -> CustomerResult | None:
            if self._vault_customer(customer_id) is not None:
                return None
            return CustomerResult(customer_id=customer_id, response_code=162,
                                  status_message="Recovered by lookup after a lost response.")

        return self._guarded(
            CUSTOMER_DELETE,
            {"customer_id": customer_id},
            on_success=lambda body: parse_customer_result(body, fallback_customer_id=customer_id),
            recover=deleted_already,
            done_already=(PayTraceCustomerNotFound,),
        )

    def _vault_customer(self, customer_id: str) -> VaultCustomer | None:
        try:
            customers = self.export_customers(customer_id)
        except PayTraceCustomerNotFound:
            return None
        return next((c for c in customers if c.customer_id == customer_id), None)

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
        value = _positive_amount(amount)
        invoice_id = _lookup_key(invoice_id)
        payload = {
            **self._transaction_fields(value, invoice_id, description, tax_amount, customer_reference_id),
            **card.to_wire(),
            **_compact({"billing_address": billing_address.to_wire() if billing_address else None, "email": email}),
        }
        return self._new_transaction(SALE_KEYED, payload, "SALE", value, invoice_id, customer_id=None)

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
        return self._by_customer(SALE_BY_CUSTOMER, "SALE", customer_id, amount, invoice_id,
                                 description, tax_amount, customer_reference_id, csc)

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
        return self._by_customer(AUTH_BY_CUSTOMER, "AUTHORIZATION", customer_id, amount, invoice_id,
                                 description, tax_amount, customer_reference_id, csc)

    def refund_to_customer(
        self, customer_id: str, amount: Decimal, *, invoice_id: str | None = None
    ) -> TransactionResult:
        return self._by_customer(REFUND_TO_CUSTOMER, "REFUND", customer_id, amount, invoice_id, None, None, None, None)

    def refund_transaction(
        self, transaction_id: int, amount: Decimal | None = None, *, invoice_id: str | None = None
    ) -> TransactionResult:
        """Refund a settled transaction (full when amount is None). Unsettled ones must be voided (817)."""
        value = _positive_amount(amount) if amount is not None else None
        invoice_id = _lookup_key(invoice_id)
        payload = _compact(
            {
                "transaction_id": transaction_id,
                "amount": format_decimal(value) if value is not None else None,
                "invoice_id": invoice_id,
            }
        )
        return self._new_transaction(REFUND_FOR_TRANSACTION, payload, "REFUND", value, invoice_id, customer_id=None)

    def capture(self, transaction_id: int, amount: Decimal | None = None) -> TransactionResult:
        wire_amount = format_decimal(_positive_amount(amount)) if amount is not None else None
        payload = _compact({"transaction_id": transaction_id, "amount": wire_amount})

        def captured_already() -> TransactionResult | None:
            record = self._existing(transaction_id)
            captured = record is not None and record.status in (TransactionStatus.PENDING, TransactionStatus.SETTLED)
            return self._adopted(record, 112) if captured else None

        return self._guarded(
            CAPTURE,
            payload,
            on_success=lambda body: self._approved_result(body, transaction_id),
            recover=captured_already,
            done_already=(PayTraceNotCapturable,),
        )

    def void(self, transaction_id: int) -> TransactionResult:
        def voided_already() -> TransactionResult | None:
            record = self._existing(transaction_id)
            voided = record is not None and record.status is TransactionStatus.VOIDED
            return self._adopted(record, 109) if voided else None

        return self._guarded(
            VOID,
            {"transaction_id": transaction_id},
            on_success=lambda body: self._approved_result(body, transaction_id),
            recover=voided_already,
            done_already=(PayTraceNotVoidable,),
        )

    def settle(self) -> SettleResult:
        """Close the open batch now. A repeat after a lost answer is harmless (nothing left to settle)."""
        return self._guarded(SETTLE, {}, on_success=parse_settle_result, recover=None)

    def _by_customer(
        self,
        route: str,
        transaction_type: str,
        customer_id: str,
        amount: Decimal,
        invoice_id: str | None,
        description: str | None,
        tax_amount: Decimal | None,
        customer_reference_id: str | None,
        csc: str | None,
    ) -> TransactionResult:
        value = _positive_amount(amount)
        invoice_id = _lookup_key(invoice_id)
        payload = {
            **self._transaction_fields(value, invoice_id, description, tax_amount, customer_reference_id),
            **_compact({"customer_id": customer_id, "csc": csc}),
        }
        return self._new_transaction(route, payload, transaction_type, value, invoice_id, customer_id=customer_id)

    @staticmethod
    def _transaction_fields(
        amount: Decimal, invoice_id: str, description: str | None, tax_amount: Decimal | None, reference: str | None
    ) -> dict[str, Any]:
        tax = format_decimal(parse_money(tax_amount, field="tax_amount")) if tax_amount is not None else None
        return _compact(
            {
                "amount": format_decimal(amount),
                "invoice_id": invoice_id,
                "description": description,
                "tax_amount": tax,
                "customer_reference_id": reference,
            }
        )

    def _new_transaction(
        self,
        route: str,
        payload: Mapping[str, Any],
        transaction_type: str,
        amount: Decimal | None,
        invoice_id: str | None = None,
        *,
        customer_id: str | None,
    ) -> TransactionResult:
        not_before = self._lookup_horizon()

        def committed_already() -> TransactionResult | None:
            return self._find_by_invoice(route, invoice_id, transaction_type, amount, customer_id, not_before)

        return self._guarded(
            route,
            payload,
            on_success=lambda body: parse_transaction_result(body, approved=True),
            recover=committed_already,
        )

    def _lookup_horizon(self) -> datetime | None:
        """Records created before this call (minus clock slack) cannot be its outcome.

        Only known once PayTrace's clock is (from any earlier answer, the token's included); without
        it every candidate stays in: an ambiguous lookup stops safely, a missed one would charge twice.
        """
        self._access_token()  # the call needs it anyway; a fresh token also tells us the server's clock
        if self._server_offset is None:
            return None
        return self.server_now() - LOOKUP_CLOCK_SLACK

    def _find_by_invoice(
        self,
        route: str,
        invoice_id: str,
        transaction_type: str,
        amount: Decimal | None,
        customer_id: str | None,
        not_before: datetime | None,
    ) -> TransactionResult | None:
        """The one record our lost request created, or None; several candidates are indeterminate."""
        today = self.server_today()  # PayTrace's business day, not ours: they differ around midnight
        records = self.export_transactions(
            today - timedelta(days=1), today + timedelta(days=1), including_text=invoice_id, include_bin=False
        )
        matches = [
            r
            for r in records
            if r.invoice_id == invoice_id
            and r.transaction_type == transaction_type
            and (amount is None or r.amount == amount)
            # A record without customer_id still matches: PayTrace may not echo it on every type.
            and (customer_id is None or r.customer_id in (None, customer_id))
            and (not_before is None or r.created_at is None or r.created_at >= not_before)
        ]
        if not matches:
            return None
        if len(matches) > 1:
            ids = ", ".join(str(r.transaction_id) for r in matches)
            raise PayTraceIndeterminateError(
                f"outcome unknown: {len(matches)} {transaction_type} records carry invoice_id {invoice_id!r} ({ids})",
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
        return self._adopted(record, 106 if transaction_type == "REFUND" else 101)

    def _existing(self, transaction_id: int) -> Transaction | None:
        try:
            return self.export_transaction(transaction_id, include_bin=False)
        except PayTraceNotFound:
            return None

    @staticmethod
    def _adopted(record: Transaction, response_code: int) -> TransactionResult:
        return TransactionResult(
            transaction_id=record.transaction_id,
            response_code=response_code,
            status_message="Recovered by lookup after a lost response.",
            approved=True,
            approval_code=record.approval_code,
            approval_message=record.approval_message,
            avs_response=record.avs_response,
            csc_response=record.csc_response,
            masked_card_number=record.card.masked_number if record.card else None,
            adopted=True,
        )

    @staticmethod
    def _approved_result(body: Mapping[str, Any], transaction_id: int) -> TransactionResult:
        result = parse_transaction_result(body, approved=True)
        if result.transaction_id is None:  # void/capture answers may omit it; the id is the one we sent
            return result.model_copy(update={"transaction_id": transaction_id})
        return result
