"""The one request path to PayTrace: every HTTP call of the client goes through `PayTraceSession`.

What it does for every call, once:

* sends the merchant's ``integrator_id`` with each /v1 call;
* decodes JSON with amounts as `Decimal` (never through float), once per response;
* classifies the answer into the `PayTraceError` hierarchy: no usable answer (5xx, 429, non-JSON,
  timeout, connection error) is a `PayTraceTransientError`, everything else is read from the body;
* learns PayTrace's clock from the ``Date`` header of every answer (its business day decides where a
  lost transaction is looked up);
* writes one log line per HTTP call (route, status, response_code, duration, attempt), never a body;
* retries reads and token calls with backoff and jitter (`with_retries`). Money-moving calls are
  never retried here: `paytrace.recovery` decides whether one may be sent again;
* tells an outage from a hiccup: no connection at all (refused, name not resolved, TLS failure,
  connect timeout) is a `PayTraceUnreachable` naming the URL, retried only within the outage budget
  (a few seconds, for a service restarting), then every further call of the session fails at once.

Authentication is pluggable: a call passes an `httpx.Auth` (`paytrace.auth.PayTraceAuth`), whose
requests (the invalid-token replay included) are logged and clocked like any other.
"""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import ssl
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from sage_paytrace_pipeline.domain.pci import ScrubbingLogFilter
from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceTransientError,
    PayTraceUnreachable,
    error_from_body,
)
from sage_paytrace_pipeline.paytrace.models import RetryPolicy
from sage_paytrace_pipeline.paytrace.retry import backoff_delay, parse_retry_after

DEFAULT_LOGGER_NAME = "sage_paytrace_pipeline.paytrace"
# Per-request facts carried on the httpx request, so that event hooks and the auth flow, which see
# only the request, know which call (and which attempt of it) they are handling.
ROUTE_EXTENSION = "sage_paytrace.route"
ATTEMPT_EXTENSION = "sage_paytrace.attempt"
STARTED_EXTENSION = "sage_paytrace.started"

_NO_RECORDS_WORDS = ("no record", "no transaction", "no batch", "no customer", "no result", "no data", "not any")
_T = TypeVar("_T")
# How long a session keeps retrying a server it cannot connect to at all, by default: long enough for
# a restart or a network blip, short enough that an outage fails its step in well under a minute.
DEFAULT_OUTAGE_BUDGET_SECONDS = 15.0
_decoded: weakref.WeakKeyDictionary[httpx.Response, dict[str, Any] | None] = weakref.WeakKeyDictionary()


