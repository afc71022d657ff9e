"""SQLite connections to the demo company with explicit type adapters.

Python 3.12 deprecated sqlite3's implicit date adapters, so they are registered here by name:
dates travel as ISO 'YYYY-MM-DD' text, `Decimal` as its exact text, and columns declared DATE /
DECIMAL come back as `date` / `Decimal`. Money and quantity columns are declared ``DECIMAL
TEXT(p,s)`` (schema.py): TEXT affinity keeps the text exactly as written (`decimal_text`), where
NUMERIC affinity would store '12.30' as the double 12.3. SQL over them compares text: sums and
comparisons of amounts are done on `Decimal`s in Python.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError


def decimal_text(value: Decimal, scale: int) -> str:
    """How the demo company stores a decimal: rounded half-up to the column's scale (as
    domain/money rounds), as plain text with exactly `scale` decimals, never "-0.00"."""
    rounded = value.quantize(_QUANTUM[scale] if scale < len(_QUANTUM) else Decimal(1).scaleb(-scale),
                             rounding=ROUND_HALF_UP) + 0  # + 0 drops a negative zero
    return f"{rounded:.{scale}f}"


_QUANTUM = tuple(Decimal(1).scaleb(-scale) for scale in range(10))


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
            f"Sage 100 demo company {path} does not exist; check SAGE100_DATABASE, or create it with "
            f"`sage-paytrace sandbox sage100 create --db {path}`"
        )
    if read_only:
        _roll_back_an_interrupted_write(path)
    mode = "ro" if read_only else ("rwc" if create else "rw")
    connection = _connect(path, mode)
    if not read_only:
        # Deleted entry rows (posted receipts) are zeroed on disk, so no old value lingers in free space.
        connection.execute("PRAGMA secure_delete = ON")
    return connection


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    return sqlite3.connect(uri, uri=True, detect_types=sqlite3.PARSE_DECLTYPES)


def _roll_back_an_interrupted_write(path: Path) -> None:
    """A process killed inside a write leaves its rollback journal (`<file>-journal`, "hot") beside
    the file, and a `mode=ro` connection cannot roll it back ("attempt to write a readonly
    database"). So when a journal is there, one read-write connection reads first: SQLite rolls a
    hot journal back on that read, and leaves alone the journal of a write still in progress in
    another process (it holds its lock; the read then waits or sees the last commit)."""
    journal = path.with_name(path.name + "-journal")
    if not journal.exists():
        return
    try:
        connection = _connect(path, "rw")
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise Sage100ConnectionError(
            f"Sage 100 demo company {path}: a write was interrupted and its journal {journal.name} could not "
            f"be rolled back ({exc}); the reader needs write access to the file and its folder once") from exc
