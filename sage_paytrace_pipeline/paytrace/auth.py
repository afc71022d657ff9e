"""OAuth token parsing and caching for the v1 password grant (no refresh tokens in v1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sage_paytrace_pipeline.paytrace.errors import PayTraceAuthenticationError

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
    if isinstance(created_at, (int, float)) and not isinstance(created_at, bool):
        if requested_at - expires_in / 2 < float(created_at) < requested_at:
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
