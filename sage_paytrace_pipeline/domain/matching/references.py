"""Invoice numbers as people type them, found in `invoice_id` and `description`, column-wise.

`INV-0001234`, `#1234`, `1234`, `0001234, 0001235`, `inv 1234 and 1235`, `Payment for invoice
0001234` all become Sage's seven-character zero-padded numbers. Digit runs that are something else
(card numbers, masked last 4, amounts like 12.34, dates, phone numbers, PO/order/account numbers)
are blanked out first so they can never be read as an invoice.

Payers retype a few shapes and one description is often on most payments, so each distinct text
of a column is parsed once and the numbers found are spread back over the rows with integer arrays.
Most distinct texts are one plain number: those are read in one columnar pass (`engine.py`, the
patterns `_SIMPLE_RE` spelled for DuckDB); only the others get the Python clean-up below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.arrays import position_in_run, run_sizes
from sage_paytrace_pipeline.domain.matching.engine import plain_invoice_numbers
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

REFERENCE_COLUMNS = ("transaction_id", "invoice_no", "source", "position")
# In this order: a payment's invoice_id numbers come before its description numbers.
_SOURCES = ("invoice_id", "description")

_NOT_INVOICES = "|".join((
    r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)",  # card-number-shaped run (13-19 digits, grouped or not)
    r"[x*•]{2,}[ -]?\d{4}",  # masked card: xxxx1234, ****1234
    r"\d{4,6}[ -]?[x*•]{2,}",  # masked card from the front: 4012 ****
    r"\b(?:ending|ends|last ?4|last four)\s*(?:in|with|:)?\s*\d{4}",
    r"\$\s*\d[\d,]*(?:\.\d+)?",  # $1,234 / $12.34
    r"(?<!\d)\d+\.\d{2}(?!\d)",  # 12.34
    r"(?<!\d)\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}(?!\d)",  # dates 3/2/2026, 2026-03-02
    r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?",  # times
    r"(?<!\d)\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)",  # phone numbers
    # numbers that belong to another document or to an account, not to an invoice
    r"\b(?:p\.?o\.?|purchase order|order|ord|so|ref|reference|conf(?:irmation)?|tracking|acct|account|"
    r"customer|cust|zip|phone|tel)\b\.?\s*(?:no\b\.?|number|#)?\s*[:#-]?\s*[a-z]*\d+",
))
# "INV-", "invoice #", "invoices", "no.", "nr" before a number: the writer meant an invoice.
_KEYWORD = r"(?:\binv(?:oice)?s?|\bnos?\b|\bnr\b|\bnumbers?\b)\.?\s*[:#-]?\s*(?=#?\s*\d)"
# Separators inside a list of numbers: "1234, 1235", "1234/1235", "1234 & 1235", "1234 and #1235".
_LIST_SEPARATOR = r"(?<=\d)\s*(?:,|/|&|\+|;|\band\b|\s)\s*(?=#?\d)"
_NUMBER = r"(?P<lead>[#,]?)(?P<digits>\d+)"
_SIMPLE = r"^\s*(?:inv(?:oice)?\s*[-#:.]?\s*|#\s*)?(\d{1,10})\s*$"
# The same shape in a description ("Payment for invoice 0001234"): the keyword makes it a "#" number,
# and nothing in _NOT_INVOICES can match a lone run of at most ten digits. Checked on ASCII text only
# (Python's \s and \d also match other scripts; those take the full clean-up).
_SIMPLE_DESCRIPTION = r"^\s*(?:payment for\s+)?inv(?:oice)?\s*[-#:]?\s*(\d{1,10})\s*$"
_SIMPLE_RE = {"invoice_id": re.compile(_SIMPLE, re.IGNORECASE),
              "description": re.compile(_SIMPLE_DESCRIPTION, re.IGNORECASE)}
_CLEAN_UP = ((re.compile(_NOT_INVOICES), " "), (re.compile(_KEYWORD), "#"), (re.compile(_LIST_SEPARATOR), ","))
_NUMBER_RE = re.compile(_NUMBER)
_DIGIT = re.compile(r"\d")
_BARE_YEAR = re.compile(r"(?:19|20)\d\d$")


def extract_invoice_references(payments: pd.DataFrame, policy: MatchingPolicy | None = None) -> pd.DataFrame:
    """Long frame of (transaction_id, invoice_no, source, position), first mention of each number only.

    In `invoice_id` every number counts (the field exists for it). In the free-text description a
    number counts when a keyword or `#` introduces it (or the list it belongs to), or when it has
    four or more digits and is not a bare year.
    """
    policy = policy or MatchingPolicy()
    columns = [_parse_column(payments[source], source, policy.invoice_no_length) for source in _SOURCES]
    entry, row, source = _spread_over_rows(columns)
    transaction_id = payments["transaction_id"].to_numpy().astype("int64")[row]
    # by payment, and within it in the order written (invoice_id first)
    by_payment = np.argsort(transaction_id, kind="stable")
    transaction_id, source = transaction_id[by_payment], source[by_payment]
    invoice_no = np.concatenate([column.numbers for column in columns])[entry[by_payment]]
    first = _first_mentions(transaction_id, invoice_no)
    transaction_id = transaction_id[first]
    return pd.DataFrame({
        "transaction_id": transaction_id,
        "invoice_no": invoice_no[first],
        "source": np.array(_SOURCES, dtype=object)[source[first]],
        "position": position_in_run(transaction_id),
    }, copy=False)


def _first_mentions(transaction_id: np.ndarray, invoice_no: np.ndarray) -> np.ndarray:
    """False where a payment names a number again (rows grouped by payment); most name one number only."""
    first = np.ones(len(transaction_id), dtype=bool)
    several = np.flatnonzero(run_sizes(transaction_id) > 1)
    named = pd.DataFrame({"transaction_id": transaction_id[several], "invoice_no": invoice_no[several]})
    first[several] = ~named.duplicated().to_numpy()
    return first


# ---------------------------------------------------------------- one column, per distinct text


@dataclass(frozen=True)
class _ParsedColumn:
    """The invoice numbers of one text column, stored once per distinct text.

    Distinct text t owns numbers[offsets[t]:offsets[t + 1]]. A list of numbers ("#12, 13") counts
    when its first number (the head) does. A text whose first number continues a list (",1234")
    has no head of its own: its first `inherited[t]` numbers never count. `last_head[t]` is that
    text's own last head: 1 counts, 0 does not, -1 no head. The last distinct text stands for a
    missing value (no numbers).
    """

    source: int
    row_text: np.ndarray  # distinct text of each row
    numbers: np.ndarray  # object: padded invoice numbers
    offsets: np.ndarray
    inherited: np.ndarray
    last_head: np.ndarray


def _parse_column(column: pd.Series, source: str, width: int) -> _ParsedColumn:
    row_text, texts = pd.factorize(column)
    texts = np.append(np.asarray(texts, dtype=object), "")  # the last text stands for a missing value
    counts = np.zeros(len(texts), dtype="int64")
    inherited = np.zeros(len(texts), dtype="int64")
    # A lone plain number is a head that counts ("#" lead); the other texts get the full clean-up.
    is_plain, padded = plain_invoice_numbers(source, texts, width)
    valid = padded != ""  # only plain texts have one; "" also where it is all zeros or too long
    last_head = np.where(is_plain, 1, -1).astype("int8")
    counts[valid] = 1
    other = {}
    for t in np.flatnonzero(~is_plain).tolist():
        other[t], inherited[t], last_head[t] = _qualified_numbers(source, _numbers_in(texts[t]), width)
        counts[t] = len(other[t])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    numbers = np.empty(offsets[-1], dtype=object)
    numbers[offsets[:-1][valid]] = padded[valid]
    for t, found in other.items():
        numbers[offsets[t]:offsets[t + 1]] = found
    return _ParsedColumn(source=_SOURCES.index(source), row_text=np.where(row_text >= 0, row_text, len(texts) - 1),
                         numbers=numbers, offsets=offsets, inherited=inherited, last_head=last_head)


def _numbers_in(text: str) -> list[tuple[str, str]]:
    """(lead, digits) of each number in the text; lead is "#" (introduced), "," (continues a list) or ""."""
    if not _DIGIT.search(text):
        return []
    cleaned = text.lower()
    for pattern, replacement in _CLEAN_UP:
        cleaned = pattern.sub(replacement, cleaned)
    return _NUMBER_RE.findall(cleaned)


def _qualified_numbers(source: str, numbers: list[tuple[str, str]], width: int) -> tuple[list[str], int, int]:
    """(padded numbers that count or may inherit, how many lead the text without a head, last head)."""
    kept, inherited = [], 0
    counts = None  # whether the current list counts; None before the text's first head
    for (lead, digits), invoice_no in zip(numbers, _padded([digits for _, digits in numbers], width)):
        if lead != ",":
            counts = source == "invoice_id" or lead == "#" or (len(digits) >= 4 and not _BARE_YEAR.match(digits))
        if invoice_no is None or counts is False:
            continue
        kept.append(invoice_no)
        inherited += counts is None
    return kept, inherited, -1 if counts is None else int(counts)


def _padded(digits: Iterable[str], width: int) -> list[str | None]:
    """Each digit run as Sage's zero-padded invoice number; None if it is all zeros or too long."""
    return [number.zfill(width) if 1 <= len(number := run.lstrip("0")) <= width else None for run in digits]


