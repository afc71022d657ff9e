"""Write-offs of the processor receivable: people's decisions in the warehouse, entries read back from Sage.

A decision is recorded in the warehouse (`pipeline.receivable_write_offs`, SAGE_PAYTRACE_WAREHOUSE),
the store the settlement run already reads beside its posting log, refund requests and dispute cases;
a decision is an event (who, when, why), not configuration. The run posts each one once
(domain/settlement/write_offs.py); whether it is in Sage is read back from Sage's GL detail, so a lost
warehouse row of a posted decision changes nothing in the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.domain.settlement.write_offs import (
    DECISION_COLUMNS,
    ReceivableByBatch,
    WriteOffPlan,
    plan_write_offs,
    receivable_by_batch,
    resolved_by_write_offs,
)
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.ledger import cents_of, gl_lines_of

TABLE = "pipeline.receivable_write_offs"
_DDL = f"""
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE SEQUENCE IF NOT EXISTS pipeline.receivable_write_off_ids START 1;
CREATE TABLE IF NOT EXISTS {TABLE} (
    decision_id BIGINT PRIMARY KEY DEFAULT nextval('pipeline.receivable_write_off_ids'),
    batch_number BIGINT NOT NULL,
    account VARCHAR NOT NULL,
    amount_cents BIGINT CHECK (amount_cents IS NULL OR amount_cents > 0),
    reason VARCHAR NOT NULL CHECK (length(trim(reason)) > 0),
    decided_by VARCHAR NOT NULL CHECK (length(trim(decided_by)) > 0),
    decided_at TIMESTAMPTZ NOT NULL,
    decided_on DATE NOT NULL,
    cancelled_by VARCHAR,
    cancelled_at TIMESTAMPTZ
)
"""


class WriteOffRefused(ValueError):
    """A decision that is not recorded: the message says why and what to check."""


class WriteOffStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        connection.execute(_DDL)

    def decisions(self) -> pd.DataFrame:
        """The decisions in force (not cancelled), DECISION_COLUMNS."""
        frame = self.connection.execute(
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM {TABLE} WHERE cancelled_at IS NULL ORDER BY decision_id").df()
        frame["amount_cents"] = frame["amount_cents"].astype("Int64")
        frame["decided_on"] = pd.to_datetime(frame["decided_on"]).dt.date
        return frame

    def add(self, batch_number: int, account: str, *, amount_cents: int | None, reason: str, by: str,
            decided_on: date) -> int:
        row = self.connection.execute(
            f"INSERT INTO {TABLE} (batch_number, account, amount_cents, reason, decided_by, decided_at, decided_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING decision_id",
            [batch_number, account, amount_cents, reason, by, datetime.now(UTC), decided_on]).fetchone()
        assert row is not None
        return int(row[0])

    def cancel(self, decision_id: int, by: str) -> None:
        self.connection.execute(f"UPDATE {TABLE} SET cancelled_by = ?, cancelled_at = ? WHERE decision_id = ?",
                                [by, datetime.now(UTC), decision_id])


def receivable_in_sage(reader: Sage100Reader, receivable_account: str) -> ReceivableByBatch:
    """What the processor receivable holds per batch, read back from Sage's GL detail of that account."""
    rows = gl_lines_of(reader, reader.gl_accounts(), receivable_account,
                       ["PostingComment", "DebitAmount", "CreditAmount"])
    return receivable_by_batch([row["PostingComment"] for row in rows],
                               cents_of(rows, "DebitAmount"), cents_of(rows, "CreditAmount"))


def _receivable_account(config: PipelineConfig) -> str:
    account = config.gl_accounts.processor_receivable
    if config.settlement is None or account is None:
        raise WriteOffRefused("write-offs clear the processor receivable: set `settlement` and "
                              "gl_accounts.processor_receivable (README \"Short and missing deposits\")")
    return account


