"""Invoice numbers as people type them, found in `invoice_id` and `description`, column-wise.

`INV-0001234`, `#1234`, `1234`, `0001234, 0001235`, `inv 1234 and 1235`, `Payment for invoice
0001234` all become Sage's seven-character zero-padded numbers. Digit runs that are something else
(card numbers, masked last 4, amounts like 12.34, dates, phone numbers, PO/order/account numbers)
are blanked out first so they can never be read as an invoice.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy

REFERENCE_COLUMNS = ("transaction_id", "invoice_no", "source", "position")

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
_BARE_YEAR = re.compile(r"(?:19|20)\d\d$")


def extract_invoice_references(payments: pd.DataFrame, policy: MatchingPolicy | None = None) -> pd.DataFrame:
    """Long frame of (transaction_id, invoice_no, source, position), first mention of each number only.

    In `invoice_id` every number counts (the field exists for it). In the free-text description a
    number counts when a keyword or `#` introduces it (or the list it belongs to), or when it has
    four or more digits and is not a bare year.
    """
    policy = policy or MatchingPolicy()
    texts = pd.concat(
        [
            _source_frame(payments, "invoice_id"),
            _source_frame(payments, "description"),
        ],
        ignore_index=True,
    )
    # Payers retype a few shapes and one description is often on most payments: each distinct
    # (source, text) is parsed once, then the numbers found are spread back over the rows.
    text_id, distinct = _distinct_texts(texts)
    numbers = _numbers_in(distinct, policy)
    if numbers.empty:
        return empty_references()
    row = pd.DataFrame({"text_id": text_id, "row": np.arange(len(texts), dtype="int64")})
    found = row.merge(numbers, on="text_id")
    # the text frame's row order (invoice_id rows first) keeps invoice_id before description
    found = found.sort_values(["row", "match"], kind="stable", ignore_index=True)
    found["transaction_id"] = texts["transaction_id"].to_numpy()[found["row"].to_numpy()]
    found["match"] = found.index.to_numpy()
    return _qualified(found.drop(columns=["row", "text_id"]), policy)


def _source_frame(payments: pd.DataFrame, column: str) -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": payments["transaction_id"].to_numpy(),
        "source": column,
        "text": payments[column].astype(object).fillna("").to_numpy(),
    })


def _distinct_texts(texts: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(id of each row's distinct (source, text), the distinct ones indexed by that id)."""
    text_code = pd.factorize(texts["text"])[0].astype("int64")
    source_code, sources = pd.factorize(texts["source"])
    _, first, text_id = np.unique(text_code * len(sources) + source_code, return_index=True, return_inverse=True)
    frame = pd.DataFrame({"source": texts["source"].to_numpy()[first], "text": texts["text"].to_numpy()[first]})
    return text_id.reshape(-1), frame


def _numbers_in(distinct: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    """Numbers of each distinct text: text_id, source, lead, digits, match (order within the text)."""
    distinct = distinct[distinct["text"].str.contains(r"\d", regex=True)]
    # Fast path for the common case, one plain number ("INV-0001234", "#1234", "Payment for invoice
    # 0001234"): one anchored regex instead of the full clean-up, which costs ~10x more per string.
    simple = pd.Series([_simple_number(source, text) for source, text in zip(distinct["source"], distinct["text"])],
                       index=distinct.index, dtype=object)
    plain = distinct[simple.notna()].assign(lead="#", digits=simple.dropna(), match=0)
    rest = distinct[simple.isna()]
    cleaned = (
        rest["text"].str.lower()
        .str.replace(_NOT_INVOICES, " ", regex=True)
        .str.replace(_KEYWORD, "#", regex=True)
        .str.replace(_LIST_SEPARATOR, ",", regex=True)
    )
    found = cleaned.str.extractall(_NUMBER) if len(cleaned) else pd.DataFrame(columns=["lead", "digits"])
    text_id = found.index.get_level_values(0).to_numpy() if len(found) else np.zeros(0, dtype="int64")
    found = found.reset_index(drop=True).assign(
        text_id=text_id, source=rest["source"].reindex(text_id).to_numpy(), match=np.arange(len(found)) + 1)
    plain = plain.assign(text_id=plain.index.to_numpy())
    numbers = pd.concat([plain[["text_id", "source", "lead", "digits", "match"]], found], ignore_index=True)
    return _with_number(numbers, policy)


def _simple_number(source: str, text: str) -> str | None:
    if not text.isascii():
        return None
    found = _SIMPLE_RE[source].match(text)
    return found.group(1) if found else None


def _with_number(numbers: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    """Per distinct number: whether it could head a qualifying list, and its padded invoice_no (None if not one)."""
    digits = numbers["digits"].astype(str).tolist()
    stripped = [d.lstrip("0") for d in digits]
    bare_year = np.array([len(d) == 4 and _BARE_YEAR.match(d) is not None for d in digits], dtype=bool)
    long_enough = np.array([len(d) >= 4 for d in digits], dtype=bool)
    head_qualifies = (numbers["source"] == "invoice_id").to_numpy() | (numbers["lead"] == "#").to_numpy() | (
        long_enough & ~bare_year)
    width = policy.invoice_no_length
    invoice_no = [s.zfill(width) if 1 <= len(s) <= width else None for s in stripped]
    return numbers.assign(head_qualifies=head_qualifies, invoice_no=pd.Series(invoice_no, index=numbers.index,
                                                                                dtype=object)).drop(columns="digits")


def _qualified(found: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    # A list ("#1234,1235") is headed by the number without a "," lead; it qualifies as a whole.
    head = found["lead"] != ","
    list_id = head.cumsum()
    qualifies = found["head_qualifies"].where(head).groupby(list_id).transform("first").astype(bool)
    keep = qualifies & found["invoice_no"].notna()
    found = found[keep]
    references = pd.DataFrame({
        "transaction_id": found["transaction_id"].astype("int64"),
        "invoice_no": found["invoice_no"],
        "source": found["source"],
        "match": found["match"],
    })
    references = references.drop_duplicates(["transaction_id", "invoice_no"], keep="first")
    references = references.sort_values(["transaction_id", "match"], kind="stable")
    references["position"] = references.groupby("transaction_id").cumcount().astype("int64")
    return references.drop(columns="match").reset_index(drop=True)


def empty_references() -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": pd.Series(dtype="int64"), "invoice_no": pd.Series(dtype=object),
        "source": pd.Series(dtype=object), "position": pd.Series(dtype="int64"),
    })
