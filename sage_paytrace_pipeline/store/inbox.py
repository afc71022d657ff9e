"""The durable inbox of store deliveries: SQLite by default, PostgreSQL in production (SQLAlchemy Core).

Three tables:

- ``store_deliveries``: one row per accepted delivery (webhook or reconcile poll), unique by
  (platform, delivery id): a replayed request is recognized and stores nothing new;
- ``store_orders``: the newest known state of each order, unique by (platform, order id). A
  delivery replaces it only when its modification time is newer (an atomic conditional upsert), so
  an older ``order.updated`` arriving late never overwrites a newer one, and the same state sent
  twice (a retry with a new delivery id) changes nothing;
- ``store_refunds``: refunds the store reports (Shopify ``refunds/create``, WooCommerce ``refunds[]``).

Every write is one transaction committed before the receiver answers. Payloads are stored scrubbed
(domain/pci.py): no card number or token reaches the inbox. The receiver uses only this module, never
DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.pci import scrub_payload
from sage_paytrace_pipeline.domain.store_orders import StoreOrder, StoreRefund, parse_store_order

metadata = sa.MetaData()

deliveries = sa.Table(
    "store_deliveries", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(20), nullable=False),
    sa.Column("delivery_id", sa.String(200), nullable=False),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("source", sa.String(200), nullable=False, server_default=""),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("order_id", sa.String(60), nullable=False, server_default=""),
    # applied | unchanged (same or older modification) | refund | invalid (signed but unusable) | ignored
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.UniqueConstraint("platform", "delivery_id", name="uq_store_deliveries_delivery"),
)

orders = sa.Table(
    "store_orders", metadata,
    sa.Column("platform", sa.String(20), primary_key=True),
    sa.Column("order_id", sa.String(60), primary_key=True),
    sa.Column("number", sa.String(60), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("paid", sa.Boolean, nullable=False),
    # microseconds since the epoch, UTC: compared the same way by every database
    sa.Column("modified_us", sa.BigInteger, nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("delivery_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

refunds = sa.Table(
    "store_refunds", metadata,
    sa.Column("platform", sa.String(20), primary_key=True),
    sa.Column("refund_id", sa.String(60), primary_key=True),
    sa.Column("order_id", sa.String(60), nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(60), nullable=False, server_default=""),
    sa.Column("delivery_seq", sa.Integer, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

# Orders in Sage: written by the Dagster run after the Sage writer confirmed order + invoice. The
# writer's references make a lost row harmless (the next run finds the documents and writes this).
postings = sa.Table(
    "store_postings", metadata,
    sa.Column("platform", sa.String(20), primary_key=True),
    sa.Column("order_id", sa.String(60), primary_key=True),
    sa.Column("number", sa.String(60), nullable=False),
    sa.Column("reference", sa.String(30), nullable=False),
    sa.Column("division", sa.String(2), nullable=False),
    sa.Column("customer_no", sa.String(20), nullable=False),
    sa.Column("customer_method", sa.String(20), nullable=False),
    sa.Column("sales_order_no", sa.String(7), nullable=False),
    sa.Column("invoice_no", sa.String(7), nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("paytrace_transaction_id", sa.String(40), nullable=False),
    sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    # Under a currency conversion: the store's total (PayTrace's currency; total_cents is Sage's) and the
    # rate of the payment's business day the invoice was written at; NULL without one.
    sa.Column("paytrace_amount_cents", sa.BigInteger, nullable=True),
    sa.Column("fx_rate", sa.String(24), nullable=True),
)
# Columns added after the first release: an inbox made before them gets them at open (ALTER TABLE).
_ADDED_COLUMNS = {"store_postings": ("paytrace_amount_cents BIGINT", "fx_rate VARCHAR(24)")}

Outcome = Literal["applied", "unchanged", "refund", "invalid", "ignored", "duplicate"]


@dataclass(frozen=True)
class Delivery:
    """One signed delivery as received (or one order read by the reconcile poll)."""

    platform: str
    delivery_id: str
    topic: str
    source: str
    body: bytes


@dataclass(frozen=True)
class Accepted:
    outcome: Outcome
    seq: int | None  # the delivery row; None for a duplicate delivery id
    order_id: str = ""
    error: str = ""


def open_inbox(url: str) -> Engine:
    """The inbox at `url` (``sqlite:///path`` or ``postgresql+psycopg2://...``), tables created if missing."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the sensor) never block the receiver
            cursor.execute("PRAGMA synchronous=FULL")  # durable before the answer
            cursor.close()
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    for table, definitions in _ADDED_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [definition for definition in definitions if definition.split()[0] not in present]
        if missing:
            with engine.begin() as connection:
                for definition in missing:
                    connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {definition}"))


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def epoch_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# SQLite has one writer at a time; waiting in its busy handler (sleeps of up to 100 ms) made the
# receiver's slowest answers seconds long under concurrent deliveries, so a process queues its own
# writers here instead. PostgreSQL needs no such thing.
_SQLITE_WRITES = threading.Lock()


def accept(engine: Engine, delivery: Delivery, *, now: datetime | None = None) -> Accepted:
    """Store one verified delivery durably (one transaction) and say what it changed."""
    if engine.dialect.name == "sqlite":
        with _SQLITE_WRITES:
            return _accept(engine, delivery, now=now)
    return _accept(engine, delivery, now=now)


def _accept(engine: Engine, delivery: Delivery, *, now: datetime | None) -> Accepted:
    received_at = now or datetime.now(UTC)
    digest = body_hash(delivery.body)
    try:
        payload = json.loads(delivery.body, parse_float=Decimal)
    except ValueError as error:
        return _record(engine, delivery, digest, received_at, "invalid", error=f"body is not JSON: {error}")
    if delivery.topic in ("refunds/create",):
        return _accept_refund(engine, delivery, digest, received_at, payload)
    if not delivery.topic.startswith(("order", "poll")):
        return _record(engine, delivery, digest, received_at, "ignored", error=f"topic {delivery.topic} not used")
    try:
        order = parse_store_order(delivery.platform, payload)
    except ValueError as error:
        return _record(engine, delivery, digest, received_at, "invalid", error=str(error))
    return _accept_order(engine, delivery, digest, received_at, payload=payload, order=order)


def _accept_order(engine: Engine, delivery: Delivery, digest: str, received_at: datetime, *, payload: Any,
                  order: StoreOrder) -> Accepted:
    with engine.begin() as connection:
        seq = _insert_delivery(connection, delivery, digest, received_at, order_id=order.order_id, outcome="applied")
        if seq is None:
            return Accepted("duplicate", None, order.order_id)
        row = {"platform": order.platform, "order_id": order.order_id, "number": order.number,
               "status": order.status, "paid": order.paid, "modified_us": epoch_us(order.modified_at),
               "total_cents": decimal_to_cents(order.total), "payload": _stored(payload), "body_sha256": digest,
               "delivery_seq": seq, "updated_at": received_at}
        changed = connection.execute(_newer_wins(connection, row)).rowcount
        for refund in order.refunds:
            _insert_refund(connection, order.platform, order.order_id, refund, seq=seq, received_at=received_at)
        if not changed:
            connection.execute(deliveries.update().where(deliveries.c.seq == seq).values(outcome="unchanged"))
            return Accepted("unchanged", seq, order.order_id)
    return Accepted("applied", seq, order.order_id)


def _accept_refund(engine: Engine, delivery: Delivery, digest: str, received_at: datetime, payload: Any) -> Accepted:
    if not isinstance(payload, dict) or not payload.get("id") or not payload.get("order_id"):
        return _record(engine, delivery, digest, received_at, "invalid",
                       error="refunds/create: the refund has no id or order_id; send Shopify's refund resource")
    amount = sum((Decimal(str(transaction.get("amount", "0"))) for transaction in payload.get("transactions") or []
                  if isinstance(transaction, dict) and transaction.get("kind") == "refund"), Decimal("0.00"))
    refund = StoreRefund(refund_id=str(payload["id"]), amount=amount, reason=str(payload.get("note") or "")[:60])
    order_id = str(payload["order_id"])
    with engine.begin() as connection:
        seq = _insert_delivery(connection, delivery, digest, received_at, order_id=order_id, outcome="refund")
        if seq is None:
            return Accepted("duplicate", None, order_id)
        _insert_refund(connection, delivery.platform, order_id, refund, seq=seq, received_at=received_at)
    return Accepted("refund", seq, order_id)


def _record(engine: Engine, delivery: Delivery, digest: str, received_at: datetime, outcome: Outcome, *,
            error: str) -> Accepted:
    """A signed delivery the pipeline cannot use: kept (with why) so it is reported, never lost."""
    with engine.begin() as connection:
        seq = _insert_delivery(connection, delivery, digest, received_at, order_id="", outcome=outcome, error=error)
    return Accepted(outcome if seq is not None else "duplicate", seq, error=error)


def _insert_delivery(connection: Connection, delivery: Delivery, digest: str, received_at: datetime, *, order_id: str,
                     outcome: str, error: str = "") -> int | None:
    values = {"platform": delivery.platform, "delivery_id": delivery.delivery_id[:200], "topic": delivery.topic[:60],
              "source": delivery.source[:200], "body_sha256": digest, "received_at": received_at,
              "order_id": order_id, "outcome": outcome, "error": error}
    statement = _dialect_insert(connection, deliveries).values(values)
    statement = statement.on_conflict_do_nothing(index_elements=["platform", "delivery_id"])
    return connection.execute(statement.returning(deliveries.c.seq)).scalar_one_or_none()


def _insert_refund(connection: Connection, platform: str, order_id: str, refund: StoreRefund, *, seq: int,
                   received_at: datetime) -> None:
    statement = _dialect_insert(connection, refunds).values(
        platform=platform, refund_id=refund.refund_id, order_id=order_id,
        amount_cents=decimal_to_cents(refund.amount), reason=refund.reason, delivery_seq=seq,
        received_at=received_at)
    connection.execute(statement.on_conflict_do_nothing(index_elements=["platform", "refund_id"]))


def _newer_wins(connection: Connection, row: dict[str, Any]) -> Any:
    statement = _dialect_insert(connection, orders).values(row)
    return statement.on_conflict_do_update(
        index_elements=["platform", "order_id"],
        set_={column: statement.excluded[column] for column in row if column not in ("platform", "order_id")},
        where=orders.c.modified_us < statement.excluded.modified_us,
    )


def _dialect_insert(connection: Connection, table: sa.Table) -> Any:
    return postgresql.insert(table) if connection.dialect.name == "postgresql" else sqlite.insert(table)


def _stored(payload: Any) -> str:
    return json.dumps(scrub_payload(payload), default=str, sort_keys=True)


# ----------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class InboxOrder:
    order: StoreOrder
    delivery_seq: int
    payload: dict


def last_poll_at(engine: Engine) -> datetime | None:
    """When the reconcile poll last brought a delivery (its cursor: the poll re-reads from a day before)."""
    with engine.connect() as connection:
        value = connection.execute(sa.select(sa.func.max(deliveries.c.received_at))
                                   .where(deliveries.c.topic == "poll")).scalar_one()
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def posting_count(engine: Engine) -> tuple[int, datetime | None]:
    """How many orders are in Sage, and when the last one got there."""
    with engine.connect() as connection:
        count, last = connection.execute(sa.select(sa.func.count(), sa.func.max(postings.c.posted_at))).one()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return int(count), last


def last_seq(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(deliveries.c.seq), 0))).scalar_one())


