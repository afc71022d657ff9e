"""Anomaly flags and exception suggestions for a business day.

Thin: `payment_anomalies` reads the day's transactions and applications and the warehouse's
history (anomalies/history.py), runs the ordered rules (domain/anomalies) and writes one row per
flag; `exception_suggestions` ranks candidates for the day's unknown / ambiguous customers and
unapplied payments (domain/suggestions). Built by `build_anomaly_assets(config)` from the
`@dg.definitions` function below, so importing this module reads no configuration.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.anomalies.day import suggest_day
from sage_paytrace_pipeline.anomalies.decisions import decided
from sage_paytrace_pipeline.anomalies.history import vault_links_of_days
from sage_paytrace_pipeline.anomalies.range import flag_days
from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.exchange import exchange_rates
from sage_paytrace_pipeline.defs.metadata import preview
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.ranges import (
    BACKFILL_POLICY,
    as_of_days,
    combined_check,
    days_of,
    run_days,
    stacked,
    with_days,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.domain.anomalies import RULES, held_payments
from sage_paytrace_pipeline.domain.matching.frames import links_frame
from sage_paytrace_pipeline.domain.suggestions import CUSTOMER_KINDS, INVOICE_KINDS, Ledger, references_of_days
from sage_paytrace_pipeline.receivables.currency import payments_in_sage_currency

OWNERS = ["team:accounts-receivable"]
GROUP = "anomalies"


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = frame.drop(columns=["business_date"], errors="ignore").copy()
    frame.insert(0, "business_date", day)
    return frame


def payment_anomalies(context: dg.AssetExecutionContext, settings: PipelineSettings, warehouse: DuckDBResource,
                      paytrace_transactions: pd.DataFrame, payment_applications: pd.DataFrame,
                      ) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """The day's anomaly flags: rule, severity, score, evidence and a sentence for the clerk."""
    days = run_days(context)
    policy = settings.config().anomaly_policy()
    transactions_of, applications_of = days_of(paytrace_transactions, days), days_of(payment_applications, days)
    with warehouse.get_connection() as connection:
        flags_of = flag_days(connection, days, transactions_of, applications_of, policy)
    flagged = [(day, flags_of[day], transactions_of[day]) for day in days]
    flags = stacked(_dated(day_flags, day) for day, day_flags, _ in flagged)
    held = held_payments(flags, policy)
    yield dg.Output(flags, metadata=with_days({
        "flags": len(flags),
        "by_rule": dg.MetadataValue.json({rule: int((flags["rule"] == rule).sum()) for rule in RULES
                                          if policy.enabled(rule)}),
        "by_severity": dg.MetadataValue.json(flags["severity"].value_counts().to_dict()),
        "rules_off": dg.MetadataValue.json([rule for rule in RULES if not policy.enabled(rule)]),
        "payments_held": int(held["transaction_id"].nunique()),
        "preview": preview(flags, ["rule", "severity", "transaction_id", "batch_number", "score", "explanation"]),
    }, days))
    yield combined_check([(day, flags_are_explained(day_flags, transactions))
                          for day, day_flags, transactions in flagged])


def flags_are_explained(flags: pd.DataFrame, transactions: pd.DataFrame) -> dg.AssetCheckResult:
    """Every flag names a known rule, says why in a sentence, and is about one of the day's transactions (or a
    batch)."""
    known = flags["rule"].isin(RULES) & (flags["explanation"].astype(str).str.len() > 0)
    ours = flags["transaction_id"].isna() | flags["transaction_id"].isin(transactions["transaction_id"])
    failing = flags[~(known & ours)]
    return dg.AssetCheckResult(
        check_name="flags_are_explained", asset_key="payment_anomalies", passed=failing.empty,
        description=f"{len(failing)} of {len(flags)} flags unexplained or about another day" if len(failing)
        else f"all {len(flags)} flags explained",
        metadata={"checked": len(flags), "failing": len(failing)})


