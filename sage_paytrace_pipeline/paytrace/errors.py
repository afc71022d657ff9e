"""One exception hierarchy for PayTrace, classified from the JSON envelope, never from HTTP status alone.

PayTrace answers errors, declines and token problems with JSON on 200 *or* 4xx, so the body decides
what happened: ``success``, ``response_code``, the ``errors`` map and the OAuth ``error`` field.
Only when there is no usable JSON body (5xx, 429, HTML firewall pages, timeouts) is the failure
transient.

Precedence when one ``errors`` map carries several codes (most specific wins):
authentication (981, 998) > not found (811, 812, 30) > state conflicts (817, 818, 816) >
duplicate customer (171) > generic validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from sage_paytrace_pipeline.domain.pci import scrub_text

DECLINE_CODES = frozenset({102, 103, 105, 107, 110, 113, 125})
AUTH_ERROR_CODES = frozenset({981, 998})


class PayTraceError(Exception):
    """Base of every PayTrace failure; message and repr are always scrubbed of card data and secrets."""

    def __init__(
        self,
        message: str,
        *,
        response_code: int | None = None,
        errors: Mapping[str, list[str]] | None = None,
        http_status: int | None = None,
        route: str | None = None,
        transaction_id: int | None = None,
    ) -> None:
        self.message = scrub_text(str(message))
        self.response_code = response_code
        self.errors: dict[str, list[str]] = {
            str(code): [scrub_text(str(text)) for text in texts] for code, texts in (errors or {}).items()
        }
        self.http_status = http_status
        self.route = route
        self.transaction_id = transaction_id
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.route:
            parts.append(f"route={self.route}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.response_code is not None:
            parts.append(f"response_code={self.response_code}")
        if self.errors:
            parts.append("errors=" + "; ".join(f"{code}: {' '.join(texts)}" for code, texts in self.errors.items()))
        if self.transaction_id is not None:
            parts.append(f"transaction_id={self.transaction_id}")
        return scrub_text(" | ".join(parts))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class PayTraceDeclined(PayTraceError):
    """The issuer (or PayTrace's AVS/CSC rules, code 103) refused; the declined transaction has an id."""

    def __init__(self, message: str, *, approval_message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.approval_message = scrub_text(approval_message or "").strip() or None

    def __str__(self) -> str:
        base = super().__str__()
        return scrub_text(f"{base} | approval_message={self.approval_message}") if self.approval_message else base


class PayTraceValidationError(PayTraceError):
    """``response_code`` 1 with an ``errors`` map: the request was rejected; retrying will not help."""

    @property
    def codes(self) -> frozenset[int]:
        return frozenset(int(code) for code in self.errors if code.isdigit())


class PayTraceNotFound(PayTraceValidationError):
    """811: unknown transaction id (also 812: unknown batch number)."""


class PayTraceCustomerNotFound(PayTraceNotFound):
    """30: unknown or incomplete vault customer id."""


class PayTraceNotRefundable(PayTraceValidationError):
    """817: not settled yet (void instead) or nothing left to refund."""


class PayTraceNotVoidable(PayTraceValidationError):
    """818: not pending settlement any more (refund instead)."""


class PayTraceNotCapturable(PayTraceValidationError):
    """816: not an uncaptured approved authorization."""


class PayTraceDuplicateCustomer(PayTraceValidationError):
    """171: the vault customer id is already taken."""


class PayTraceAuthenticationError(PayTraceError):
    """Credentials refused (invalid_grant, 981/998) or a token rejected again right after re-auth."""


class PayTraceTransientError(PayTraceError):
    """No usable answer: 5xx, 429, timeout, connection error, non-JSON body. Safe to retry reads.

    ``request_sent`` is False only when the request certainly never reached the server (connect
    failure), which makes even a money-moving call safe to resend without a lookup.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, request_sent: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.request_sent = request_sent


class PayTraceUnreachable(PayTraceTransientError):
    """No connection at all: refused, host name not resolved, TLS handshake failed, connect timed out.

    Nothing was sent, so nothing is in doubt, but a server that is not there does not come back in
    the seconds a retry waits: the session retries these only within its outage budget, and the
    Dagster steps fail without step retries. The message is one sentence naming the URL and what
    to check; it carries no route, card data or secret.
    """

    def __init__(self, message: str, *, url: str, reason: str, **kwargs: Any) -> None:
        super().__init__(message, request_sent=False, **kwargs)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class PayTraceIndeterminateError(PayTraceError):
    """A money-moving call's outcome is unknown (lost response, lookup failed or ambiguous). Never resend
    blindly: reconcile by hand or from a later export."""


# Most specific first; the first class whose codes intersect the errors map wins.
_CODE_PRECEDENCE: tuple[tuple[frozenset[int], type[PayTraceValidationError]], ...] = (
    (frozenset({811, 812}), PayTraceNotFound),
    (frozenset({30}), PayTraceCustomerNotFound),
    (frozenset({817}), PayTraceNotRefundable),
    (frozenset({818}), PayTraceNotVoidable),
    (frozenset({816}), PayTraceNotCapturable),
    (frozenset({171}), PayTraceDuplicateCustomer),
)


class _ErrorContext(TypedDict):
    """The keyword arguments every `PayTraceError` made from a response body gets."""

    response_code: int | None
    errors: dict[str, list[str]]
    http_status: int | None
    route: str | None
    transaction_id: int | None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _errors_map(body: Mapping[str, Any]) -> dict[str, list[str]]:
    raw = body.get("errors")
    if not isinstance(raw, Mapping):
        return {}
    return {str(code): [str(t) for t in (texts if isinstance(texts, list) else [texts])] for code, texts in raw.items()}


def error_from_body(body: Mapping[str, Any], *, http_status: int | None, route: str | None) -> PayTraceError | None:
    """The exception a parsed v1/OAuth JSON body means, or None when it reports success.

    ``invalid_token`` is returned as a `PayTraceAuthenticationError` here; the client intercepts it
    first to re-authenticate and replay once.
    """
    oauth_error = body.get("error")
    if isinstance(oauth_error, str) and oauth_error:
        description = str(body.get("error_description") or oauth_error)
        return PayTraceAuthenticationError(f"{oauth_error}: {description}", http_status=http_status, route=route)

    code = _as_int(body.get("response_code"))
    success = body.get("success") is True
    context = _ErrorContext(
        response_code=code,
        errors=_errors_map(body),
        http_status=http_status,
        route=route,
        transaction_id=_as_int(body.get("transaction_id")),
    )
    message = str(body.get("status_message") or "PayTrace reported a failure")
    if code in DECLINE_CODES:  # 103 counts as a decline even when success is true
        return PayTraceDeclined(message, approval_message=body.get("approval_message"), **context)
    if success:
        return None
    codes = {c for c in (_as_int(k) for k in context["errors"]) if c is not None}
    if codes & AUTH_ERROR_CODES:
        return PayTraceAuthenticationError(message, **context)
    for wanted, error_class in _CODE_PRECEDENCE:
        if codes & wanted:
            return error_class(message, **context)
    if context["errors"] or code == 1:
        return PayTraceValidationError(message, **context)
    return PayTraceError(message, **context)
