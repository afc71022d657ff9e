"""Matching core: PayTrace payments -> Sage customers -> invoice applications, plus exceptions.

Pure and column-wise (pandas, numpy, rapidfuzz): a day's payments are matched with joins and
group-wise sums, never a Python loop per payment. Input frames:
- payments: `paytrace.frames.TRANSACTION_COLUMNS` (amount_cents int64);
- customers: division, customer_no, name, zip_code, email, status, credit_card_guid;
- cards: division, customer_no, credit_card_guid (= PayTrace vault customer_id);
- open_invoices: division, customer_no, invoice_no, invoice_type, balance_cents (int64);
- links: customer_id (vault id), division, customer_no (operator-confirmed).
`frames.py` builds them from Sage models.

`match_day` decides; it does not write the explanations of its links and applications. It returns
what each is made of (`CODED_LINK_COLUMNS`, `CODED_APPLICATION_COLUMNS`: codes, amounts in cents,
the evidence's own strings), and `render_messages` writes the text, the same characters as before,
for the rows a caller keeps: at a million payments the text cost as much as the decisions.
Exceptions keep their text (few rows, every one of them stored and shown).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sage_paytrace_pipeline.domain.matching.customers import (
    CODED_LINK_COLUMNS,
    render_links,
    resolve,
    resolve_customers,
)
from sage_paytrace_pipeline.domain.matching.eligibility import split_eligible
from sage_paytrace_pipeline.domain.matching.exceptions import (
    concat_exceptions,
    make_exceptions,
)
from sage_paytrace_pipeline.domain.matching.invoices import (
    CODED_APPLICATION_COLUMNS,
    allocate,
    apply,
    apply_payments,
    render_applications,
)
from sage_paytrace_pipeline.domain.matching.memory import release_freed_memory
from sage_paytrace_pipeline.domain.matching.open_invoices import OpenInvoiceIndex, index_open_invoices
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references

__all__ = [
    "CODED_APPLICATION_COLUMNS", "CODED_LINK_COLUMNS", "MatchResult", "MatchingPolicy", "allocate", "apply_payments",
    "concat_exceptions", "extract_invoice_references", "make_exceptions", "match_day", "render_applications",
    "render_links", "render_messages", "resolve_customers", "split_eligible",
]


@dataclass(frozen=True)
class MatchResult:
    """customer_links and applications coded (CODED_*_COLUMNS) from match_day, with their explanation
    (LINK_COLUMNS, APPLICATION_COLUMNS) once `render_messages` has made it."""

    customer_links: pd.DataFrame
    applications: pd.DataFrame
    exceptions: pd.DataFrame
    skipped_counts: dict[str, int] = field(default_factory=dict)


def render_messages(result: MatchResult) -> MatchResult:
    """The result with the explanations of its links and applications written (exactly the text the
    core used to write); call it on what is kept, after dropping the rows nobody stores or shows."""
    return MatchResult(render_links(result.customer_links), render_applications(result.applications),
                       result.exceptions, result.skipped_counts)


def match_day(
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    cards: pd.DataFrame,
    open_invoices: pd.DataFrame | OpenInvoiceIndex,
    *,
    links: pd.DataFrame,
    policy: MatchingPolicy | None = None,
) -> MatchResult:
    """Everything matching decides about one day's transactions; explanations coded (`render_messages`).

    `open_invoices` may come indexed: `index_open_invoices(open_invoices, policy)`, or an index equal
    to it that a range's days keep up to date (`receivables/open_items.py`)."""
    policy = policy or MatchingPolicy()
    index = open_invoices if isinstance(open_invoices, OpenInvoiceIndex) else index_open_invoices(open_invoices, policy)
    result = _decide(payments, customers, cards, links=links, policy=policy, index=index)
    release_freed_memory()  # the stages' intermediate arrays are gone: their heap pages go back
    return result


def _decide(payments: pd.DataFrame, customers: pd.DataFrame, cards: pd.DataFrame, *,
            links: pd.DataFrame, policy: MatchingPolicy, index: OpenInvoiceIndex) -> MatchResult:
    eligible, refunds, skipped = split_eligible(payments, policy)
    references = extract_invoice_references(eligible, policy)
    # shared by both stages: the open invoices indexed, each referenced number looked up once
    located = index.locate(references)
    customer_links, customer_problems = resolve(eligible, customers, cards, links=links, policy=policy,
                                                  references=references, located=located, index=index)
    # handed over, not kept: apply drops them once it has taken what it needs from them
    handed = {"references": references, "located": located}
    del references, located
    applications, invoice_problems = apply(eligible, customer_links, policy=policy, index=index,
                                             references=handed.pop("references"), located=handed.pop("located"))
    exceptions = concat_exceptions([refunds, customer_problems, invoice_problems])
    return MatchResult(customer_links.frame, applications, exceptions, skipped)
