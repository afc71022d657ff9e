"""Shared fixtures: a real PayTrace sandbox over a real socket, on a temporary state file.

The sandbox clock is frozen at Monday 2026-03-02 10:00 America/Los_Angeles, so created/settled
timestamps and nightly batches are deterministic; move it with ``handle.engine.set_clock``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

SANDBOX_START = datetime(2026, 3, 2, 10, 0, 0)  # merchant local (America/Los_Angeles)


@dataclass(frozen=True)
class SandboxHandle:
    base_url: str
    state_path: Path
    engine: PayTraceSandbox
    username: str
    password: str

    def token(self) -> str:
        """A fresh bearer token from the running sandbox."""
        response = httpx.post(f"{self.base_url}/oauth/token", data={
            "grant_type": "password", "username": self.username, "password": self.password})
        response.raise_for_status()
        return response.json()["access_token"]


class SandboxApi:
    """A thin authenticated v1 caller for tests: JSON decoded with Decimal amounts."""

    def __init__(self, handle: SandboxHandle) -> None:
        self.handle = handle
        self.token = handle.token()
        self.http = httpx.Client(base_url=handle.base_url, timeout=30)

    def post(self, route: str, body: dict | None = None) -> tuple[int, dict[str, Any]]:
        response = self.http.post(route, json=body or {}, headers={"Authorization": f"Bearer {self.token}"})
        return response.status_code, json.loads(response.text, parse_float=Decimal)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def paytrace_sandbox(tmp_path: Path) -> Iterator[SandboxHandle]:
    state_path = tmp_path / "paytrace_sandbox.sqlite3"
    app = create_app(state_path)
    engine: PayTraceSandbox = app.state.engine
    engine.set_clock(at=SANDBOX_START)
    with serve_in_thread(app) as base_url:
        yield SandboxHandle(base_url, state_path, engine, DEFAULT_USERNAME, DEFAULT_PASSWORD)


@pytest.fixture
def paytrace_token(paytrace_sandbox: SandboxHandle) -> str:
    return paytrace_sandbox.token()


@pytest.fixture
def paytrace_api(paytrace_sandbox: SandboxHandle) -> Iterator[SandboxApi]:
    api = SandboxApi(paytrace_sandbox)
    yield api
    api.close()
