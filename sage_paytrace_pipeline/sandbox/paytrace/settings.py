"""Merchant and sandbox settings: what the PayTrace portal would configure, plus emulator knobs.

Where the reference is unsure (decline HTTP status, error code for bad amounts, whether the
integrator id is required), the choice is a setting so tests can exercise both answers.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sage_paytrace_pipeline.domain.money import MoneyError, format_decimal, parse_money

DEFAULT_USERNAME = "demo_api"
DEFAULT_PASSWORD = "demo-password"
# With a control token set, every control call but health must carry it in this header.
CONTROL_TOKEN_HEADER = "X-Sandbox-Control-Token"
CONTROL_TOKEN_VARIABLE = "PAYTRACE_SANDBOX_CONTROL_TOKEN"


class SandboxSettings(BaseModel):
    """Validated sandbox settings; unknown keys are refused so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    time_zone: str = "America/Los_Angeles"
    batch_cutoff: str = "20:00"
    auto_settle: bool = True
    decline_amounts: list[str] = Field(default_factory=lambda: ["1.12", "0.29"])
    decline_http_status: int = Field(default=200, ge=200, le=599)
    validation_http_status: int = Field(default=400, ge=200, le=599)
    avs_response: str = "Full Exact Match"
    csc_response: str = "Match"
    avs_no_match_zips: list[str] = Field(default_factory=lambda: ["99999"])
    # When true, an AVS "No Match" is approved then voided at once (response 103).
    auto_void_on_avs_no_match: bool = False
    require_integrator_id: bool = False
    token_lifetime_seconds: int = Field(default=7200, ge=1)
    first_transaction_id: int = Field(default=100000001, ge=1)
    first_batch_number: int = Field(default=1, ge=1)
    amount_error_code: str = "39"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like America/Los_Angeles") from None
        return value

    @field_validator("batch_cutoff")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            parsed = datetime.strptime(value.strip(), "%H:%M").time()
        except ValueError:
            raise ValueError(f"batch_cutoff {value!r} must be HH:MM (merchant local time)") from None
        return parsed.strftime("%H:%M")

    @field_validator("decline_amounts")
    @classmethod
    def _two_decimals(cls, values: list[str]) -> list[str]:
        # Normalised so "1.1" and "1.10" trigger the same way the amount on the wire does.
        try:
            return [format_decimal(parse_money(str(value), field="decline_amounts")) for value in values]
        except MoneyError as exc:
            raise ValueError(str(exc)) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def cutoff(self) -> time:
        return time.fromisoformat(self.batch_cutoff)
