"""The PayTrace v1 sandbox as a Starlette app: the v1 routes, /oauth/token and the control API.

The HTTP layer does only HTTP things: method checks, bearer auth, JSON in and out, headers and
fault injection. Behaviour lives in `engine.PayTraceSandbox`; engine calls block on SQLite, so
they run in Starlette's thread pool (each opens its own connection).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sage_paytrace_pipeline.sandbox.paytrace.engine import (
    UNAUTHENTICATED_ROUTES,
    PayTraceSandbox,
    error_envelope,
)
from sage_paytrace_pipeline.sandbox.paytrace.faults import (
    AFTER_COMMIT_KINDS,
    REPLACING_KINDS,
    fault_page,
    fault_status,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan, apply_plan
from sage_paytrace_pipeline.sandbox.paytrace.settings import (
    CONTROL_TOKEN_HEADER,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
)

logger = logging.getLogger(__name__)

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
METHOD_NOT_ALLOWED = {"success": False, "response_code": 1, "status_message": "One or more errors has occurred.",
                      "errors": {"405": ["Method not allowed."]}}


# ----------------------------------------------------------------------------- JSON in and out


def _json_default(value: Any) -> Any:
    # Amounts are exact Decimals up to here; only the JSON text needs a number (110, 51.88).
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class SandboxJSONResponse(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_json_default, separators=(",", ":")).encode()


def json_response(status: int, body: Any, headers: dict | None = None) -> SandboxJSONResponse:
    return SandboxJSONResponse(body, status_code=status, headers=headers)


async def read_json_object(request: Request) -> dict | None:
    """The body as a dict (empty body -> {}); None when it is not JSON at all."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else {}


async def read_token_fields(request: Request) -> dict:
    """OAuth fields from a form or a JSON body (both worked against PayTrace), query as fallback."""
    fields = dict(request.query_params)
    raw = await request.body()
    if "json" in request.headers.get("content-type", ""):
        parsed = await read_json_object(request)
        fields.update(parsed or {})
    elif raw:
        fields.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


# ----------------------------------------------------------------------------- faults


class ConnectionDropped(Exception):
    """Raised after a partial response so the server closes the socket mid-answer."""


class DroppedConnectionResponse(Response):
    """Sends headers promising a body, a few bytes of it, then fails: the client sees a broken
    connection (httpx: RemoteProtocolError) with the outcome of the call unknown."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"success":', "more_body": True})
        raise ConnectionDropped("sandbox fault: connection dropped")


class _QuietDroppedConnections(logging.Filter):
    """uvicorn logs a traceback for the deliberate ConnectionDropped; that is noise, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_QUIET_DROPS = _QuietDroppedConnections()


def fault_response(fault: dict) -> Response:
    status = fault_status(fault["kind"])
    headers = {"Retry-After": "1"} if fault["kind"] == "http_429" else None
    if fault["body"] == "empty":
        return Response(b"", status_code=status, headers=headers)
    return HTMLResponse(fault_page(status), status_code=status, headers=headers)


async def with_faults(engine: PayTraceSandbox, route: str, process: Callable[[], Awaitable[Response]]) -> Response:
    """Apply the fault that fires for this request (if any) around processing it."""
    fault = await run_in_threadpool(engine.draw_fault, route)
    if not fault:
        return await process()
    kind = fault["kind"]
    if kind is not None and kind not in AFTER_COMMIT_KINDS:
        await asyncio.sleep(fault["latency_seconds"])  # e.g. a slow 504, or plain latency
    if kind in REPLACING_KINDS:
        return fault_response(fault)
    response = await process()
    if kind in AFTER_COMMIT_KINDS:
        # The call is committed; the client just never learns the outcome.
        await asyncio.sleep(fault["latency_seconds"])
        return DroppedConnectionResponse() if kind == "drop_connection" else fault_response(fault)
    return response


# ----------------------------------------------------------------------------- headers


