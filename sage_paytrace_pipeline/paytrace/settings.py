"""PayTrace connection settings from the environment (secrets never live in config files)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sage_paytrace_pipeline.paytrace.session import DEFAULT_OUTAGE_BUDGET_SECONDS

# days of a date-range export in one call: see paytrace/client.py (kept here so reading the settings
# does not import the client)
DEFAULT_EXPORT_WINDOW_DAYS = 31

PRODUCTION_URL = "https://api.paytrace.com"
PAYTRACE_SANDBOX_URL = "https://api.sandbox.paytrace.com"

ENVIRONMENT_VARIABLES = {
    "api_url": "PAYTRACE_API_URL",
    "username": "PAYTRACE_USERNAME",
    "password": "PAYTRACE_PASSWORD",
    "integrator_id": "PAYTRACE_INTEGRATOR_ID",
    "time_zone": "PAYTRACE_TIME_ZONE",
    "read_timeout_seconds": "PAYTRACE_READ_TIMEOUT_SECONDS",
    "connect_timeout_seconds": "PAYTRACE_CONNECT_TIMEOUT_SECONDS",
    "outage_budget_seconds": "PAYTRACE_OUTAGE_BUDGET_SECONDS",
    "export_window_days": "PAYTRACE_EXPORT_WINDOW_DAYS",
}
# A server that does not accept a connection in this long is treated as down (an outage), not slow.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0



class PayTraceConnection(BaseModel):
    """Where and as whom to call PayTrace. `password` is a SecretStr: it never prints."""

    model_config = ConfigDict(frozen=True)

    api_url: str = PRODUCTION_URL
    username: str
    password: SecretStr
    integrator_id: str = ""
    time_zone: str = "America/Los_Angeles"
    read_timeout_seconds: float = Field(default=90.0, ge=1.0)
    connect_timeout_seconds: float = Field(default=DEFAULT_CONNECT_TIMEOUT_SECONDS, gt=0.0)
    outage_budget_seconds: float = Field(default=DEFAULT_OUTAGE_BUDGET_SECONDS, ge=0.0)
    # days of a date-range export asked for in one call (PayTrace documents no limit on an answer's size)
    export_window_days: int = Field(default=DEFAULT_EXPORT_WINDOW_DAYS, ge=1)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PayTraceConnection:
        environ = os.environ if environ is None else environ
        missing = [name for key, name in ENVIRONMENT_VARIABLES.items()
                   if key in ("username", "password") and not environ.get(name)]
        if missing:
            raise ValueError(
                f"PayTrace connection: set {', '.join(missing)} (and PAYTRACE_API_URL for a sandbox); "
                "see README 'Configuration'"
            )
        values = {key: environ[name] for key, name in ENVIRONMENT_VARIABLES.items() if environ.get(name)}
        return cls.model_validate(values)

    def client(self, **overrides):
        """A `PayTraceClient` for these settings; keyword overrides go to the client."""
        import httpx

        from sage_paytrace_pipeline.paytrace.client import PayTraceClient

        options: dict[str, Any] = {
            "username": self.username,
            "password": self.password.get_secret_value(),
            "integrator_id": self.integrator_id,
            "time_zone": self.time_zone,
            "timeout": httpx.Timeout(30.0, connect=self.connect_timeout_seconds, read=self.read_timeout_seconds),
            "outage_budget": self.outage_budget_seconds,
            "export_window_days": self.export_window_days,
        }
        options.update(overrides)
        return PayTraceClient(self.api_url, **options)
