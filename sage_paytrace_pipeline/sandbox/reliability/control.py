"""The PayTrace sandbox's control API over HTTP: what a fault campaign drives (README, Control API)."""

from __future__ import annotations

from datetime import datetime

import httpx

from sage_paytrace_pipeline.sandbox.paytrace.settings import CONTROL_TOKEN_HEADER


class SandboxControl:
    """`/_sandbox/*` calls on a running sandbox: open on loopback, or with the sandbox's control token."""

    def __init__(self, base_url: str, control_token: str | None = None) -> None:
        headers = {CONTROL_TOKEN_HEADER: control_token} if control_token else {}
        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, f"/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def install_faults(self, rules: list[dict], seed: int) -> dict:
        return self._call("POST", "faults", {"seed": seed, "rules": rules})

    def clear_faults(self) -> dict:
        return self._call("DELETE", "faults")

    def faults(self) -> dict:
        return self._call("GET", "faults")

    def expire_tokens(self) -> dict:
        return self._call("POST", "tokens/expire")

    def stats(self) -> dict:
        return self._call("GET", "stats")

    def set_clock(self, at: datetime) -> dict:
        return self._call("POST", "clock", {"set": at.isoformat(timespec="seconds")})