def write_off_plan(config: PipelineConfig, reader: Sage100Reader, decisions: pd.DataFrame) -> WriteOffPlan:
    """The entries of the decisions not yet in Sage (and the refused ones), as the settlement run posts them."""
    account = _receivable_account(config)
    active = {gl.account for gl in reader.gl_accounts() if gl.active}
    assert config.settlement is not None
    return plan_write_offs(decisions, receivable_in_sage(reader, account), receivable_account=account,
                           active_accounts=active, first_open_date=config.settlement.first_open_date)


@dataclass(frozen=True)
class RecordedWriteOff:
    decision_id: int
    batch_number: int
    amount_cents: int  # what the next run posts (the decision's amount, or all that is open now)
    open_cents: int


def record_write_off(store: WriteOffStore, config: PipelineConfig, reader: Sage100Reader, *, batch_number: int,
                     account: str, reason: str, by: str, decided_on: date,
                     amount_cents: int | None = None) -> RecordedWriteOff:
    """Record a person's decision to write off what the receivable holds for a batch (or `amount_cents` of
    it), after checking it against Sage: a batch holding nothing, an amount above what it holds (less the
    decisions not yet posted), an account Sage does not have active are refused and nothing is written."""
    receivable = _receivable_account(config)
    if not reason.strip():
        raise WriteOffRefused("say why: --reason TEXT is recorded with the decision")
    active = {gl.account for gl in reader.gl_accounts() if gl.active}
    if account not in active or account == receivable:
        raise WriteOffRefused(f"account {account} is not an active Sage account other than the processor "
                              f"receivable {receivable}; name the expense account the loss goes to (e.g. 6160-00)")
    if amount_cents is not None and amount_cents <= 0:
        raise WriteOffRefused("--amount must be above 0.00")
    held = receivable_in_sage(reader, receivable)
    pending = write_off_plan(config, reader, store.decisions()[lambda d: d["batch_number"] == batch_number])
    waiting = int(pending.entries["debit_cents"].sum()) if len(pending.entries) else 0
    open_cents = held.open_for(batch_number) - waiting
    if open_cents <= 0:
        already = f" ({_cents(waiting)} of it decided already, posted by the next run)" if waiting else ""
        raise WriteOffRefused(
            f"the processor receivable holds nothing for batch {batch_number}{already}: check the batch number "
            f"(the settlement exception deposit_variance / deposit_missing names it), that its short or missing "
            f"deposit was booked (entry PT-B{batch_number}-… or PT-M{batch_number}-…, read from Sage's GL detail of "
            f"{receivable}) and that no late deposit or credit has cleared it; nothing recorded")
    if amount_cents is not None and amount_cents > open_cents:
        raise WriteOffRefused(f"{_cents(amount_cents)} is more than the {_cents(open_cents)} the processor receivable "
                              f"still holds for batch {batch_number}; nothing recorded")
    decision = store.add(batch_number, account, amount_cents=amount_cents, reason=scrub_text(reason.strip()), by=by,
                         decided_on=decided_on)
    return RecordedWriteOff(decision, batch_number, amount_cents or open_cents, open_cents)


def cancel_write_off(store: WriteOffStore, config: PipelineConfig, reader: Sage100Reader, decision_id: int, *,
                     by: str) -> None:
    """Cancel a decision in force that is not in Sage yet (a posted one is reversed by a journal entry)."""
    decisions = store.decisions()
    if decision_id not in set(decisions["decision_id"].astype("int64")):
        raise WriteOffRefused(f"no write-off #{decision_id} in force (see `sage-paytrace settlement write-offs`)")
    if decision_id in receivable_in_sage(reader, _receivable_account(config)).written:
        raise WriteOffRefused(f"write-off #{decision_id} is posted in Sage already; reverse its entry by hand "
                              "(Dr processor receivable / Cr the account it went to) if it was wrong")
    store.cancel(decision_id, by)


def _cents(cents: int) -> str:
    return format_cents([cents])[0]


__all__ = ["TABLE", "RecordedWriteOff", "WriteOffRefused", "WriteOffStore", "cancel_write_off", "receivable_in_sage",
           "record_write_off", "resolved_by_write_offs", "write_off_plan"]
