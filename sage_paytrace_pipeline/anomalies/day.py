"""One business day's anomaly flags and exception suggestions, with the history read from the warehouse."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from sage_paytrace_pipeline.anomalies.decisions import decided
from sage_paytrace_pipeline.anomalies.history import (
    RangeHistory,
    applications_between,
    batch_fees_between,
    earlier_transactions,
    vault_links_before,
)
from sage_paytrace_pipeline.domain.anomalies import AnomalyInputs, AnomalyPolicy, detect_anomalies
from sage_paytrace_pipeline.domain.matching import MatchingPolicy
from sage_paytrace_pipeline.domain.matching.frames import LINK_COLUMNS
from sage_paytrace_pipeline.domain.suggestions import Ledger, SuggestionPolicy, suggest
from sage_paytrace_pipeline.domain.suggestions.learning import learned_policy


def flag_day(connection: duckdb.DuckDBPyConnection, day: date, transactions: pd.DataFrame,
             applications: pd.DataFrame, policy: AnomalyPolicy, *, history: RangeHistory | None = None,
             ) -> pd.DataFrame:
    """The day's flags; `applications` are the day's (earlier days' come from the warehouse, or from
    `history`, the run's reads of it)."""
    start = day - timedelta(days=policy.history_days)
    if history is not None and history.history_days != policy.history_days:
        raise ValueError("the history was read for another number of days than the policy judges by")
    earlier_applications = (history.earlier_applications(day, naming=transactions) if history is not None
                            else applications_between(connection, start, day - timedelta(days=1)))
    columns = ["transaction_id", "invoice_no", "amount_cents"]
    all_applications = pd.concat([earlier_applications[columns], applications[columns]], ignore_index=True)
    fees = batch_fees_between(connection, start, day)
    today = fees["business_date"].astype(str) == day.isoformat()
    if history is not None:
        inputs = AnomalyInputs(transactions, None, all_applications, batches=fees[today], batch_history=fees[~today],
                               indexed=history.indexed(day, transactions))
    else:
        inputs = AnomalyInputs(transactions, earlier_transactions(connection, day, policy.history_days),
                               all_applications, batches=fees[today], batch_history=fees[~today])
    return detect_anomalies(inputs, policy)


def suggest_day(connection: duckdb.DuckDBPyConnection, day: date, *, exceptions: pd.DataFrame,
                transactions: pd.DataFrame, ledger: Ledger, customer_links: pd.DataFrame,
                operator_links: pd.DataFrame, history_days: int, policy: SuggestionPolicy, matching: MatchingPolicy,
                decisions: pd.DataFrame | None = None, references: pd.DataFrame | None = None,
                earlier_links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranked candidates for the day's unknown / ambiguous customers and unapplied payments, weighed
    by what people decided on earlier suggestions once there are enough decisions (`ledger`: the day's
    Sage customers and open invoices; `decisions`: the run's read of them; else read now; `references`: the
    invoice numbers the run's payers wrote, read for all its days at once,
    `domain.suggestions.references_of_days`; `earlier_links`: the day's `vault_links_before`, read for all the
    run's days at once, else read now)."""
    earlier = vault_links_before(connection, day, history_days) if earlier_links is None else earlier_links
    learned = learned_policy(decided(connection) if decisions is None else decisions, policy)
    vault_links = pd.concat([operator_links.loc[:, list(LINK_COLUMNS)], earlier], ignore_index=True)
    return suggest(exceptions, transactions, ledger.customers, ledger.open_invoices, customer_links=customer_links,
                   vault_links=vault_links.drop_duplicates(), policy=learned,
                   matching=matching, references=references, ledger=ledger)
