"""The store inbox on both databases: a SQLite file, and a PostgreSQL database made for the test and dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Product, Shop
from sage_paytrace_pipeline.store.inbox import open_inbox, sqlite_url

POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
SECRET = "woo-secret-for-tests"
SHOPIFY_SECRET = "shopify-secret-for-tests"
CATALOGUE = {sku: Product(sku, name, Decimal(price)) for sku, name, price in (
    ("BOLT-1420", "Hex Bolt 1/4-20 x 1 (box 100)", "14.95"),
    ("GLOVE-NIT", "Nitrile Gloves (box 100)", "12.99"),
    ("DRILL-18V", "Cordless Drill 18V", "149.00"))}
GUEST = Buyer("Dana", "Lee", "dana@example.com", "12 Pine St", "Seattle", "WA", "98101")


@pytest.fixture
def shop() -> Shop:
    return Shop(CATALOGUE)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = open_inbox(sqlite_url(str(tmp_path / "inbox.sqlite")))
        yield engine
        engine.dispose()
        return
    name = f"store_inbox_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = open_inbox(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