def changed_orders(engine: Engine, after_seq: int = 0) -> Iterator[InboxOrder]:
    """Orders whose newest state came with a delivery after `after_seq`, oldest change first."""
    query = (sa.select(orders.c.platform, orders.c.payload, orders.c.delivery_seq)
             .where(orders.c.delivery_seq > after_seq).order_by(orders.c.delivery_seq))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    for platform, payload, seq in rows:
        decoded = json.loads(payload, parse_float=Decimal)
        yield InboxOrder(parse_store_order(platform, decoded), int(seq), decoded)


def unposted_orders(engine: Engine) -> list[StoreOrder]:
    """Orders not yet recorded as in Sage, oldest change first (one query)."""
    query = (sa.select(orders.c.platform, orders.c.payload)
             .select_from(orders.outerjoin(postings, sa.and_(postings.c.platform == orders.c.platform,
                                                             postings.c.order_id == orders.c.order_id)))
             .where(postings.c.order_id.is_(None)).order_by(orders.c.delivery_seq))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [parse_store_order(platform, json.loads(payload, parse_float=Decimal)) for platform, payload in rows]


def record_postings(engine: Engine, rows: list[dict[str, Any]], *, now: datetime | None = None) -> None:
    """Remember orders the Sage writer confirmed (a row already there is kept)."""
    if not rows:
        return
    columns = [column.name for column in postings.columns if column.name != "posted_at"]
    values = [{**{column: row.get(column) for column in columns}, "posted_at": now or datetime.now(UTC)}
              for row in rows]
    with engine.begin() as connection:
        connection.execute(_dialect_insert(connection, postings).values(values)
                           .on_conflict_do_nothing(index_elements=["platform", "order_id"]))


def posting_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(
            sa.select(postings).order_by(postings.c.posted_at, postings.c.order_id))]


def refund_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(
            sa.select(refunds).order_by(refunds.c.delivery_seq, refunds.c.refund_id))]


def delivery_rows(engine: Engine, outcome: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(deliveries).order_by(deliveries.c.seq)
    if outcome:
        query = query.where(deliveries.c.outcome == outcome)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
