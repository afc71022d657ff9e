"""The sandbox's virtual clock, persisted in the state file so every process sees the same time.

Modes: ``real`` (wall clock), ``frozen`` (a fixed instant, moved only on request) and ``offset``
(wall clock plus a fixed offset, so time runs but on another day). Business facts (created,
settled, batch cutoffs, the ``Date`` header) use this clock; token lifetimes use the wall clock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sage_paytrace_pipeline.sandbox.paytrace.store import get_meta, parse_utc_text, set_meta, utc_text

MODES = ("real", "frozen", "offset")


@dataclass(frozen=True)
class ClockState:
    mode: str = "real"
    frozen_at: datetime | None = None  # UTC, for mode "frozen"
    offset_seconds: float = 0.0  # for mode "offset"


def wall_now() -> datetime:
    return datetime.now(UTC)


def read_clock(conn: sqlite3.Connection) -> ClockState:
    stored = get_meta(conn, "clock")
    if not stored:
        return ClockState()
    frozen = parse_utc_text(stored["frozen_at"]) if stored.get("frozen_at") else None
    return ClockState(stored["mode"], frozen, float(stored.get("offset_seconds", 0.0)))


def write_clock(conn: sqlite3.Connection, state: ClockState) -> None:
    set_meta(conn, "clock", {
        "mode": state.mode,
        "frozen_at": utc_text(state.frozen_at) if state.frozen_at else None,
        "offset_seconds": state.offset_seconds,
    })


def virtual_now(state: ClockState, wall: datetime | None = None) -> datetime:
    """The sandbox's current instant (UTC, tz-aware)."""
    wall = wall or wall_now()
    if state.mode == "frozen" and state.frozen_at is not None:
        return state.frozen_at
    if state.mode == "offset":
        return wall + timedelta(seconds=state.offset_seconds)
    return wall


def as_aware(moment: datetime, zone: ZoneInfo) -> datetime:
    """A naive datetime is merchant local time (how people and plans talk about the sandbox)."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def move_clock(
    state: ClockState,
    *,
    zone: ZoneInfo,
    at: datetime | None = None,
    advance_seconds: float | None = None,
    mode: str | None = None,
    wall: datetime | None = None,
) -> ClockState:
    """The new clock state. ``at`` freezes unless another mode is asked for; advancing a real
    clock turns it into an offset clock (time keeps running, shifted)."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"clock mode {mode!r} is not one of {', '.join(MODES)}")
    wall = wall or wall_now()
    target = as_aware(at, zone).astimezone(UTC) if at is not None else virtual_now(state, wall)
    target += timedelta(seconds=advance_seconds or 0.0)
    new_mode = mode or ("frozen" if at is not None else state.mode)
    if new_mode == "real" and mode is None:
        new_mode = "offset"  # only reached when advancing a real clock
    if new_mode == "real":
        return ClockState("real")
    if new_mode == "frozen":
        return ClockState("frozen", frozen_at=target)
    return ClockState("offset", offset_seconds=(target - wall).total_seconds())


def describe(state: ClockState, zone: ZoneInfo, wall: datetime | None = None) -> dict:
    now = virtual_now(state, wall).astimezone(zone)
    return {"now": now.isoformat(), "mode": state.mode, "time_zone": zone.key}