class SandboxHeaders:
    """Adds ``Date`` from the virtual clock and an ``X-Request-Id`` to every response."""

    def __init__(self, app: ASGIApp, engine: PayTraceSandbox) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                now = await run_in_threadpool(self.engine.now)
                headers = MutableHeaders(scope=message)
                headers["Date"] = format_datetime(now.astimezone(UTC), usegmt=True)
                headers["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ----------------------------------------------------------------------------- the API routes


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def make_token_endpoint(engine: PayTraceSandbox) -> Callable[[Request], Awaitable[Response]]:
    async def token(request: Request) -> Response:
        if request.method != "POST":
            return json_response(405, {"error": "invalid_request", "error_description": "Use POST."})

        async def process() -> Response:
            fields = await read_token_fields(request)
            status, body = await run_in_threadpool(engine.issue_token, fields)
            logger.debug("POST /oauth/token -> %s", status)
            return json_response(status, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

        return await with_faults(engine, "/oauth/token", process)

    return token


def make_v1_endpoint(engine: PayTraceSandbox) -> Callable[[Request], Awaitable[Response]]:
    async def v1(request: Request) -> Response:
        route = request.url.path.rstrip("/")
        if request.method != "POST":
            return json_response(405, METHOD_NOT_ALLOWED, {"Allow": "POST"})

        async def process() -> Response:
            user = None
            if route not in UNAUTHENTICATED_ROUTES:
                problem, user = await run_in_threadpool(engine.token_owner, request.headers.get("authorization"))
                if problem:
                    return json_response(401, problem, {
                        "WWW-Authenticate": f'Bearer realm="PayTrace", error="invalid_token", '
                                            f'error_description="{problem["error_description"]}"'})
            body = await read_json_object(request)
            if body is None:
                return json_response(400, error_envelope({"1": ["The request body is not valid JSON."]}, route))
            status, answer = await run_in_threadpool(
                lambda: engine.call(route, body, user=user, from_ip=_client_ip(request)))
            logger.debug("POST %s -> %s %s", route, status, answer.get("response_code"))
            return json_response(status, answer)

        return await with_faults(engine, route, process)

    return v1


# ----------------------------------------------------------------------------- control API


def require_control_token(
    token: str | None, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """`handler` behind the control token, when one is set (compared in constant time); open otherwise,
    which `serve` allows on loopback only (server.check_bind)."""
    if not token:
        return handler
    expected = token.encode()

    async def guarded(request: Request) -> Response:
        given = request.headers.get(CONTROL_TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return json_response(401, {"error": f"the control API needs the {CONTROL_TOKEN_HEADER} header "
                                                "with the sandbox's control token"})
        return await handler(request)

    return guarded


def make_control_routes(engine: PayTraceSandbox, control_token: str | None = None) -> list[Route]:
    async def health(request: Request) -> Response:
        return json_response(200, {"ok": True})

    async def clock(request: Request) -> Response:
        if request.method == "GET":
            return json_response(200, await run_in_threadpool(engine.set_clock))
        body = await read_json_object(request) or {}
        try:
            at = body.get("set") or body.get("at")
            moment = datetime.fromisoformat(str(at)) if at else None
            advance = float(body["advance_seconds"]) if body.get("advance_seconds") is not None else None
            result = await run_in_threadpool(
                lambda: engine.set_clock(at=moment, advance_seconds=advance, mode=body.get("mode")))
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, result)

    async def settings(request: Request) -> Response:
        if request.method == "GET":
            current = await run_in_threadpool(engine.settings)
            return json_response(200, current.model_dump())
        body = await read_json_object(request) or {}
        try:
            updated = await run_in_threadpool(lambda: engine.update_settings(**body))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            return json_response(400, {"error": errors})
        return json_response(200, updated.model_dump())

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            body = await read_json_object(request) or {}
            try:
                await run_in_threadpool(lambda: engine.set_faults(list(body.get("rules") or []),
                                                                  int(body.get("seed") or 0)))
            except (ValidationError, ValueError, TypeError) as exc:
                return json_response(400, {"error": str(exc)})
        elif request.method == "DELETE":
            await run_in_threadpool(engine.clear_faults)
        return json_response(200, await run_in_threadpool(engine.faults))

    async def expire_tokens(request: Request) -> Response:
        await run_in_threadpool(engine.expire_tokens)
        return json_response(200, {"ok": True})

    async def stats(request: Request) -> Response:
        return json_response(200, await run_in_threadpool(engine.stats))

    async def reset(request: Request) -> Response:
        await run_in_threadpool(engine.reset)
        return json_response(200, {"ok": True})

    async def load(request: Request) -> Response:
        body = await read_json_object(request)
        try:
            plan = ActivityPlan.model_validate(body)
        except ValidationError as exc:  # never echo the input: a plan may carry card numbers
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            return json_response(400, {"error": errors})
        outcome = await run_in_threadpool(lambda: apply_plan(engine, plan))
        return json_response(200, outcome.model_dump())

    def guard(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        return require_control_token(control_token, handler)

    return [
        # health stays open: liveness checks need no secret and it reveals nothing
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/clock", guard(clock), methods=["GET", "POST"]),
        Route("/_sandbox/settings", guard(settings), methods=["GET", "POST"]),
        Route("/_sandbox/faults", guard(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/tokens/expire", guard(expire_tokens), methods=["POST"]),
        Route("/_sandbox/stats", guard(stats), methods=["GET"]),
        Route("/_sandbox/reset", guard(reset), methods=["POST"]),
        Route("/_sandbox/load", guard(load), methods=["POST"]),
    ]


def create_app(
    state_path: str | os.PathLike,
    *,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    settings: dict | None = None,
    control_token: str | None = None,
) -> Starlette:
    """The sandbox app over the state file at `state_path` (created if missing), with one API user.
    With `control_token`, the control API (`/_sandbox/*` but health) requires it."""
    engine = PayTraceSandbox(state_path, settings=settings)
    engine.ensure_user(username, password)
    logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
    routes = [
        Route("/oauth/token", make_token_endpoint(engine), methods=ALL_METHODS),
        Route("/v1/{path:path}", make_v1_endpoint(engine), methods=ALL_METHODS),
        *make_control_routes(engine, control_token),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(SandboxHeaders, engine=engine)
    app.state.engine = engine
    return app