def decoded_body(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object with amounts as `Decimal`, or None (HTML page, empty, not an object).

    Decoded once per response: the log hook, the auth flow and the classification all read it.
    """
    if response not in _decoded:
        try:
            decoded = json.loads(response.text, parse_float=Decimal)  # amounts never pass through float
        except ValueError:
            decoded = None
        _decoded[response] = decoded if isinstance(decoded, dict) else None
    return _decoded[response]


def is_transient_status(status: int) -> bool:
    """Answers that mean "no usable answer", whatever their body says."""
    return status == 429 or status >= 500


def looks_like_no_records(body: Mapping[str, Any]) -> bool:
    """A ``success:false`` export that only says "nothing matched" (real PayTrace's shape is unknown)."""
    if body.get("success") is not False:
        return False
    texts = [str(body.get("status_message") or "")]
    errors = body.get("errors")
    if isinstance(errors, Mapping):
        for messages in errors.values():
            texts.extend(str(m) for m in (messages if isinstance(messages, list) else [messages]))
    return any(word in t.lower() for t in texts for word in _NO_RECORDS_WORDS)


def _failed_request(exc: httpx.TransportError, sent: httpx.Request) -> httpx.Request:
    """The request that failed: the auth's replay, when it was the one in flight."""
    try:
        return exc.request
    except RuntimeError:  # an error raised without its request (test transports do that)
        return sent


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def connection_failure_reason(exc: httpx.TransportError) -> tuple[str, str]:
    """(what went wrong, what to check) for a failure to connect, read from the exception chain."""
    chain = _causes(exc)
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return "TLS handshake failed", "check PAYTRACE_API_URL and the server's certificate"
    if isinstance(exc, httpx.ConnectTimeout):
        return "no answer to connect (timed out)", "check PAYTRACE_API_URL, the network and any firewall"
    if any(isinstance(c, socket.gaierror) for c in chain):
        return "host name not found", "check the spelling of PAYTRACE_API_URL and DNS"
    if any(isinstance(c, ConnectionRefusedError) for c in chain) or "refused" in str(exc).lower():
        return "connection refused", "check PAYTRACE_API_URL and that the service is running and reachable"
    return "no connection", "check PAYTRACE_API_URL and that the service is reachable"


def default_logger() -> logging.Logger:
    logger = logging.getLogger(DEFAULT_LOGGER_NAME)
    if not any(isinstance(f, ScrubbingLogFilter) for f in logger.filters):
        logger.addFilter(ScrubbingLogFilter())  # belt and braces: lines are built without secrets
    return logger


class PayTraceSession:
    """Transport, server clock, envelope classification and read retries for one merchant account."""

    def __init__(
        self,
        base_url: str,
        *,
        integrator_id: str,
        timeout: httpx.Timeout,
        transport: httpx.BaseTransport | None,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        logger: logging.Logger | None = None,
        outage_budget: float = DEFAULT_OUTAGE_BUDGET_SECONDS,
    ) -> None:
        self.base_url = base_url
        self.integrator_id = integrator_id
        self.outage_budget = outage_budget
        self._unreachable_since: float | None = None  # monotonic time of the first failed connect
        self.retry = retry
        self.clock = clock
        self._sleep = sleep
        self._server_offset: float | None = None  # server clock (from `Date`) minus our clock
        self._log = logger or default_logger()
        self.http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "sage-paytrace-pipeline"},
            follow_redirects=False,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )

    def __enter__(self) -> PayTraceSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ one HTTP call

    def post(
        self,
        route: str,
        *,
        attempt: int,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> tuple[dict[str, Any], int]:
        """One POST (plus the auth's replay, if any); returns (decoded JSON body, HTTP status).

        Raises `PayTraceTransientError` when there is no usable answer.
        """
        extensions = {ROUTE_EXTENSION: route, ATTEMPT_EXTENSION: attempt}
        if form is not None:
            request = self.http.build_request("POST", route, data=dict(form), extensions=extensions)
        else:
            request = self.http.build_request("POST", route, json=dict(json_body or {}), extensions=extensions)
        try:
            response = self.http.send(request, auth=auth)
        except httpx.TransportError as exc:
            self._log_call(_failed_request(exc, request), None, None, outcome=type(exc).__name__)
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise self._unreachable(exc, route) from None
            # A pool timeout never delivered the request either (connect failures are handled above).
            not_sent = isinstance(exc, httpx.PoolTimeout)
            raise PayTraceTransientError(
                f"{type(exc).__name__} talking to PayTrace", route=route, request_sent=not not_sent
            ) from None
        body = decoded_body(response)
        if is_transient_status(response.status_code):
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

    def _unreachable(self, exc: httpx.TransportError, route: str) -> PayTraceUnreachable:
        """The one-sentence outage error; starts the outage clock of this session."""
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
        reason, check = connection_failure_reason(exc)
        return PayTraceUnreachable(f"PayTrace at {self.base_url}: {reason}; {check}",
                                   url=self.base_url, reason=reason, route=route)

    def exchange(
        self, route: str, payload: Mapping[str, Any], *, attempt: int, auth: httpx.Auth, no_records_ok: bool = False
    ) -> dict[str, Any]:
        """One /v1 call with ``integrator_id`` added and its envelope classified into an error or the body."""
        body_out = {**payload, "integrator_id": self.integrator_id}
        body, status = self.post(route, attempt=attempt, json_body=body_out, auth=auth)
        if no_records_ok and looks_like_no_records(body):
            return {"success": True, "response_code": 1}
        error = error_from_body(body, http_status=status, route=route)
        if error is not None:
            raise error
        return body

    # ------------------------------------------------------------------ retries

    def with_retries(self, operation: Callable[[int], _T]) -> _T:
        """Run a read-only operation (given the 1-based attempt number), retrying transient failures."""
        attempts = self.retry.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return operation(attempt)
            except PayTraceTransientError as exc:
                if attempt == attempts or self.outage_budget_spent(exc):
                    raise
                self.back_off(attempt, exc)
        raise AssertionError("unreachable")

    def read(
        self, route: str, payload: Mapping[str, Any], *, auth: httpx.Auth, no_records_ok: bool = False
    ) -> dict[str, Any]:
        """A read-only /v1 call, retried with backoff."""
        return self.with_retries(
            lambda attempt: self.exchange(route, payload, attempt=attempt, auth=auth, no_records_ok=no_records_ok)
        )

    def back_off(self, attempt: int, failure: PayTraceTransientError) -> None:
        """Wait after failed attempt number ``attempt`` (a server's Retry-After is a floor).

        While the server is unreachable, never past the end of the outage budget."""
        delay = backoff_delay(self.retry, attempt, retry_after=failure.retry_after)
        if isinstance(failure, PayTraceUnreachable) and self._unreachable_since is not None:
            delay = min(delay, max(0.0, self._unreachable_since + self.outage_budget - time.monotonic()))
        self._sleep(delay)

    def outage_budget_spent(self, failure: PayTraceTransientError) -> bool:
        """True when ``failure`` is a failed connect and the server has been unreachable for the whole
        outage budget: retrying (here, in an outer loop, or as a step retry) only delays the alarm."""
        return (isinstance(failure, PayTraceUnreachable) and self._unreachable_since is not None
                and time.monotonic() - self._unreachable_since >= self.outage_budget)

    # ------------------------------------------------------------------ server clock

    @property
    def knows_server_clock(self) -> bool:
        return self._server_offset is not None

    def server_now(self, zone: ZoneInfo) -> datetime:
        """PayTrace's clock in ``zone`` (our clock until a response has told us)."""
        return datetime.fromtimestamp(self.clock() + (self._server_offset or 0.0), zone)

    def _learn_server_time(self, response: httpx.Response) -> None:
        """Remember PayTrace's clock (``Date`` header) to know its business day after a lost answer."""
        for value in reversed(response.headers.get_list("date")):  # the app's own Date comes last
            try:
                server_time = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            if server_time.tzinfo is not None:
                self._server_offset = server_time.timestamp() - self.clock()
                return

    # ------------------------------------------------------------------ event hooks and the log line

    def _on_request(self, request: httpx.Request) -> None:
        request.extensions[STARTED_EXTENSION] = time.monotonic()  # restamped for a replay

    def _on_response(self, response: httpx.Response) -> None:
        """Every answer, the auth's rejected first try included: learn the clock, log one line."""
        response.read()
        self._unreachable_since = None  # any answer ends an outage
        self._learn_server_time(response)
        body = decoded_body(response)
        code = body.get("response_code") if body is not None else None
        self._log_call(response.request, response.status_code, code)

    def _log_call(self, request: httpx.Request, status: int | None, code: Any, outcome: str = "") -> None:
        started = request.extensions.get(STARTED_EXTENSION, time.monotonic())
        duration_ms = (time.monotonic() - started) * 1000
        self._log.info(
            "paytrace POST %s http=%s response_code=%s duration_ms=%.0f attempt=%d%s",
            request.extensions.get(ROUTE_EXTENSION, request.url.path),
            status if status is not None else "-",
            code if code is not None else "-",
            duration_ms,
            request.extensions.get(ATTEMPT_EXTENSION, 1),
            f" error={outcome}" if outcome else "",
        )

