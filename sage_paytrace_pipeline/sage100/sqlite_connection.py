"""SQLite connections to the demo company with explicit type adapters.

Python 3.12 deprecated sqlite3's implicit date adapters, so they are registered here by name:
dates travel as ISO 'YYYY-MM-DD' text, `Decimal` as its exact text (stored with NUMERIC affinity),
and columns declared DATE / DECIMAL come back as `date` / `Decimal`.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError


def _convert_date(raw: bytes) -> date | None:
    text = raw.decode()
    return date.fromisoformat(text[:10]) if text else None


def register_sqlite_types() -> None:
    """Idempotent: the registrations are process-wide and keyed by type / declared name."""
    sqlite3.register_adapter(date, date.isoformat)
    sqlite3.register_adapter(datetime, lambda value: value.isoformat(sep=" "))
    sqlite3.register_adapter(Decimal, str)
    sqlite3.register_converter("DATE", _convert_date)
    sqlite3.register_converter("DECIMAL", lambda raw: Decimal(raw.decode()))


def open_demo_database(path: str | Path, *, read_only: bool = False, create: bool = False) -> sqlite3.Connection:
    """Open a demo company file; read-only uses a `mode=ro` URI so no write can slip through."""
    register_sqlite_types()
    path = Path(path)
    if not create and not path.exists():
        raise Sage100ConnectionError(
            f"Sage 100 demo company {path} does not exist; create it with "
            f"`sage-paytrace sandbox sage100 create --db {path}` or fix the path"
        )
    mode = "ro" if read_only else ("rwc" if create else "rw")
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    connection = sqlite3.connect(uri, uri=True, detect_types=sqlite3.PARSE_DECLTYPES)
    if not read_only:
        # Deleted entry rows (posted receipts) are zeroed on disk, so no old value lingers in free space.
        connection.execute("PRAGMA secure_delete = ON")
    return connection
