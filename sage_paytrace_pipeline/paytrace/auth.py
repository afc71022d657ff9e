"""The v1 access token: password grant, caching, and the one re-authentication on ``invalid_token``.

`PayTraceAuth` is an `httpx.Auth`: it puts ``Authorization: Bearer …`` on every /v1 request and,
when PayTrace answers ``invalid_token`` (the token was rejected before the call was processed),
fetches a new token and replays the request ONCE. That replay is safe even for a money-moving call,
because a rejected token means nothing was committed. A second rejection right after a fresh token
is an authentication failure, never a second replay. v1 has no refresh tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from sage_paytrace_pipeline.paytrace.errors import (
    PayTraceAuthenticationError,
    PayTraceTransientError,
    PayTraceUnreachable,
    error_from_body,
)
from sage_paytrace_pipeline.paytrace.session import (
    ROUTE_EXTENSION,
    decoded_body,
    is_transient_status,
)

if TYPE_CHECKING:
    from sage_paytrace_pipeline.paytrace.session import PayTraceSession

TOKEN_ROUTE = "/oauth/token"


@dataclass(frozen=True)
class AccessToken:
    # repr=False: the token must never show up in a repr, log line or traceback.
    value: str = field(repr=False)
    renew_at: float  # local clock seconds after which the token is renewed before use

    def __repr__(self) -> str:
        return f"AccessToken(value='[FILTERED]', renew_at={self.renew_at:.0f})"


def token_from_body(
    body: Mapping[str, Any], *, requested_at: float, margin: float, http_status: int | None = None
) -> AccessToken:
    """Validate a token response and compute when to renew it.

    The lifetime starts at the earlier of our request time and the server's ``created_at`` (when
    present), so a slow answer or a server clock ahead of ours never makes us use a token late.
    A ``created_at`` that would make the token already stale is taken as clock skew and ignored.
    """
    access_token = body.get("access_token")
    token_type = str(body.get("token_type") or "bearer")
    if not isinstance(access_token, str) or not access_token:
        raise PayTraceAuthenticationError(
            "token response without access_token", http_status=http_status, route=TOKEN_ROUTE
        )
    if token_type.lower() != "bearer":
        raise PayTraceAuthenticationError(
            f"unsupported token_type {token_type[:20]!r}", http_status=http_status, route=TOKEN_ROUTE
        )
    try:
        expires_in = float(body.get("expires_in") or 7200)
    except (TypeError, ValueError):
        expires_in = 7200.0
    start = requested_at
    created_at = body.get("created_at")
    if (isinstance(created_at, (int, float)) and not isinstance(created_at, bool)
            and requested_at - expires_in / 2 < float(created_at) < requested_at):
        start = float(created_at)
    # A margin larger than the lifetime would renew on every call; keep at least half the lifetime.
    effective_margin = min(margin, expires_in / 2)
    return AccessToken(value=access_token, renew_at=start + expires_in - effective_margin)


class TokenCache:
    """Holds the current token; the client asks it whether renewal is due."""

    def __init__(self) -> None:
        self._token: AccessToken | None = None

    def current(self, now: float) -> str | None:
        if self._token is None or now >= self._token.renew_at:
            return None
        return self._token.value

    def store(self, token: AccessToken) -> None:
        self._token = token

    def invalidate(self) -> None:
        self._token = None

    def __repr__(self) -> str:
        return f"TokenCache(has_token={self._token is not None})"


def is_invalid_token(body: Mapping[str, Any], status: int) -> bool:
    """PayTrace refused the token itself: the call was not processed (a bare 401 counts too)."""
    if body.get("error") == "invalid_token":
        return True
    return status == 401 and "success" not in body and "error" not in body


class PayTraceAuth(httpx.Auth):
    """Owns the merchant's token: fetched by password grant, cached until due, replaced on rejection.

    The token lifetime starts at min(our request time, the server's ``created_at``) and the token is
    renewed ``refresh_margin`` seconds before it runs out (see `token_from_body`). Token calls go
    through the session's one request path, with its read retries.
    """

    requires_response_body = True  # `invalid_token` is read from the body

    def __init__(
        self,
        session: PayTraceSession,
        *,
        username: str,
        password: str,
        clock: Callable[[], float],
        refresh_margin: float,
    ) -> None:
        self._session = session
        self._username = username
        self._password = SecretStr(password)
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._tokens = TokenCache()

    def __repr__(self) -> str:
        return f"PayTraceAuth(username={self._username!r}, tokens={self._tokens!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the current token; on ``invalid_token`` re-authenticate and replay once."""
        route = request.extensions.get(ROUTE_EXTENSION, request.url.path)
        request.headers["Authorization"] = f"Bearer {self._token_for(route)}"
        response = yield request
        if not self._rejected(response):
            return
        self._tokens.invalidate()
        # Rejected before processing, so replaying is safe even for money calls. The replay is a
        # request of its own (same body), so whoever saw the first one keeps what was sent.
        replay = httpx.Request(request.method, request.url, headers=request.headers, content=request.content,
                               extensions=dict(request.extensions))
        replay.headers["Authorization"] = f"Bearer {self._token_for(route)}"
        response = yield replay
        if self._rejected(response):
            self._tokens.invalidate()
            raise PayTraceAuthenticationError(
                "access token rejected again right after re-authentication",
                http_status=response.status_code,
                route=route,
            )

    def access_token(self) -> str:
        """The cached token, or a fresh one (token call retried on transient failures)."""
        token = self._tokens.current(self._clock())
        if token is None:
            fresh = self._session.with_retries(self._request_token)
            self._tokens.store(fresh)
            token = fresh.value  # used even if already "due": a brand-new token is the best we have
        return token

    def _token_for(self, route: str) -> str:
        try:
            return self.access_token()
        except PayTraceUnreachable:
            raise  # already one sentence naming the URL; "no token" would hide the outage
        except PayTraceTransientError as exc:  # the call itself was never sent (or not processed)
            raise PayTraceTransientError(
                f"could not obtain a token: {exc.message}", route=route, request_sent=False
            ) from None

    def _request_token(self, attempt: int) -> AccessToken:
        requested_at = self._clock()
        form = {"grant_type": "password", "username": self._username, "password": self._password.get_secret_value()}
        body, status = self._session.post(TOKEN_ROUTE, attempt=attempt, form=form)
        if body.get("error") or not body.get("access_token"):
            raise error_from_body(body, http_status=status, route=TOKEN_ROUTE) or PayTraceAuthenticationError(
                "token response without access_token", http_status=status, route=TOKEN_ROUTE
            )
        return token_from_body(body, requested_at=requested_at, margin=self._refresh_margin, http_status=status)

    @staticmethod
    def _rejected(response: httpx.Response) -> bool:
        """An answer that refuses the token; transient and non-JSON answers are the session's to judge."""
        if is_transient_status(response.status_code):
            return False
        body = decoded_body(response)
        return body is not None and is_invalid_token(body, response.status_code)
