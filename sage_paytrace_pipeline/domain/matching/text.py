"""Message text, built column-wise: one f-string per row, compiled once per template.

At a million rows the messages are most of what matching produces. Chained pandas string
concatenations build a new string per operation and row, and `str.format` parses its template
for every row; a template compiled into one f-string list comprehension does neither. Repeated
pieces (customer labels, method wording) are made once and only referenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import pairwise, repeat
from string import Formatter
from typing import TypeAlias

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import run_starts

Column: TypeAlias = Sequence | np.ndarray | pd.Series


def render(template: str, **fields: Column | str) -> list[str]:
    """template.format(**row) for every row: a field is a column (str, or numbers as str() writes
    them) or one str for all rows; fields the template does not name are ignored. At least one
    named field must be a column (it gives the rows)."""
    function, used = _compiled(template, tuple(fields))
    if all(isinstance(fields[name], str) for name in used):
        raise ValueError("render needs at least one column, not only constants")
    return function(*[repeat(value) if isinstance(value := fields[name], str) else _values(value) for name in used])


@cache
def _compiled(template: str, names: tuple[str, ...]):
    """(function of the named columns: [f"<template>" for (<names>,) in zip(<columns>)], the names)."""
    named = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    if not named <= set(names) or not all(name.isidentifier() for name in named):
        raise ValueError(f"template fields {sorted(named)} need columns named so, got {sorted(names)}")
    used = tuple(name for name in names if name in named)
    columns = ", ".join(f"column_{i}" for i in range(len(used)))
    # the template is our own constant text: compiled once, it costs one f-string per row
    return eval(f"lambda {columns}: [f{template!r} for ({', '.join(used)},) in zip({columns})]", {}), used


def where_text(condition: Column, text: Sequence[str]) -> np.ndarray:
    """`text` (one entry per row where condition holds) on those rows, "" on the others."""
    column = np.full(len(condition), "", dtype=object)
    column[np.asarray(condition, dtype=bool)] = text
    return column


def join_runs(keys: np.ndarray, text: Column) -> list[str]:
    """", ".join of the text of each run of equal consecutive keys, one per run (most runs have one row)."""
    text = _values(text)
    bounds = np.r_[run_starts(keys), len(keys)].tolist()
    return [text[start] if end - start == 1 else ", ".join(text[start:end]) for start, end in pairwise(bounds)]


def _values(column: Column) -> Sequence:
    return column.tolist() if isinstance(column, (np.ndarray, pd.Series)) else column
