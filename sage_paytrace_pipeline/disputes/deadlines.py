"""Deadline alerts: a new open case, and its merchant due date coming within `warn_days`.

Each alert goes to each channel once: `pipeline.dispute_alerts_sent` keeps (case, kind, due date,
channel) of every delivery, so a re-run or the next sensor tick sends nothing again, a channel
that failed is tried again on the next tick without repeating the others, and a pre-arbitration's
new due date is a new warning. The channels themselves are the alert channels' (defs/alerts/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.money import cents_to_decimal

SENT = "pipeline.dispute_alerts_sent"
NEW_CASE, DUE_SOON = "new_case", "due_soon"
_NO_DATE = date(1900, 1, 1)  # the key of an alert about a case with no due date

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS {SENT} (
    case_number VARCHAR NOT NULL, kind VARCHAR NOT NULL, due_date DATE NOT NULL, channel VARCHAR NOT NULL,
    subject VARCHAR NOT NULL, sent_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (case_number, kind, due_date, channel)
)
"""


@dataclass(frozen=True)
class DeadlineAlert:
    case_number: str
    kind: str
    due_date: date
    subject: str
    lines: tuple[str, ...]


class AlertLog:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        connection.execute(_DDL)

    def sent(self) -> set[tuple[str, str, date, str]]:
        return {(str(c), str(k), pd.Timestamp(d).date(), str(ch)) for c, k, d, ch in self.connection.execute(
            f"SELECT case_number, kind, due_date, channel FROM {SENT}").fetchall()}

    def record(self, alert: DeadlineAlert, channel: str) -> None:
        self.connection.execute(f"INSERT INTO {SENT} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                [alert.case_number, alert.kind, alert.due_date, channel, alert.subject,
                                 datetime.now(UTC)])

    def frame(self) -> pd.DataFrame:
        return self.connection.execute(f"SELECT * FROM {SENT} ORDER BY sent_at").df()


def deadline_alerts(cases: pd.DataFrame, *, today: date, warn_days: int) -> list[DeadlineAlert]:
    """Every alert the open cases call for today (delivered or not: `deliver` skips what was sent)."""
    if cases.empty:
        return []
    open_cases = cases[cases["status"] == "open"]
    alerts = []
    for case in open_cases.to_dict("records"):
        due = case["merchant_due_date"] if isinstance(case["merchant_due_date"], date) else None
        alerts.append(_alert(case, NEW_CASE, due))
        if due is not None and today >= due - timedelta(days=warn_days):
            alerts.append(_alert(case, DUE_SOON, due, today=today))
    return alerts


def deliver(alerts: Iterable[DeadlineAlert], channels: dict[str, Callable[[DeadlineAlert], None]],
            log: AlertLog) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Send each alert to each channel that has not had it; ([(case, kind, channel)] sent, errors)."""
    sent_before = log.sent()
    sent, errors = [], []
    for alert in alerts:
        for name, send in channels.items():
            if (alert.case_number, alert.kind, alert.due_date, name) in sent_before:
                continue
            try:
                send(alert)
            except Exception as error:  # one channel down must not keep the others from their alerts
                errors.append(f"{name}: {alert.subject}: {error}")
                continue
            log.record(alert, name)
            sent.append((alert.case_number, alert.kind, name))
    return sent, errors


def _alert(case: dict, kind: str, due: date | None, *, today: date | None = None) -> DeadlineAlert:
    amount = f"${cents_to_decimal(int(case['amount_cents'])):,}"
    what = f"{case['stage'].replace('_', '-')} {case['reason_code']} ({case['reason_family'].replace('_', ' ')})"
    by = f"respond by {due.isoformat()}" if due else "no merchant due date in the report"
    if kind == NEW_CASE:
        subject = f"New dispute case {case['case_number']}: {what}, {amount}, {by}"
    else:
        assert today is not None and due is not None
        left = (due - today).days
        when = f"due in {left} days" if left > 0 else ("due today" if left == 0 else f"OVERDUE by {-left} days")
        subject = f"Dispute case {case['case_number']} {when} ({due.isoformat()}): {what}, {amount}"
    sale = case.get("sale_transaction_id")
    candidates = case.get("candidates") or "no candidate"
    sale_text = (f"PayTrace sale {int(sale)}" if sale is not None and not pd.isna(sale)
                 else f"sale not identified ({case.get('link', 'unknown')}: {candidates})")
    lines = (subject, f"Card ending {case['card_last4']}, transaction {case['transaction_date']}; {sale_text}.",
             f"Network {case['network']}, stages so far: {case['stages']}.",
             f"What to send: {case['evidence']}.",
             "Respond through the processor's portal with the case number; `sage-paytrace disputes list --open` "
             "shows every open case.")
    return DeadlineAlert(str(case["case_number"]), kind, due or _NO_DATE, subject, lines)
