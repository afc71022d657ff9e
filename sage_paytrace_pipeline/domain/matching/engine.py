"""In-memory DuckDB as matching's columnar string engine: no database, no file, no network.

Most invoice references are one plain number ("INV-0001234", "#1234", "Payment for invoice
0001234"). Recognizing and zero-padding them one Python string at a time was the largest cost of
matching a million payments; DuckDB runs the same anchored pattern over a column of distinct
texts in native code (RE2) with several threads. Only that step runs here: the full clean-up of
free text needs look-behinds, which RE2 does not have, and stays in Python (`references.py`) for
the few distinct texts that are not one plain number.

The patterns below are references.py's `_SIMPLE` and `_SIMPLE_DESCRIPTION` spelled for RE2 and
applied to ASCII texts only, where they mean exactly what Python's do: `\\s` becomes Python's ASCII
whitespace (which includes \\x1c-\\x1f) and `\\d` becomes [0-9]. A test checks both engines agree.
"""

from __future__ import annotations

import os
import threading

import duckdb
import numpy as np
import pandas as pd

_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_PLAIN_PATTERNS = {
    "invoice_id": rf"^(?i){_SPACE}*(?:inv(?:oice)?{_SPACE}*[-#:.]?{_SPACE}*|#{_SPACE}*)?([0-9]{{1,10}}){_SPACE}*$",
    "description": rf"^(?i){_SPACE}*(?:payment for{_SPACE}+)?inv(?:oice)?{_SPACE}*[-#:]?{_SPACE}*([0-9]{{1,10}})"
                   rf"{_SPACE}*$",
}
# One pass over the distinct texts: the plain number's digits ("" when the text is not one plain
# ASCII number), then those digits as Sage's zero-padded number ("" when all zeros or too long).
_PLAIN_SQL = """
select digits <> '' as plain,
       case when length(significant) between 1 and $width then lpad(significant, $width, '0') else '' end as padded
from (select digits, ltrim(digits, '0') as significant
      from (select case when strlen(text) = length(text) then regexp_extract(text, $pattern, 1) else '' end as digits
            from texts))
"""


def plain_invoice_numbers(source: str, texts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(whether each text is one plain number, its padded number: "" where it is all zeros or too long).

    texts: an object array of str (distinct texts, so each is read once).
    """
    if len(texts) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=object)
    connection = _connection()
    connection.register("texts", pd.DataFrame({"text": texts}, copy=False))
    try:
        found = connection.execute(_PLAIN_SQL, {"pattern": _PLAIN_PATTERNS[source], "width": width}).fetchnumpy()
    finally:
        connection.unregister("texts")
    return np.asarray(found["plain"], dtype=bool), np.asarray(found["padded"], dtype=object)


_KEPT = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB, opened once per process: opening one took about 20 ms of CPU (80 ms
    wall) where the query over a day's texts takes 4, and matching asks twice a day (a year's range: 730 times)."""
    if getattr(_KEPT, "pid", None) != os.getpid():  # a forked child does not use its parent's connection
        _KEPT.connection = duckdb.connect(":memory:", config={"preserve_insertion_order": True})
        _KEPT.pid = os.getpid()
    return _KEPT.connection
