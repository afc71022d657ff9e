"""Integer-array building blocks shared by the matching stages.

Joins and groupings run on int64 codes: strings are factorized once per stage, because hashing a
million Python strings costs about as much as a whole stage's worth of integer work (each string
is a pointer to chase). These helpers keep pandas' semantics where the stages relied on them
(inner-merge row order, first-of-group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

SortKind = Literal["quicksort", "mergesort", "heapsort", "stable"]  # np.argsort's kinds


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal consecutive keys."""
    if len(keys) == 0:
        return np.zeros(0, dtype="int64")
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def position_in_run(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal consecutive keys."""
    return np.arange(len(keys), dtype="int64") - np.repeat(run_starts(keys), run_lengths(keys))


def run_lengths(keys: np.ndarray) -> np.ndarray:
    """Length of each run of equal consecutive keys."""
    return np.diff(np.r_[run_starts(keys), len(keys)])


def run_sizes(keys: np.ndarray) -> np.ndarray:
    """Length of the run of equal consecutive keys each element belongs to."""
    lengths = run_lengths(keys)
    return np.repeat(lengths, lengths)


def first_in_run(keys: np.ndarray) -> np.ndarray:
    """True for the first element of each run of equal consecutive keys."""
    first = np.zeros(len(keys), dtype=bool)
    first[run_starts(keys)] = True
    return first


def join_codes(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner join on integer codes (negative never matches): (left position, right position) pairs.

    In pandas' inner-merge order: left rows in order, each one's matches in right-row order.
    """
    return CodeLookup.of(right).join(left)


@dataclass(frozen=True)
class CodeLookup:
    """The right side of `join_codes`, its rows grouped by code once: a side joined several times
    (the open-invoice index's customer keys) is sorted once, not per join."""

    counts: np.ndarray  # rows per code 0..len-1
    starts: np.ndarray  # where each code's rows begin in by_code
    by_code: np.ndarray  # right positions, by code, in row order within a code

    @classmethod
    def of(cls, right: np.ndarray) -> CodeLookup:
        right = np.asarray(right, dtype="int64")
        in_right = right >= 0
        counts = np.bincount(right[in_right], minlength=0)
        by_code = np.flatnonzero(in_right)[stable_code_order(right[in_right])]
        return cls(counts, np.r_[0, np.cumsum(counts)], by_code)

    def join(self, left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(left position, right position) of every pair with equal codes, as join_codes gives them."""
        left = np.asarray(left, dtype="int64")
        known = (left >= 0) & (left < len(self.counts))  # a code the right side never has matches nothing
        matches = np.where(known, self.counts[np.where(known, left, 0)] if len(self.counts) else 0, 0)
        left_position = np.repeat(np.arange(len(left), dtype="int64"), matches)
        right_position = self.by_code[self.starts[left[left_position]] + position_in_run(left_position)]
        return left_position, right_position


def stable_code_order(codes: np.ndarray) -> np.ndarray:
    """np.argsort(codes, kind="stable"); codes 0..2**16-1 sorted as 16-bit integers, which numpy sorts by
    radix, several times faster than int64 (a year's open invoices grouped by customer, each day).
    Larger codes keep numpy's timsort: theirs (invoice codes) come in long sorted runs it is fast on."""
    if len(codes) == 0 or codes.min() < 0 or codes.max() >= 2**16:
        return np.argsort(codes, kind="stable")
    return np.argsort(codes.astype(np.uint16), kind="stable")


def join_values(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner join on equal values (missing values never match), like join_codes: pandas' merge order."""
    left, right = np.asarray(left), np.asarray(right)
    if right.dtype.kind in "iu" and (index := pd.Index(right)).is_unique:  # ids: one hash look-up per left row
        at = index.get_indexer(left)
        return np.flatnonzero(at >= 0), at[at >= 0]
    codes = pd.factorize(np.concatenate([left, right]))[0]
    return join_codes(codes[:len(left)], codes[len(left):])


def factorize_keeping_na(values) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(values, use_na_sentinel=False), without its scan for missing values when there are
    none (on object arrays that scan costs about as much as the factorizing)."""
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:
        return pd.factorize(values, use_na_sentinel=False)
    return codes, uniques


def digit_values(values, width: int) -> np.ndarray:
    """int64 value of each value that is a str of exactly `width` ASCII digits ("0001234" -> 1234); -1
    for any other value (other lengths, other characters, other digits than 0-9, None, numbers).

    For such texts the value is a one-to-one key: equal values, equal texts. Integers hash and compare
    several times faster than a million strings scattered over memory.
    """
    values = np.asarray(values, dtype=object)
    found = np.full(len(values), -1, dtype="int64")
    if len(values) == 0:
        return found
    text = values
    all_str = infer_dtype(values, skipna=False) == "string"
    if not all_str:  # None, NaN, numbers: only a str equals a str
        text = values[strings := np.flatnonzero([isinstance(value, str) for value in values.tolist()])]
    # one UCS-4 code per character, width + 1 characters: a longer text shows a character at `width`
    codes = np.asarray(text, dtype=f"U{width + 1}").view(np.uint32).reshape(len(text), width + 1)
    number = np.zeros(len(text), dtype="int64")
    digits = codes[:, width] == 0
    for position in range(width):
        digit = codes[:, position].astype("int64") - ord("0")
        digits &= (digit >= 0) & (digit <= 9)
        number = number * 10 + digit
    number = np.where(digits, number, -1)
    if not all_str:
        found[strings] = number
        return found
    return number


def sorted_positions(keys: list[np.ndarray], kind: SortKind) -> list[np.ndarray]:
    """For pieces whose rows are sorted together by key (np.argsort of the concatenation, `kind`):
    each piece's rows' positions in the result, so each column is written once, piece by piece."""
    order = np.argsort(np.concatenate(keys), kind=kind)
    position = np.empty(len(order), dtype="int64")
    position[order] = np.arange(len(order))
    return np.split(position, np.cumsum([len(key) for key in keys])[:-1])