def exception_suggestions(  # noqa: PLR0917 - Dagster refuses keyword-only asset inputs
    context: dg.AssetExecutionContext, settings: PipelineSettings, warehouse: DuckDBResource,
    matching_exceptions: pd.DataFrame, paytrace_transactions: pd.DataFrame, sage_customers: pd.DataFrame,
    sage_open_invoices: pd.DataFrame, customer_links: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Up to three ranked candidates per unknown / ambiguous customer and unapplied payment, with reasons."""
    days = run_days(context)
    config = settings.config()
    suggested = []
    exceptions_of, transactions_of = days_of(matching_exceptions, days), days_of(paytrace_transactions, days)
    links_of, operator_links = days_of(customer_links, days), links_frame(config.customer_links)
    wanted_of = {}
    for day in days:
        exceptions = exceptions_of[day]
        wanted_of[day] = exceptions[exceptions["kind"].isin(CUSTOMER_KINDS + INVOICE_KINDS)]
        if not config.suggestions.enabled:
            wanted_of[day] = wanted_of[day].iloc[:0]
    rates = exchange_rates(config, settings.config_path)  # None: one currency, nothing converts

    def in_sage_currency(transactions: pd.DataFrame, day: date) -> pd.DataFrame:
        """Amounts as matching compared them: an amount's evidence is a balance in Sage's currency."""
        if rates is None:
            return transactions
        return payments_in_sage_currency(transactions, day, rates, posted=set(), policy=config.matching_policy(),
                                         currencies=(config.currency.paytrace, config.currency.sage))[0]

    # the invoice numbers every day's payers wrote, read in one pass (a single day reads its own)
    references = (references_of_days([(wanted_of[day], transactions_of[day]) for day in days],
                                     config.matching_policy()) if len(days) > 1 else None)
    ledgers = _ledgers(as_of_days(sage_customers, days), as_of_days(sage_open_invoices, days))
    with warehouse.get_connection() as connection:
        decisions = decided(connection)  # read once: nothing the step reads is written while it runs
        earlier_links = vault_links_of_days(connection, days, config.anomalies.history_days)
        for day in days:
            wanted = wanted_of[day]
            day_suggestions = suggest_day(
                connection, day, exceptions=wanted, transactions=in_sage_currency(transactions_of[day], day),
                ledger=ledgers[day], customer_links=links_of[day], operator_links=operator_links,
                history_days=config.anomalies.history_days, policy=config.suggestions,
                matching=config.matching_policy(), decisions=decisions, references=references,
                earlier_links=earlier_links[day])
            suggested.append((day, day_suggestions, wanted))
    suggestions = stacked(_dated(day_suggestions, day) for day, day_suggestions, _ in suggested)
    wanted = stacked(day_wanted for _, _, day_wanted in suggested)
    with_candidate = len(suggestions.drop_duplicates(["business_date", "transaction_id"]))
    yield dg.Output(suggestions, metadata=with_days({
        "exceptions": len(wanted),
        "with_a_candidate": with_candidate,
        "without_a_candidate": len(wanted) - with_candidate,
        "by_kind": dg.MetadataValue.json(wanted["kind"].value_counts().to_dict()),
        "preview": preview(suggestions[suggestions["rank"] == 1],
                           ["transaction_id", "exception_kind", "division", "customer_no", "invoice_nos", "score",
                            "reasons"]),
    }, days))
    yield combined_check([(day, suggestions_are_ranked(day_suggestions, day_wanted, config.suggestions.candidates))
                          for day, day_suggestions, day_wanted in suggested])


def _ledgers(customers_of: dict[date, pd.DataFrame], invoices_of: dict[date, pd.DataFrame]) -> dict[date, Ledger]:
    """Each day's customers and open invoices as one `Ledger`, shared by the days of the same snapshots (so
    each is cleaned once per range, not once per day)."""
    shared: dict[tuple[int, int], Ledger] = {}
    for day, customers in customers_of.items():
        invoices = invoices_of[day]
        shared.setdefault((id(customers), id(invoices)), Ledger(customers, invoices))
    return {day: shared[id(customers), id(invoices_of[day])] for day, customers in customers_of.items()}


def suggestions_are_ranked(suggestions: pd.DataFrame, exceptions: pd.DataFrame, limit: int) -> dg.AssetCheckResult:
    """Each suggestion answers one of the day's exceptions, ranks run 1..n <= limit, scores never rise with rank."""
    ranks_ok = suggestions.groupby("transaction_id")["rank"].agg(
        lambda ranks: list(ranks) == list(range(1, len(ranks) + 1)) and len(ranks) <= limit)
    falling = suggestions.groupby("transaction_id")["score"].agg(lambda scores: scores.is_monotonic_decreasing)
    answered = suggestions["transaction_id"].isin(exceptions["transaction_id"])
    failing = int((~ranks_ok).sum() + (~falling).sum() + (~answered).sum())
    return dg.AssetCheckResult(
        check_name="suggestions_are_ranked", asset_key="exception_suggestions", passed=failing == 0,
        description=f"{failing} problems in the ranking" if failing else
        f"{len(suggestions)} suggestions for {suggestions['transaction_id'].nunique()} exceptions, ranked",
        metadata={"suggestions": len(suggestions), "failing": failing})


def _asset(partitions: dg.PartitionsDefinition, description: str, check: dg.AssetCheckSpec):
    return dg.asset(partitions_def=partitions, group_name=GROUP, owners=OWNERS, tags={"domain": "anomalies"},
                    metadata={"partition_expr": "business_date"}, pool="duckdb", kinds={"python", "duckdb"},
                    backfill_policy=BACKFILL_POLICY,
                    description=description, check_specs=[check])


def build_anomaly_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions = business_day_partitions(config)
    anomalies = _asset(
        partitions,
        "Anomaly flags of the day's PayTrace activity (duplicate charges, card testing, outliers, double payments, "
        "odd refunds, fee band, unusual hours): rule, severity, score, evidence and a sentence for the clerk; "
        "rules in `anomalies.hold_from_posting` hold the payment.",
        dg.AssetCheckSpec("flags_are_explained", asset="payment_anomalies",
                          description="every flag names its rule, explains itself and is about the day's activity"),
    )(payment_anomalies)
    suggestions = _asset(
        partitions,
        "Up to three ranked candidates (Sage customers or open invoices) with score and reasons for every "
        "unknown-customer, ambiguous-customer and unapplied-payment exception of the day.",
        dg.AssetCheckSpec("suggestions_are_ranked", asset="exception_suggestions",
                          description="ranks 1..n within the limit, scores falling, each answering an exception "
                                      "of the day"),
    )(exception_suggestions)
    return [anomalies, suggestions]


@dg.definitions
def anomaly_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_anomaly_assets(load_time_config())))
