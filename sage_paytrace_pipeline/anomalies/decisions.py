"""A person's decision on a suggestion: accepted (a customer link the next run uses) or rejected, recorded with
who and when in the warehouse (`pipeline.suggestion_decisions`); once there are enough, the ranking learns its
weights from them (domain/suggestions/learning.py).

Accepting a customer for a payment with a PayTrace vault customer id writes the operator link
(config `customer_links`, as `sage-paytrace link add` does): the next run posts the payment to that
customer, once. A payment without a vault id, or an invoice suggestion, cannot be turned into a
link: the decision is refused with what to do in Sage instead, and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import add_customer_link

_TABLE = """CREATE TABLE IF NOT EXISTS pipeline.suggestion_decisions (
    transaction_id BIGINT, business_date DATE, rank BIGINT, target VARCHAR, division VARCHAR, customer_no VARCHAR,
    invoice_nos VARCHAR, score DOUBLE, reasons VARCHAR, decision VARCHAR, decided_by VARCHAR,
    decided_at TIMESTAMPTZ)"""


@dataclass(frozen=True)
class Suggestion:
    transaction_id: int
    business_date: object
    rank: int
    target: str
    division: str
    customer_no: str
    invoice_nos: str
    score: float
    reasons: str
    vault_id: str


def suggestion_of(connection: duckdb.DuckDBPyConnection, transaction_id: int, rank: int) -> Suggestion:
    """The candidate `rank` of the latest day that suggested any for the transaction."""
    rows = connection.execute(
        "SELECT s.transaction_id, s.business_date, s.rank, s.target, s.division, s.customer_no, s.invoice_nos, "
        "s.score, s.reasons, coalesce((SELECT max(t.customer_id) FROM pipeline.paytrace_transactions t "
        "WHERE t.transaction_id = s.transaction_id), '') FROM pipeline.exception_suggestions s "
        "WHERE s.transaction_id = ? AND s.business_date = (SELECT max(business_date) FROM "
        "pipeline.exception_suggestions WHERE transaction_id = ?) ORDER BY s.rank", [transaction_id, transaction_id],
    ).fetchall()
    if not rows:
        raise LookupError(f"transaction {transaction_id} has no suggestions in the warehouse (is it an unknown or "
                          "ambiguous customer or an unapplied payment of a day that has run?)")
    chosen = [row for row in rows if row[2] == rank]
    if not chosen:
        raise LookupError(f"transaction {transaction_id} has {len(rows)} candidate(s); --candidate {rank} is not one")
    return Suggestion(*chosen[0])


def accept(connection: duckdb.DuckDBPyConnection, config: Path, transaction_id: int, rank: int, *, by: str,
           now: datetime, choose_invoice: Callable[[Suggestion], str] | None = None) -> str:
    """Turn the candidate into what the next run uses and record the decision; what was done. A
    customer becomes an operator link; one invoice becomes an invoice choice through `choose_invoice`
    (the console's decisions store, which the receivables read), which says what it did."""
    chosen = suggestion_of(connection, transaction_id, rank)
    target = f"{chosen.division}-{chosen.customer_no}"
    if chosen.target != "customer":
        done = _choose_invoice(chosen, rank, target, choose_invoice)
        record(connection, chosen, "accepted", by=by, now=now)
        return done
    if not chosen.vault_id:
        raise ValueError(f"transaction {transaction_id} has no PayTrace vault customer id, so no link can carry it to "
                         f"{target}: enter the receipt by hand in Sage for {target} with credit card transaction id "
                         f"{transaction_id}")
    add_customer_link(config, chosen.vault_id, target)
    record(connection, chosen, "accepted", by=by, now=now)
    return (f"linked vault customer {chosen.vault_id} to {target}; the next run of {chosen.business_date} posts "
            f"transaction {transaction_id} to it")


def _choose_invoice(chosen: Suggestion, rank: int, target: str,
                    choose_invoice: Callable[[Suggestion], str] | None) -> str:
    invoices = [number for number in chosen.invoice_nos.split(",") if number.strip()]
    if choose_invoice is None or len(invoices) != 1:
        why = ("the pipeline applies a payment to one chosen invoice" if len(invoices) != 1
               else "no decisions store is configured (config `console:`)")
        raise ValueError(f"candidate {rank} of transaction {chosen.transaction_id} is invoice(s) {chosen.invoice_nos} "
                         f"of {target} and {why}: apply the prepayment in Sage (A/R Cash Receipts Entry) to them")
    return choose_invoice(chosen)


def reject(connection: duckdb.DuckDBPyConnection, transaction_id: int, rank: int, *, by: str, now: datetime) -> str:
    chosen = suggestion_of(connection, transaction_id, rank)
    record(connection, chosen, "rejected", by=by, now=now)
    return f"recorded: candidate {rank} ({chosen.division}-{chosen.customer_no}) rejected for {transaction_id}"


def decided(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every recorded decision (target, reasons, decision), the examples the ranking learns from."""
    exists = connection.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'pipeline' "
                                "AND table_name = 'suggestion_decisions'").fetchone()
    if not exists or not exists[0]:
        return pd.DataFrame(columns=["target", "reasons", "decision"])
    return connection.execute("SELECT target, reasons, decision FROM pipeline.suggestion_decisions").df()


def record(connection: duckdb.DuckDBPyConnection, chosen: Suggestion, decision: str, *, by: str,
           now: datetime) -> None:
    connection.execute("CREATE SCHEMA IF NOT EXISTS pipeline")
    connection.execute(_TABLE)
    connection.execute("INSERT INTO pipeline.suggestion_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [chosen.transaction_id, chosen.business_date, chosen.rank, chosen.target, chosen.division,
                        chosen.customer_no, chosen.invoice_nos, chosen.score, chosen.reasons, decision, by, now])
