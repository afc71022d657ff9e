"""A person's choice of the invoice a payment pays (the console's "apply to an invoice"), read by matching.

A payment held because it names no invoice (or one that is not open, or another customer's) waits
for a clerk, who picks one open invoice of the payer in the console. The choice is a row of
`invoice_choices` (SQLAlchemy: SQLite beside the warehouse by default, PostgreSQL in production; the
console's decisions store). The next run reads it before matching and gives the payment that
invoice as its `invoice_id` (its description's invoice numbers dropped), so matching applies it the
way it applies any payment naming an open invoice (an amount above the invoice's balance stays a
prepayment, as usual). Exactly once: once Sage holds the receipt, the payment is carried from the
posting log and the choice is not read again; a payment Sage already holds is never re-chosen.

Same rule as a payer linked in the console (receivables/customer_links.py): the console stores the
decision, the pipeline's next run reads it; the console never writes to Sage itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

METADATA = sa.MetaData()

CHOICES = sa.Table(
    "invoice_choices", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("division", sa.String(2), nullable=False),
    sa.Column("customer_no", sa.String(20), nullable=False),
    sa.Column("invoice_no", sa.String(7), nullable=False),
    sa.Column("decided_by", sa.String(64), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("item_key", sa.String(64), nullable=False, server_default=""),  # the console's exception key
)

CHOICE_COLUMNS = ["transaction_id", "division", "customer_no", "invoice_no", "decided_by"]
CHOSEN_METHOD_NOTE = "invoice chosen in the console"


@dataclass(frozen=True)
class InvoiceChoice:
    transaction_id: int
    division: str
    customer_no: str
    invoice_no: str
    decided_by: str
    item_key: str = ""


def create_tables(engine: sa.Engine) -> None:
    METADATA.create_all(engine)


def insert_choice(connection: sa.Connection, choice: InvoiceChoice) -> None:
    """Record a choice (inside the caller's transaction: the console writes it with its audit row)."""
    connection.execute(CHOICES.insert().values(
        transaction_id=choice.transaction_id, division=choice.division, customer_no=choice.customer_no,
        invoice_no=choice.invoice_no, decided_by=choice.decided_by, decided_at=datetime.now(UTC),
        item_key=choice.item_key))


def latest_choices(engine: sa.Engine, transaction_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """The latest choice per payment (CHOICE_COLUMNS); none before the table exists."""
    if not sa.inspect(engine).has_table(CHOICES.name):
        return pd.DataFrame(columns=CHOICE_COLUMNS)
    latest = sa.select(sa.func.max(CHOICES.c.id)).group_by(CHOICES.c.transaction_id)
    wanted = None if transaction_ids is None else sorted({int(t) for t in transaction_ids})
    if wanted is not None and len(wanted) <= 1000:
        latest = latest.where(CHOICES.c.transaction_id.in_(wanted))
    query = sa.select(*(CHOICES.c[column] for column in CHOICE_COLUMNS)).where(
        CHOICES.c.id.in_(latest.scalar_subquery()))
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).fetchall(), columns=CHOICE_COLUMNS)
    if wanted is not None:
        frame = frame[frame["transaction_id"].isin(wanted)]
    return frame.astype({"transaction_id": "int64"}).reset_index(drop=True)


def read_choices(url: str | None, transaction_ids: Iterable[int]) -> pd.DataFrame:
    """The latest choices of these payments from the decisions store at `url` (none without one: a
    SQLite file that does not exist yet is not created)."""
    if not url or _missing_sqlite_file(url):
        return pd.DataFrame(columns=CHOICE_COLUMNS)
    engine = sa.create_engine(url, future=True)
    try:
        return latest_choices(engine, transaction_ids)
    finally:
        engine.dispose()


def with_invoice_choices(payments: pd.DataFrame, choices: pd.DataFrame, *, in_sage: set[int]) -> pd.DataFrame:
    """`payments` with each chosen payment not yet in Sage naming its chosen invoice (and no other)."""
    if payments.empty or choices.empty:
        return payments
    chosen = choices.drop_duplicates("transaction_id", keep="last").set_index("transaction_id")["invoice_no"]
    ids = payments["transaction_id"].astype("int64")
    hit = (ids.isin(chosen.index) & ~ids.isin(list(in_sage))).to_numpy()
    if not hit.any():
        return payments
    adjusted = payments.copy()
    adjusted["invoice_id"] = adjusted["invoice_id"].astype(object).where(~hit, ids.map(chosen).to_numpy()) \
        .astype(payments["invoice_id"].dtype)
    if "description" in adjusted:
        adjusted["description"] = adjusted["description"].astype(object).where(~hit, "")
    return adjusted


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or not Path(database).is_file()