# ---------------------------------------------------------------- back to rows


def _spread_over_rows(columns: list[_ParsedColumn]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entry in the concatenated numbers, row, source) of every number of every row.

    In the order invoice_id rows, then description rows, each in row order, each text's numbers in
    the order written.
    """
    entries, rows, sources = [], [], []
    base = 0
    for column, skip in zip(columns, _inherited_not_counting(columns)):
        start = column.offsets[column.row_text] + skip
        count = column.offsets[column.row_text + 1] - start
        row = np.repeat(np.arange(len(count), dtype="int64"), count)
        entries.append(base + start[row] + position_in_run(row))
        rows.append(row)
        sources.append(np.full(len(row), column.source, dtype="int64"))
        base += len(column.numbers)
    return np.concatenate(entries), np.concatenate(rows), np.concatenate(sources)


def _inherited_not_counting(columns: list[_ParsedColumn]) -> list[np.ndarray]:
    """Per column and row, how many leading numbers to drop because the list they continue does not count.

    A text opening with a continuation (",1234") continues the list of the same payment's earlier
    column (invoice_id "1", description ",1234"); with no head there it does not count. It never
    borrows a head from another payment's text.
    """
    skipped, head_before = [], np.full(len(columns[0].row_text), -1, dtype="int8")
    for column in columns:
        inherited = column.inherited[column.row_text]
        skipped.append(np.where(head_before == 1, 0, inherited))
        own = column.last_head[column.row_text]
        head_before = np.where(own >= 0, own, head_before)
    return skipped
