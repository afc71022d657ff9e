"""Prove a demo company file holds no card number: every stored text value, and the raw bytes.

The raw-byte scan catches what SQL cannot see (deleted rows, free pages, journals). SQLite writes a
row's values back to back, so neighbouring values can form a card-shaped digit run that no single
value contains ("2024-05-01" + "2024-05-31"). Those runs are recomputed here from the live rows,
encoded the way SQLite lays out record bodies, and only runs that the live records cannot explain
are reported.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

from sage_paytrace_pipeline.domain.cards import find_card_numbers, mask_pan


def card_numbers_in_database(path: str | Path) -> list[str]:
    """Findings (masked, with where) for stored values and raw file bytes; empty means clean."""
    path = Path(path)
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        findings = _scan_values(connection)
        explained = set(find_card_numbers("\n".join(_record_bodies(connection))))
    finally:
        connection.close()
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if file.exists():
            raw = file.read_bytes().decode("latin-1")
            findings += [f"{file.name}: raw bytes hold {mask_pan(digits)} outside any live value"
                         for digits in sorted(set(find_card_numbers(raw)) - explained)]
    return findings


def _tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return ["sqlite_master", *sorted(name for (name,) in rows if not name.startswith("sqlite_"))]


def _scan_values(connection: sqlite3.Connection) -> list[str]:
    findings = []
    for table in _tables(connection):
        cursor = connection.execute(f'SELECT rowid, * FROM "{table}"')
        columns = [d[0] for d in cursor.description][1:]
        for rowid, *values in cursor:
            for column, value in zip(columns, values, strict=True):
                text = value.decode("latin-1") if isinstance(value, bytes) else value
                if isinstance(text, str):
                    findings += [f"{table}.{column} rowid {rowid}: {mask_pan(d)}" for d in find_card_numbers(text)]
    return findings


def _encode(value: object) -> bytes:
    """A value as it sits in a SQLite record body (serial types of the file format 4)."""
    if value is None or (value in (0, 1) and isinstance(value, int)):
        return b""  # NULL, 0 and 1 live in the record header only
    if isinstance(value, int):
        for size in (1, 2, 3, 4, 6, 8):
            if -(1 << (8 * size - 1)) <= value < (1 << (8 * size - 1)):
                return value.to_bytes(size, "big", signed=True)
    if isinstance(value, float):
        return struct.pack(">d", value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)  # BLOB
    raise TypeError(f"{type(value).__name__} is not a SQLite value")


def _record_bodies(connection: sqlite3.Connection) -> list[str]:
    """Every table row and index entry as its record body (latin-1, to line up with raw bytes)."""
    bodies = []
    for table in _tables(connection):
        columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
        indexes = [] if table == "sqlite_master" else [
            [r[2] for r in connection.execute(f'PRAGMA index_info("{name}")')]
            for (_seq, name, *_rest) in connection.execute(f'PRAGMA index_list("{table}")')
        ]
        plain = [index for index in indexes if None not in index]  # expression indexes: below
        for rowid, *values in connection.execute(f'SELECT rowid, * FROM "{table}"'):
            row = dict(zip(columns, values, strict=True))
            bodies.append(b"".join(_encode(v) for v in values).decode("latin-1"))
            for index in plain:
                body = b"".join(_encode(row[c]) for c in index) + _encode(rowid)
                bodies.append(body.decode("latin-1"))
        bodies += _expression_index_bodies(connection, table)
    return bodies


def _expression_index_bodies(connection: sqlite3.Connection, table: str) -> list[str]:
    """Entries of indexes on expressions (the demo writer's number indexes), computed by SQLite
    itself from the index's own definition: its expressions over the rows its WHERE keeps."""
    bodies = []
    for (sql,) in connection.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                     "AND sql IS NOT NULL", (table,)).fetchall():
        terms, where = _index_terms(sql)
        if not any("(" in term for term in terms):
            continue
        query = f'SELECT {", ".join(terms)}, rowid FROM "{table}"' + (f" WHERE {where}" if where else "")
        for values in connection.execute(query):
            bodies.append(b"".join(_encode(v) for v in values).decode("latin-1"))
    return bodies


def _index_terms(sql: str) -> tuple[list[str], str]:
    """The indexed terms and the WHERE clause of a CREATE INDEX statement."""
    start = sql.index("(", sql.upper().index(" ON "))
    depth, terms, term = 0, [], ""
    for position in range(start + 1, len(sql)):
        char = sql[position]
        if char == "," and depth == 0:
            terms.append(term.strip())
            term = ""
            continue
        if char == ")" and depth == 0:
            terms.append(term.strip())
            rest = sql[position + 1:].strip()
            return terms, rest[len("WHERE"):].strip() if rest.upper().startswith("WHERE") else ""
        depth += {"(": 1, ")": -1}.get(char, 0)
        term += char
    raise ValueError(f"unreadable index definition: {sql}")
