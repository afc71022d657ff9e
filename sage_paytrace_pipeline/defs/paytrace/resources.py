"""The PayTrace resource: connection settings from the environment, one client per run step."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr

from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.settings import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_EXPORT_WINDOW_DAYS,
    DEFAULT_OUTAGE_BUDGET_SECONDS,
    PRODUCTION_URL,
    PayTraceConnection,
)


class PayTraceResource(dg.ConfigurableResource):
    """PayTrace v1 API (or the sandbox). Secrets arrive as `dg.EnvVar`, resolved at run start."""

    api_url: str = PRODUCTION_URL
    username: str
    password: str = Field(description="API user's password; pass dg.EnvVar('PAYTRACE_PASSWORD')")
    integrator_id: str = ""
    time_zone: str = "America/Los_Angeles"
    read_timeout_seconds: float = 90.0
    connect_timeout_seconds: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_SECONDS, description="Seconds to wait for a connection before PayTrace "
        "counts as unreachable")
    outage_budget_seconds: float = Field(
        default=DEFAULT_OUTAGE_BUDGET_SECONDS, description="Seconds a step keeps retrying a PayTrace it cannot "
        "connect to (refused, name not found, TLS failure) before it fails, without step retries")
    export_window_days: int = Field(
        default=DEFAULT_EXPORT_WINDOW_DAYS, description="Days of a date-range transaction export asked for in "
        "one call; a longer range (a backfill) is read window by window")

    _client: PayTraceClient | None = PrivateAttr(default=None)

    def get_client(self) -> PayTraceClient:
        """One client per resource instance, so its token cache spans the whole step."""
        if self._client is None:
            self._client = PayTraceConnection(
                api_url=self.api_url,
                username=self.username,
                password=SecretStr(self.password),
                integrator_id=self.integrator_id,
                time_zone=self.time_zone,
                read_timeout_seconds=self.read_timeout_seconds,
                connect_timeout_seconds=self.connect_timeout_seconds,
                outage_budget_seconds=self.outage_budget_seconds,
                export_window_days=self.export_window_days,
            ).client()
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

