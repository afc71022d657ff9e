"""Invoice numbers as people type them, found in `invoice_id` and `description`, column-wise.

`INV-0001234`, `#1234`, `1234`, `0001234, 0001235`, `inv 1234 and 1235`, `Payment for invoice
0001234` all become Sage's seven-character zero-padded numbers. Digit runs that are something else
(card numbers, masked last 4, amounts like 12.34, dates, phone numbers, PO/order/account numbers)
are blanked out first so they can never be read as an invoice.
"""

from __future__ import annotations

import re

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
    texts = texts[texts["text"].str.contains(r"\d", regex=True)]
    if texts.empty:
        return empty_references()
    # Fast path for the common case, one plain number in invoice_id ("INV-0001234", "#1234"):
    # one anchored regex instead of the full clean-up, which costs ~10x more per string.
    simple = texts["text"].str.extract(_SIMPLE, flags=re.IGNORECASE)[0].where(texts["source"] == "invoice_id")
    plain = texts[simple.notna()].assign(lead="#", digits=simple.dropna(), match=0)
    texts = texts[simple.isna()]
    cleaned = (
        texts["text"].str.lower()
        .str.replace(_NOT_INVOICES, " ", regex=True)
        .str.replace(_KEYWORD, "#", regex=True)
        .str.replace(_LIST_SEPARATOR, ",", regex=True)
    )
    found = cleaned.str.extractall(_NUMBER) if len(cleaned) else pd.DataFrame(columns=["lead", "digits"])
    row = found.index.get_level_values(0) if len(found) else []
    found = found.reset_index(drop=True)
    found["transaction_id"] = texts["transaction_id"].to_numpy()[texts.index.get_indexer(row)]
    found["source"] = texts["source"].to_numpy()[texts.index.get_indexer(row)]
    found["match"] = found.index.to_numpy()
    # the text frame's row order (invoice_id rows first) keeps invoice_id before description
    found["row"] = texts.index.get_indexer(row) if len(found) else []
    found["row"] = texts.index.to_numpy()[found["row"].to_numpy(dtype="int64")] if len(found) else []
    plain = plain.assign(row=plain.index.to_numpy())
    found = pd.concat([plain[["transaction_id", "source", "lead", "digits", "row", "match"]], found], ignore_index=True)
    if found.empty:
        return empty_references()
    found = found.sort_values(["row", "match"], kind="stable", ignore_index=True)
    found["match"] = found.index.to_numpy()
    return _qualified(found.drop(columns="row"), policy)


def _source_frame(payments: pd.DataFrame, column: str) -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": payments["transaction_id"].to_numpy(),
        "source": column,
        "text": payments[column].astype(object).fillna("").to_numpy(),
    })


def _qualified(found: pd.DataFrame, policy: MatchingPolicy) -> pd.DataFrame:
    digits = found["digits"]
    # A list ("#1234,1235") is headed by the number without a "," lead; it qualifies as a whole.
    head = found["lead"] != ","
    list_id = head.cumsum()
    bare_year = (digits.str.len() == 4) & digits.str.match(r"(?:19|20)\d\d$")
    head_qualifies = (
        (found["source"] == "invoice_id") | (found["lead"] == "#") | ((digits.str.len() >= 4) & ~bare_year)
    )
    qualifies = head_qualifies.where(head).groupby(list_id).transform("first").astype(bool)
    number = digits.str.lstrip("0")
    keep = qualifies & (number.str.len() >= 1) & (number.str.len() <= policy.invoice_no_length)
    found = found[keep]
    references = pd.DataFrame({
        "transaction_id": found["transaction_id"].astype("int64"),
        "invoice_no": number[keep].str.zfill(policy.invoice_no_length),
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
