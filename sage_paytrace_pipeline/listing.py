"""What the command-line lists share: the warehouse opened read-only, and rows rendered as a
terminal table, as CSV a spreadsheet opens safely (no cell runs as a formula), or as JSON.

`exceptions list` and `disputes list` read the warehouse while a run may be writing it: a
read-only connection never takes the lock a running step needs for long. DuckDB, NumPy and pandas
are imported where used, so the command line can read FORMATS without loading them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sage_paytrace_pipeline.domain.free_text import sheet_safe

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

FORMATS = ("table", "csv", "json")


@contextmanager
def warehouse_read_only(warehouse: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened read-only, closed afterwards; a missing file is one sentence."""
    path = Path(warehouse)
    if not path.is_file():
        raise FileNotFoundError(f"SAGE_PAYTRACE_WAREHOUSE: {path} does not exist yet (no run has written it)")
    import duckdb

    connection = duckdb.connect(str(path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def plain(value: object) -> object:
    """A cell as JSON and CSV want it: None for missing values, ISO dates, Python integers."""
    import numpy as np
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return int(value) if isinstance(value, np.integer) else value


def render(rows: pd.DataFrame, columns: Sequence[str], output_format: str,
           table: Callable[[pd.DataFrame], str]) -> str:
    """The rows in `output_format`; `table` draws the terminal form."""
    if output_format == "json":
        records = [{column: plain(row[column]) for column in columns} for _, row in rows.iterrows()]
        return json.dumps(records, indent=2, default=str) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for _, row in rows.iterrows():
            writer.writerow([sheet_safe("" if plain(row[column]) is None else str(plain(row[column])))
                             for column in columns])
        return buffer.getvalue()
    if output_format == "table":
        return table(rows)
    raise ValueError(f"unknown format {output_format!r}; use one of {', '.join(FORMATS)}")


def aligned_table(rows: pd.DataFrame, heads: Sequence[str], details: Callable[[pd.Series], list[str]],
                  noun: str, *, nothing: str | None = None) -> str:
    """The `heads` columns aligned, the row's `details` lines in full below it (never cut), a count
    of `noun`s; `nothing` (default "no <noun>s") when there are no rows."""
    if rows.empty:
        return f"{nothing or f'no {noun}s'}\n"
    cells = [[_cell(row[column]) for column in heads] for _, row in rows.iterrows()]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(heads)]
    out = ["  ".join(column.ljust(width) for column, width in zip(heads, widths, strict=True)).rstrip()]
    for line, (_, row) in zip(cells, rows.iterrows(), strict=True):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        out.extend(f"    {detail}" for detail in details(row))
    out.append(f"{len(rows)} {noun}{'s' if len(rows) != 1 else ''}")
    return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    shown = plain(value)
    return "-" if shown is None or shown == "" else str(shown)
