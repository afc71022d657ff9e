"""Message text, built column-wise: one f-string per row, compiled once per template.

At a million rows the messages are most of what matching produces. Chained pandas string
concatenations build a new string per operation and row, and `str.format` parses its template
for every row; a template compiled into one f-string list comprehension does neither. Repeated
pieces (customer labels, method wording) are made once and only referenced. Amounts (`Cents`)
are written into the message from their integer parts, not made into a text of their own first:
at a million rows that intermediate text per amount cost as much as the message around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise, repeat
from string import Formatter
from typing import TypeAlias

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import run_starts

Column: TypeAlias = Sequence | np.ndarray | pd.Series


@dataclass(frozen=True)
class Cents:
    """A column of integer cents shown as `domain.money.format_cents` shows them ("$1234.56", "-$12.34")."""

    values: Column

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sign and dollar sign, whole dollars, "." and two cent digits) per row."""
        values = np.asarray(self.values, dtype="int64")
        size = np.abs(values)
        return _SIGNED_DOLLAR[(values < 0).astype("int64")], size // 100, _CENT_DIGITS[size % 100]


_SIGNED_DOLLAR = np.array(["$", "-$"], dtype=object)
_CENT_DIGITS = np.array([f".{cents:02d}" for cents in range(100)], dtype=object)
_CENTS_PARTS = ("sign", "dollars", "cents")
_CHUNK_ROWS = 65_536


def render(template: str, **fields: Column | Cents | str) -> list[str]:
    """template.format(**row) for every row: a field is a column (str, or numbers as str() writes
    them), amounts in cents (`Cents`), or one str for all rows; fields the template does not name
    are ignored. At least one named field must be a column (it gives the rows)."""
    amounts = tuple(name for name, value in fields.items() if isinstance(value, Cents))
    if amounts:
        template = _with_amount_parts(template, amounts)
        fields = {**{name: value for name, value in fields.items() if name not in amounts},
                  **{f"{name}__{part}": column for name in amounts
                     for part, column in zip(_CENTS_PARTS, fields[name].parts())}}  # type: ignore[union-attr]
    function, used = _compiled(template, tuple(fields))
    columns: dict[str, Column] = {name: value for name in used if not isinstance(value := fields[name], (str, Cents))}
    if not columns:
        raise ValueError("render needs at least one column, not only constants")
    rows = len(next(iter(columns.values())))
    if rows <= _CHUNK_ROWS:
        return function(*[_values(columns[name]) if name in columns else repeat(fields[name]) for name in used])
    # a million rows in chunks: the per-row Python values (ints, lists) of one chunk at a time
    text: list[str] = []
    for start in range(0, rows, _CHUNK_ROWS):
        text += function(*[_values(_rows(columns[name], start, start + _CHUNK_ROWS)) if name in columns
                           else repeat(fields[name]) for name in used])
    return text


@cache
def _with_amount_parts(template: str, amounts: tuple[str, ...]) -> str:
    """The template with each amount field {x} spelled as its three parts {x__sign}{x__dollars}{x__cents}."""
    pieces = []
    for literal, name, spec, conversion in Formatter().parse(template):
        pieces.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if name in amounts:
            if spec or conversion:
                raise ValueError(f"amount field {name!r} takes no format spec or conversion")
            pieces.append("".join(f"{{{name}__{part}}}" for part in _CENTS_PARTS))
        else:
            pieces.append(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}")
    return "".join(pieces)


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


# Rows explained at a time: the parts' copies of one chunk live at once, not of a million rows.
RENDER_ROWS = 65_536


def explained_in_chunks(coded: pd.DataFrame, part_names: Sequence[str],
                        explain: Callable[[dict[str, np.ndarray]], Sequence[str] | np.ndarray]) -> np.ndarray:
    """`explain(parts)` of the coded rows, `RENDER_ROWS` rows at a time, as one object array."""
    parts = {name: coded[name].to_numpy() for name in part_names}
    explanation = np.empty(len(coded), dtype=object)
    for start in range(0, len(coded), RENDER_ROWS):
        rows = slice(start, start + RENDER_ROWS)
        explanation[rows] = explain({name: values[rows] for name, values in parts.items()})
    return explanation


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


def _rows(column: Column, start: int, stop: int) -> Column:
    return column.iloc[start:stop] if isinstance(column, pd.Series) else column[start:stop]


def _values(column: Column) -> Sequence:
    return column.tolist() if isinstance(column, (np.ndarray, pd.Series)) else column
