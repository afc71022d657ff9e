"""Matching core: PayTrace payments -> Sage customers -> invoice applications, plus exceptions.

Pure and column-wise (pandas, numpy, rapidfuzz): a day's payments are matched with joins and
group-wise sums, never a Python loop per payment. Input frames:
- payments: `paytrace.frames.TRANSACTION_COLUMNS` (amount_cents int64);
- customers: division, customer_no, name, zip_code, email, status, credit_card_guid;
- cards: division, customer_no, credit_card_guid (= PayTrace vault customer_id);
- open_invoices: division, customer_no, invoice_no, invoice_type, balance_cents (int64);
- links: customer_id (vault id), division, customer_no (operator-confirmed).
`frames.py` builds them from Sage models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sage_paytrace_pipeline.domain.matching.customers import resolve, resolve_customers
from sage_paytrace_pipeline.domain.matching.eligibility import split_eligible
from sage_paytrace_pipeline.domain.matching.exceptions import (
    concat_exceptions,
    make_exceptions,
)
from sage_paytrace_pipeline.domain.matching.invoices import (
    allocate,
    apply,
    apply_payments,
)
from sage_paytrace_pipeline.domain.matching.open_invoices import index_open_invoices
from sage_paytrace_pipeline.domain.matching.policy import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.references import extract_invoice_references

__all__ = [
    "MatchResult", "MatchingPolicy", "allocate", "apply_payments", "concat_exceptions", "extract_invoice_references",
    "make_exceptions", "match_day", "resolve_customers", "split_eligible",
]


@dataclass(frozen=True)
class MatchResult:
    customer_links: pd.DataFrame
    applications: pd.DataFrame
    exceptions: pd.DataFrame
    skipped_counts: dict[str, int] = field(default_factory=dict)


def match_day(
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    cards: pd.DataFrame,
    open_invoices: pd.DataFrame,
    *,
    links: pd.DataFrame,
    policy: MatchingPolicy | None = None,
) -> MatchResult:
    """Everything matching decides about one day's transactions."""
    policy = policy or MatchingPolicy()
    eligible, refunds, skipped = split_eligible(payments, policy)
    references = extract_invoice_references(eligible, policy)
    # built once and shared by both stages: the open invoices indexed, each referenced number looked up
    index = index_open_invoices(open_invoices, policy)
    located = index.locate(references)
    customer_links, customer_problems = resolve(eligible, customers, cards, links=links, policy=policy,
                                                  references=references, located=located, index=index)
    applications, invoice_problems = apply(eligible, customer_links, policy=policy, references=references,
                                             located=located, index=index)
    exceptions = concat_exceptions([refunds, customer_problems, invoice_problems])
    return MatchResult(customer_links.frame, applications, exceptions, skipped)
