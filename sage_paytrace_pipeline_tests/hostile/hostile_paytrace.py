"""A hostile PayTrace: the remote side answering with the corpus' bodies (the client is the real one).

- `export_transport(text)`: an httpx transport for `PayTraceClient` whose token call works and whose
  transaction export answers `text`, byte for byte.
- `HostileProxy`: a real HTTP server in front of the PayTrace sandbox that forwards every call and
  splices extra raw records into the answers of `export/by_date_range` for one day, so a whole
  Dagster run meets them through the real resource, client and assets.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import datetime

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread

EXPORT_ROUTE = "/v1/transactions/export/by_date_range"
TOKEN_BODY = {"access_token": "aa:bb:hostile-corpus-token", "token_type": "Bearer", "expires_in": 7200}
_RECORDS_START = re.compile(r'"transactions"\s*:\s*\[')


def export_transport(text: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=TOKEN_BODY)
        if request.url.path == EXPORT_ROUTE:
            return httpx.Response(200, content=text.encode("utf-8"), headers={"content-type": "application/json"})
        return httpx.Response(404, json={"success": False, "response_code": 1, "status_message": "not here"})

    return httpx.MockTransport(answer)


def splice_records(answer: str, records_json: list[str]) -> str:
    """The export answer with raw record texts added to its `transactions` array."""
    if not records_json:
        return answer
    found = _RECORDS_START.search(answer)
    if found is None:  # "no records" answers carry no array: give them one
        body = json.loads(answer)
        body.update(success=True, response_code=1, transactions=[])
        answer = json.dumps(body)
        found = _RECORDS_START.search(answer)
    rest = answer[found.end():]
    separator = "" if rest.lstrip().startswith("]") else ","
    return answer[:found.end()] + ",".join(records_json) + separator + rest


class HostileProxy:
    """Forwards to `upstream`; the export for `wire_date` (MM/DD/YYYY) gets `records_json` spliced in."""

    def __init__(self, upstream: str, wire_date: str, records_json: list[str]) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.wire_date = wire_date
        self.records_json = records_json
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "DELETE"])])

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        answer = await run_in_threadpool(self.upstream.request, request.method, request.url.path, content=body,
                                         headers=headers)
        text = answer.text
        if request.url.path == EXPORT_ROUTE and self._is_the_day(body):
            text = splice_records(text, self.records_json)
        passed = {k: v for k, v in answer.headers.items() if k.lower() in ("date", "content-type", "retry-after")}
        return Response(text.encode("utf-8"), status_code=answer.status_code, headers=passed)

    def _is_the_day(self, body: bytes) -> bool:
        try:
            request = json.loads(body or b"{}")
            start, end = (datetime.strptime(request[key], "%m/%d/%Y") for key in ("start_date", "end_date"))
        except (ValueError, KeyError, TypeError):
            return False
        return start <= datetime.strptime(self.wire_date, "%m/%d/%Y") <= end


@contextlib.contextmanager
def serve_proxy(proxy: HostileProxy) -> Iterator[str]:
    with serve_in_thread(proxy.app) as base_url:
        try:
            yield base_url
        finally:
            proxy.upstream.close()
