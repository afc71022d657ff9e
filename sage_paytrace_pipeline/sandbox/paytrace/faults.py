"""Fault injection: rules persisted in the state file, decisions deterministic from a seed.

A rule matches a route (or ``*``), fires with probability ``rate`` and at most ``count`` times.
Whether the n-th request a rule sees fires is a pure function of (seed, rule position, n), so a
test that sends the same requests in the same order gets the same faults in every process.
Faults never apply to the control API (``/_sandbox/*``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sage_paytrace_pipeline.sandbox.paytrace.store import bump_stat, get_meta, set_meta

FaultKind = Literal[
    "http_500", "http_502", "http_503", "http_504", "http_429",
    "html_block", "latency", "timeout_after_commit", "drop_connection",
]
# Faults that answer instead of the API; the request is never processed.
REPLACING_KINDS = frozenset({"http_500", "http_502", "http_503", "http_504", "http_429", "html_block"})
# Faults that let the request be processed (and committed) and then spoil the answer.
AFTER_COMMIT_KINDS = frozenset({"timeout_after_commit", "drop_connection"})

HTML_PAGES = {
    500: ("500 Internal Server Error", "We're sorry, but something went wrong."),
    502: ("502 Bad Gateway", "The server returned an invalid or incomplete response."),
    503: ("503 Service Temporarily Unavailable", "The server is temporarily unable to service your request."),
    504: ("504 Gateway Time-out", "The server didn't respond in time."),
    429: ("429 Too Many Requests", "You have sent too many requests in a given amount of time."),
    200: ("Request Rejected", "The requested URL was rejected. Please consult with your administrator."),
}


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: str = "*"
    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=0)
    latency_seconds: float = Field(default=0.0, ge=0.0, le=600.0)
    body: Literal["html", "empty"] = "html"


def replace_rules(conn: sqlite3.Connection, rules: list[dict], seed: int) -> None:
    """Install a new rule set; ids restart at 1 so decisions depend only on seed and order."""
    validated = [FaultRule.model_validate(rule) for rule in rules]
    conn.execute("DELETE FROM faults")
    for position, rule in enumerate(validated, start=1):
        conn.execute(
            "INSERT INTO faults (id, route, kind, rate, max_count, latency_seconds, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (position, rule.route, rule.kind, rule.rate, rule.count, rule.latency_seconds, rule.body),
        )
    set_meta(conn, "fault_seed", int(seed))


def list_faults(conn: sqlite3.Connection) -> dict:
    rows = conn.execute("SELECT * FROM faults ORDER BY id").fetchall()
    injected = conn.execute("SELECT key, value FROM stats WHERE key LIKE 'fault:%' ORDER BY key").fetchall()
    return {
        "seed": get_meta(conn, "fault_seed", 0),
        "rules": [_rule_dict(row) for row in rows],
        "injected_by_kind": {row["key"].removeprefix("fault:"): row["value"] for row in injected},
    }


def has_rules(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM faults LIMIT 1").fetchone() is not None


def draw_fault(conn: sqlite3.Connection, route: str) -> dict | None:
    """The fault for this request, if any (call inside a write transaction: counters move)."""
    seed = int(get_meta(conn, "fault_seed", 0))
    rows = conn.execute("SELECT * FROM faults WHERE route IN (?, '*') ORDER BY id", (route,)).fetchall()
    for row in rows:
        if row["max_count"] is not None and row["fired"] >= row["max_count"]:
            continue
        seen = row["seen"] + 1
        fires = _draw(seed, row["id"], seen) < row["rate"]
        conn.execute("UPDATE faults SET seen = ?, fired = fired + ? WHERE id = ?", (seen, int(fires), row["id"]))
        if fires:
            bump_stat(conn, f"fault:{row['kind']}")
            return _rule_dict(row)
    return None


def _draw(seed: int, rule_id: int, n: int) -> float:
    """A uniform number in [0, 1) that depends only on its inputs (no process-local RNG state)."""
    digest = hashlib.sha256(f"{seed}:{rule_id}:{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _rule_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"], "route": row["route"], "kind": row["kind"], "rate": row["rate"],
        "count": row["max_count"], "latency_seconds": row["latency_seconds"], "body": row["body"],
        "seen": row["seen"], "fired": row["fired"],
    }


def fault_status(kind: str) -> int:
    if kind == "html_block":
        return 200
    if kind == "timeout_after_commit":
        return 504
    return int(kind.removeprefix("http_"))


def fault_page(status: int) -> str:
    title, text = HTML_PAGES.get(status, HTML_PAGES[500])
    return (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{text}</p></body></html>\n")
