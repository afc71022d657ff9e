"""An outage the activity sensor sees is loud: counted in the sensor's cursor, alerted once, then a failed tick.

Dagster keeps a sensor's cursor only from a tick that returns, never from one that raises. So the
outage state lives in the cursor (`OutageState` under the key ``"outage"``) and advances on the quiet
ticks: the first ``automation.outage_alert_after_ticks - 1`` failing ticks are skips that say what
failed and how many ticks are left before the alert; the next one sends the alert to every configured
channel (once per outage) and records that; every later failing tick raises `PayTraceOutage`, which
the UI shows as a failed tick with the sentence, until PayTrace answers. The first answering tick
after an alerted outage sends one recovery alert and clears the state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from sage_paytrace_pipeline.config import AlertSettings
from sage_paytrace_pipeline.defs.alerts.channels import AlertDeliveryError
from sage_paytrace_pipeline.defs.alerts.message import AlertMessage, redact
from sage_paytrace_pipeline.defs.alerts.sensors import Channel, configured_channels
from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.paytrace.errors import PayTraceError, PayTraceUnreachable

OUTAGE_KEY = "outage"


class PayTraceOutage(Exception):
    """Raised from the sensor evaluation after the alert: Dagster shows the tick as failed, with this text."""


@dataclass(frozen=True)
class OutageState:
    failures: int = 0  # consecutive failing ticks
    since: str = ""  # when the first of them ran (UTC, ISO)
    alerted: bool = False
    error: str = ""  # the latest failure's sentence (scrubbed)


def _ticks(count: int) -> str:
    return f"{count} tick" if count == 1 else f"{count} ticks"


def outage_sentence(error: PayTraceError) -> str:
    """One scrubbed sentence: an unreachable server's own ("PayTrace at URL: ...; check ..."), else the kind."""
    if isinstance(error, PayTraceUnreachable):
        return scrub_text(error.message)
    return scrub_text(f"PayTrace unavailable: {type(error).__name__}: {error}")


def read_outage(cursor: str | None) -> OutageState:
    try:
        raw = json.loads(cursor or "{}").get(OUTAGE_KEY)
        return OutageState(**raw) if isinstance(raw, dict) else OutageState()
    except (ValueError, AttributeError, TypeError):
        return OutageState()


def with_outage(cursor: str | None, state: OutageState | None) -> str:
    """The cursor with its outage state replaced (None removes it); the day watermarks are kept."""
    try:
        data = json.loads(cursor or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    data.pop(OUTAGE_KEY, None)
    if state is not None:
        data[OUTAGE_KEY] = asdict(state)
    return json.dumps(data, sort_keys=True)


def outage_message(state: OutageState) -> AlertMessage:
    return AlertMessage(
        subject="[sage-paytrace] PayTrace unreachable: the pipeline is not reading payments",
        lines=(state.error,
               f"Failing since {state.since} ({state.failures} consecutive sensor ticks).",
               "Runs for new PayTrace activity start again by themselves when PayTrace answers; a recovery "
               "alert follows."))


def recovery_message(state: OutageState, now: datetime) -> AlertMessage:
    return AlertMessage(
        subject="[sage-paytrace] PayTrace answers again",
        lines=(f"PayTrace answered at {now.isoformat(timespec='seconds')} after failing since {state.since} "
               f"({state.failures} sensor ticks).",
               "The activity sensor is requesting runs for what changed meanwhile.",
               f"Last error was: {state.error}"))


def notify(channels: Sequence[Channel], message: AlertMessage) -> list[str]:
    """Send to every channel; a channel that fails does not stop the others. Returns the failures."""
    failed = []
    for channel in channels:
        secrets = channel.secret_variables
        redacted = AlertMessage(redact(message.subject, secrets),
                                tuple(redact(line, secrets) for line in message.lines))
        try:
            channel.send(redacted)
        except AlertDeliveryError as error:
            failed.append(str(error))
    return failed


@dataclass(frozen=True)
class OutageWatch:
    """What the sensor does on a failing tick and on an answering one."""

    alert_after_ticks: int
    channels: Sequence[Channel]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    @classmethod
    def from_settings(cls, alert_after_ticks: int, alerts: AlertSettings | None) -> OutageWatch:
        return cls(alert_after_ticks, configured_channels(alerts) if alerts else [])

    def failed(self, cursor: str | None, error: PayTraceError) -> tuple[str, str]:
        """(skip reason, new cursor) for a quiet failing tick; raises `PayTraceOutage` once alerted."""
        previous = read_outage(cursor)
        since = previous.since or self.now().isoformat(timespec="seconds")
        state = replace(previous, failures=previous.failures + 1, since=since, error=outage_sentence(error))
        if state.alerted:
            alerted = "alert sent" if self.channels else "no alert channel configured"
            raise PayTraceOutage(f"{state.error} (failing since {state.since}, {_ticks(state.failures)}; {alerted})")
        if state.failures < self.alert_after_ticks:
            left = self.alert_after_ticks - state.failures
            return (f"{state.error} (failing tick {state.failures}; alert after {left} more)",
                    with_outage(cursor, state))
        failures = notify(self.channels, outage_message(state))
        if not self.channels:
            sent = "no alert channel configured (`alerts` section)"
        else:
            sent = f"alert delivery failed: {'; '.join(failures)}" if failures else "alert sent"
        state = replace(state, alerted=True)
        return (f"{state.error} (failing since {state.since}, {_ticks(state.failures)}; {sent}; further failing "
                "ticks fail)", with_outage(cursor, state))

    def answered(self, cursor: str | None) -> tuple[str | None, str | None]:
        """(note, cursor without the outage) after a tick PayTrace answered; the recovery alert if one is due."""
        previous = read_outage(cursor)
        if previous.failures == 0:
            return None, cursor
        note = None
        if previous.alerted:
            failures = notify(self.channels, recovery_message(previous, self.now()))
            note = "PayTrace answers again; recovery alert " + (
                "sent" if not failures else f"delivery failed: {'; '.join(failures)}")
        return note, with_outage(cursor, None)
