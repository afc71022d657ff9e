"""Who is asking, and whether the request may do what it asks.

- the user: a signed, expiring session cookie (Starlette's SessionMiddleware, itsdangerous) set at
  log-in, or the trusted reverse proxy's header when configured and the request comes from the proxy;
  the role is always read from the config, never from the cookie, so removing a user takes effect at once;
- CSRF: a random token per session in every form, compared server-side on every POST, and a POST
  whose Origin (or Referer) is another site is refused before that;
- headers: a strict Content-Security-Policy (no inline script, no framing), nosniff, no referrer.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sage_paytrace_pipeline.config import ConsoleSettings

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class User:
    name: str
    role: str


def current_user(request: Request, settings: ConsoleSettings) -> User | None:
    proxied = _proxy_user(request, settings)
    if proxied is not None:
        return proxied
    name = request.session.get("user")
    logged_in_at = request.session.get("at", 0)
    if not isinstance(name, str) or not isinstance(logged_in_at, int | float):
        return None
    if time.time() - logged_in_at > settings.session_minutes * 60:
        request.session.clear()
        return None
    user = settings.users.get(name)
    return User(name, user.role) if user is not None else None


def _proxy_user(request: Request, settings: ConsoleSettings) -> User | None:
    if not settings.trusted_header or request.client is None or request.client.host not in settings.trusted_proxies:
        return None
    name = request.headers.get(settings.trusted_header, "").strip()
    user = settings.users.get(name)
    return User(name, user.role) if user is not None else None


def start_session(request: Request, name: str) -> None:
    """A new session for `name` (the old one's contents, CSRF token included, are dropped)."""
    request.session.clear()
    request.session.update(user=name, at=int(time.time()), csrf=secrets.token_urlsafe(32))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_refusal(request: Request, submitted: object) -> str | None:
    """Why this POST is refused as cross-site (None: it is not)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
            return "the form came from another site"
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return "the form has no valid token (reload the page and try again)"
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        return "the form's token does not match this session (reload the page and try again)"
    return None


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (pages, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
