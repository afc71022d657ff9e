"""The console's durable tables (SQLAlchemy Core: SQLite by default, PostgreSQL in production).

`console_decisions`: what a person decided about an exception or a request (link a payer, apply a
payment to an invoice, mark reviewed, approve or reject a refund), one row per decision; an invoice
choice is also a row of `invoice_choices` (receivables/invoice_choices.py), which the next run
reads. `console_audit`: every decision and every log-in, with who, when, what and the state before
and after, append-only. A decision and its audit row are written in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sage_paytrace_pipeline.domain.free_text import sheet_safe
from sage_paytrace_pipeline.receivables.invoice_choices import create_tables as create_invoice_choice_table

METADATA = sa.MetaData()

DECISIONS = sa.Table(
    "console_decisions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),  # link_payer, mark_reviewed, approve_refund...
    sa.Column("item_key", sa.String(64), nullable=False, index=True),  # the exception's (or request's) key
    sa.Column("area", sa.String(64), nullable=False, server_default=""),
    sa.Column("kind", sa.String(64), nullable=False, server_default=""),
    sa.Column("source_ids", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),  # JSON: the decision's values
)

AUDIT = sa.Table(
    "console_audit", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("subject", sa.Text, nullable=False, server_default=""),
    sa.Column("before", sa.Text, nullable=False, server_default=""),
    sa.Column("after", sa.Text, nullable=False, server_default=""),
    sa.Column("outcome", sa.String(16), nullable=False),  # done, refused
    sa.Column("address", sa.String(64), nullable=False, server_default=""),
)

AUDIT_COLUMNS = ("id", "at", "actor", "action", "subject", "before", "after", "outcome", "address")


@dataclass(frozen=True)
class Decision:
    actor: str
    decision: str
    item_key: str
    area: str = ""
    kind: str = ""
    source_ids: str = ""
    detail: dict[str, Any] | None = None


class ConsoleStore:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, future=True)
        METADATA.create_all(self.engine)
        create_invoice_choice_table(self.engine)  # the console's choices the pipeline's runs read

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ writes

    def record(self, decision: Decision, *, before: object, after: object, address: str = "",
               also: Callable[[sa.Connection], None] | None = None) -> int:
        """The decision and its audit row, together (with `also`: what the pipeline reads of it, such as
        an invoice choice, in the same transaction); returns the decision's id."""
        now = _now()
        with self.engine.begin() as connection:
            if also is not None:
                also(connection)
            inserted = connection.execute(DECISIONS.insert().values(
                decided_at=now, actor=decision.actor, decision=decision.decision, item_key=decision.item_key,
                area=decision.area, kind=decision.kind, source_ids=decision.source_ids,
                detail=json.dumps(decision.detail or {}, sort_keys=True)))
            connection.execute(AUDIT.insert().values(
                at=now, actor=decision.actor, action=decision.decision, subject=_subject(decision),
                before=_text(before), after=_text(after), outcome="done", address=address))
            key = inserted.inserted_primary_key
            assert key is not None
            return int(key[0])

    def audit(self, *, actor: str, action: str, subject: str, outcome: str, before: object = "",
              after: object = "", address: str = "") -> None:
        """An audit row without a decision: a log-in, a refused action."""
        with self.engine.begin() as connection:
            connection.execute(AUDIT.insert().values(
                at=_now(), actor=actor, action=action, subject=subject, before=_text(before), after=_text(after),
                outcome=outcome, address=address))

    # ------------------------------------------------------------ reads

    def latest_decisions(self, item_keys: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each item's latest decision (by key): what the queue shows next to it.

        Many keys (a whole queue) read every item's latest decision in one query: decisions are made by
        people, so there are far fewer of them than exceptions; a few keys are looked up by key."""
        latest = sa.select(sa.func.max(DECISIONS.c.id)).group_by(DECISIONS.c.item_key)
        keys = None if item_keys is None else list(item_keys)
        if keys is not None and len(keys) <= 500:
            latest = latest.where(DECISIONS.c.item_key.in_(keys))
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(DECISIONS).where(DECISIONS.c.id.in_(latest.scalar_subquery()))
                                      ).mappings()
            found = {row["item_key"]: dict(row) for row in rows}
        if keys is None or len(keys) <= 500:
            return found
        wanted = set(keys)
        return {key: row for key, row in found.items() if key in wanted}

    def decisions_version(self) -> int:
        """The latest decision's id: changes whenever a decision is recorded."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(DECISIONS.c.id))).scalar() or 0)

    def reviewed_keys(self) -> list[str]:
        """The items whose latest decision is "mark reviewed" (the queue leaves them out unless asked)."""
        latest = sa.select(sa.func.max(DECISIONS.c.id)).group_by(DECISIONS.c.item_key).scalar_subquery()
        query = sa.select(DECISIONS.c.item_key).where(DECISIONS.c.id.in_(latest),
                                                      DECISIONS.c.decision == "mark_reviewed")
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def decisions_by_day(self) -> dict[str, int]:
        """Items decided (linked, reviewed, approved, rejected) per day (UTC): what the console closed."""
        with self.engine.connect() as connection:
            stamps = connection.execute(sa.select(DECISIONS.c.decided_at)).scalars().all()
        counts: dict[str, int] = {}
        for stamp in stamps:
            day = stamp.date().isoformat()
            counts[day] = counts.get(day, 0) + 1
        return counts

    def audit_rows(self, *, limit: int = 200, offset: int = 0, actor: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(AUDIT).order_by(AUDIT.c.id.desc())
        if actor:
            query = query.where(AUDIT.c.actor == actor)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query.limit(limit).offset(offset)).mappings()]

    def audit_csv(self) -> str:
        """The whole trail, oldest first, as CSV a spreadsheet opens safely (no cell runs as a formula)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(AUDIT_COLUMNS)
        with self.engine.connect() as connection:
            for row in connection.execute(sa.select(AUDIT).order_by(AUDIT.c.id)).mappings():
                writer.writerow([sheet_safe(_cell(row[column])) for column in AUDIT_COLUMNS])
        return buffer.getvalue()


def _subject(decision: Decision) -> str:
    where = " ".join(part for part in (decision.area, decision.kind, decision.source_ids) if part)
    return f"{decision.item_key} {where}".strip()


def _text(value: object) -> str:
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def _now() -> datetime:
    return datetime.now(UTC)
