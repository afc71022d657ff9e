"""Receivables: payments matched to Sage customers and invoices, posted as cash receipts, exceptions.

Thin assets: read inputs, call `receivables/` and the matching core, write outputs, report
metadata and check the invariants (inline checks, so each one sees only its partition). The checks
that guard money (`applications_sum_to_payment`, `no_transaction_posted_twice`) are blocking: when one
fails, its step fails and nothing downstream of it runs. Built by `build_receivables_assets(config)`
from the `@dg.definitions` function below, so importing this module reads no configuration.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from sqlalchemy.exc import SQLAlchemyError

from sage_paytrace_pipeline.config import PipelineConfig, console_database_url
from sage_paytrace_pipeline.defs.exchange import exchange_rates
from sage_paytrace_pipeline.defs.metadata import (
    exception_metadata,
    money_total,
    preview,
)
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.ranges import (
    BACKFILL_POLICY,
    as_of,
    combined_check,
    days_of,
    of_day,
    run_days,
    stacked,
    with_days,
)
from sage_paytrace_pipeline.defs.receivables import checks
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.store.receipts import read_store_inbox, store_sales_for_matching
from sage_paytrace_pipeline.defs.warehouse import holding_the_warehouse
from sage_paytrace_pipeline.domain.currency import FX_RATE, PAYTRACE_AMOUNT, RateTable, exchange_of_log
from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions
from sage_paytrace_pipeline.domain.matching.frames import links_frame
from sage_paytrace_pipeline.domain.suggestions import best_suggestions
from sage_paytrace_pipeline.receivables.collector import collector_paused
from sage_paytrace_pipeline.receivables.currency import applications_with_exchange, payments_in_sage_currency
from sage_paytrace_pipeline.receivables.day import DayMatch, match_business_day
from sage_paytrace_pipeline.receivables.holds import flags_of_day, hold_flagged
from sage_paytrace_pipeline.receivables.invoice_choices import CHOICE_COLUMNS, read_choices, with_invoice_choices
from sage_paytrace_pipeline.receivables.new_customers import (
    NewCustomers,
    create_customers,
    failure_exceptions,
)
from sage_paytrace_pipeline.receivables.open_items import open_items
from sage_paytrace_pipeline.receivables.posting import (
    PostingOutcome,
    intent_from_sage,
    intents_for,
    post_receipts,
    receipts_in_sage,
)
from sage_paytrace_pipeline.receivables.posting_log import PostingLog, intents_of
from sage_paytrace_pipeline.receivables.receipts import plan_receipts
from sage_paytrace_pipeline.sage100.models import PostedReceipt

OWNERS = ["team:accounts-receivable"]


def _out(description: str, *, kinds: set[str] | None = None) -> dg.AssetOut:
    return dg.AssetOut(group_name="receivables", kinds=kinds or {"python", "duckdb"}, owners=OWNERS,
                       tags={"domain": "receivables"}, metadata={"partition_expr": "business_date"},
                       description=description, is_required=True)


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "business_date", day)
    return frame


def match_payments(  # noqa: PLR0917 - Dagster refuses keyword-only asset inputs
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource, warehouse: DuckDBResource,
    paytrace_transactions: pd.DataFrame, paytrace_customers: pd.DataFrame, sage_customers: pd.DataFrame,
    sage_customer_cards: pd.DataFrame, sage_open_invoices: pd.DataFrame,
):
    days = run_days(context)
    config = settings.config()
    links, policy = links_frame(config.customer_links), config.matching_policy()
    # factorized once: each day subtracts its receipts and re-indexes integer codes (receivables/open_items.py)
    open_invoices = open_items(as_of(sage_open_invoices, days[0]), policy)
    rates = exchange_rates(config, settings.config_path)  # None: one currency, nothing converts
    matched: list[tuple[date, DayMatch, pd.DataFrame]] = []
    waiting = 0
    choices = _invoice_choices(context, config, warehouse, paytrace_transactions)
    store_inbox = functools.cache(lambda: read_store_inbox(config, settings.config_path))  # once for the run
    # one look-up for the run's payments: nothing in this step writes to Sage, so each day finds what its own
    # look-up would
    in_sage = receipts_in_sage(sage100.reader(), paytrace_transactions["transaction_id"].astype("int64").tolist())
    for day in days:
        payments = of_day(paytrace_transactions, day, days)
        earlier = _posted_earlier(in_sage, warehouse, context.run.run_id, payments, day)
        no_rate = None
        if rates is not None:  # Sage's invoices are in its currency: payments are converted first
            payments, no_rate = payments_in_sage_currency(
                payments, day, rates, posted=set(earlier), policy=policy,
                currencies=(config.currency.paytrace, config.currency.sage))
        # web-store sales point at their order's Sage invoice, or wait for it (defs/store/receipts.py)
        store = store_sales_for_matching(config, settings.config_path, payments, open_invoices.frame,
                                         in_sage=set(earlier), inbox=store_inbox)
        waiting += len(store.held)
        # a payment a clerk applied to an invoice in the console names that invoice (receivables/invoice_choices.py)
        chosen = with_invoice_choices(store.payments, choices, in_sage=set(earlier))
        result = match_business_day(
            chosen, as_of(paytrace_customers, day), as_of(sage_customers, day),
            as_of(sage_customer_cards, day), open_invoices.index(), links=links, policy=policy, earlier=earlier)
        if no_rate is not None:
            result = DayMatch(result.customer_links, applications_with_exchange(result.applications, payments, earlier),
                              concat_exceptions([result.exceptions, no_rate]), result.skipped_counts)
        matched.append((day, result, payments))
        # the next day of a range sees the balances this day's receipts will leave, as its own run would
        open_invoices.add_receipts(result.applications)
    links_out = stacked(_dated(result.customer_links, day) for day, result, _ in matched)
    applications = stacked(_dated(result.applications, day) for day, result, _ in matched)
    exceptions = stacked(_dated(result.exceptions, day) for day, result, _ in matched)
    skipped = _summed(result.skipped_counts for _, result, _ in matched)
    yield dg.Output(links_out, output_name="customer_links", metadata=with_days({
        "links": len(links_out),
        "by_method": dg.MetadataValue.json(links_out["method"].value_counts().to_dict()),
    }, days))
    yield dg.Output(applications, output_name="payment_applications", metadata=with_days({
        "applications": len(applications),
        "payments": int(applications["transaction_id"].nunique()),
        "amount": money_total(applications["amount_cents"]),
        "posted_earlier": int(applications.drop_duplicates("transaction_id")["posted_earlier"].sum()),
        "by_method": dg.MetadataValue.json(applications["method"].value_counts().to_dict()),
        "skipped": dg.MetadataValue.json({**skipped, "store_sale_waiting": waiting}),
        "preview": preview(applications, ["transaction_id", "division", "customer_no", "invoice_no", "amount_cents",
                                          "method", "explanation"]),
    }, days))
    yield dg.Output(exceptions, output_name="matching_exceptions", metadata=with_days(exception_metadata(exceptions),
                                                                                       days))
    yield combined_check([(day, checks.applications_sum_to_payment(result.applications, payments))
                          for day, result, payments in matched])


def _invoice_choices(context: dg.AssetExecutionContext, config: PipelineConfig, warehouse: DuckDBResource,
                     payments: pd.DataFrame) -> pd.DataFrame:
    """The console's invoice choices for these payments (none without a `console:` section). A decisions
    store that does not answer does not stop the day: its held payments stay held until a run reads it."""
    if config.console is None or payments.empty:
        return pd.DataFrame(columns=CHOICE_COLUMNS)
    url = console_database_url(config.console, Path(warehouse.database))
    try:
        return read_choices(url, payments["transaction_id"].astype("int64").tolist())
    except SQLAlchemyError as error:
        context.log.warning("the console's decisions store did not answer (%s): invoice choices are read on the "
                            "next run", str(error).splitlines()[0])
        return pd.DataFrame(columns=CHOICE_COLUMNS)


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for day_counts in counts:
        for key, value in day_counts.items():
            total[key] = total.get(key, 0) + int(value)
    return total


def _posted_earlier(receipts: dict[int, list[PostedReceipt]], warehouse: DuckDBResource, run_id: str,
                    payments: pd.DataFrame, day: date) -> dict:
    """Payments of the day Sage already holds (`receipts`: Sage's receipts of the run's payments), with what the
    log (else Sage itself) says they paid."""
    in_sage = {tid: receipts[tid] for tid in payments["transaction_id"].astype("int64").tolist() if tid in receipts}
    if not in_sage:
        return {}
    with warehouse.get_connection() as connection:
        logged = intents_of(PostingLog(connection, run_id).entries(transaction_ids=sorted(in_sage)))
    return {tid: logged.get(tid) or intent_from_sage(found[0], day) for tid, found in in_sage.items()}


def post_cash_receipts(  # noqa: PLR0917 - Dagster refuses keyword-only asset inputs
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource, warehouse: DuckDBResource,
    payment_applications: pd.DataFrame, customer_links: pd.DataFrame, paytrace_transactions: pd.DataFrame,
    matching_exceptions: pd.DataFrame,
):
    """Post each newly matched payment as one Sage cash receipt, exactly once (see receivables/posting.py).

    With `customers.auto_create`, payers matching could not place are first created as Sage
    customers and their payments post on account (receivables/new_customers.py).
    """
    days = run_days(context)
    config = settings.config()
    writer, reader = sage100.open_writer(), sage100.reader()
    rates = exchange_rates(config, settings.config_path)  # None: one currency, nothing converts
    posted: list[tuple[date, PostedDay]] = []
    with warehouse.get_connection() as connection:  # one connection for every day of the run
        log = PostingLog(connection, context.run.run_id)
        for day in days:  # in order: a day's receipts take the deposit and entry numbers after the day before's
            posted.append((day, _post_day(
                day, config, writer, reader, log, of_day(payment_applications, day, days),
                of_day(customer_links, day, days), of_day(paytrace_transactions, day, days),
                of_day(matching_exceptions, day, days), rates)))
    receipts = stacked(_dated(day_posted.receipts, day) for day, day_posted in posted)
    exceptions = stacked(_dated(day_posted.exceptions, day) for day, day_posted in posted)
    yield dg.Output(receipts, output_name="sage_cash_receipts", metadata=with_days({
        "receipts": len(receipts),
        "written_this_run": sum(len(p.outcome.written) for _, p in posted),
        "found_in_sage_before_writing": sum(len(p.outcome.confirmed_existing) for _, p in posted),
        "awaiting_import": sum(len(p.outcome.awaiting_import) for _, p in posted),
        "customers_created": sum(p.customers_created for _, p in posted),
        "amount_confirmed": money_total(receipts.loc[receipts["state"] == "confirmed", "amount_cents"]),
        "by_state": dg.MetadataValue.json(receipts["state"].value_counts().to_dict()),
        "preview": preview(receipts, ["transaction_id", "division", "customer_no", "amount_cents", "payment_type",
                                      "deposit_no", "entry_no", "state"]),
    }, days))
    yield dg.Output(exceptions, output_name="posting_exceptions",
                    metadata=with_days(exception_metadata(exceptions), days))
    read_back = [(day, _read_back_checks(reader, p.receipts)) for day, p in posted]
    yield combined_check([(day, posted_twice) for day, (posted_twice, _) in read_back])
    yield combined_check([(day, match_log) for day, (_, match_log) in read_back])


@collector_paused()
def _read_back_checks(reader, receipts: pd.DataFrame) -> tuple[dg.AssetCheckResult, dg.AssetCheckResult]:
    """A day's `no_transaction_posted_twice` and `receipts_in_sage_match_log` on Sage as the run leaves it.
    Day by day, so a range run never holds a year of Sage's receipts as models at once."""
    found = receipts_in_sage(reader, receipts["transaction_id"].astype("int64").tolist())
    return checks.no_transaction_posted_twice(found), checks.receipts_in_sage_match_log(receipts, found)


@dataclass(frozen=True)
class PostedDay:
    receipts: pd.DataFrame  # the day's posting-log rows (without business_date)
    exceptions: pd.DataFrame
    outcome: PostingOutcome
    customers_created: int


@collector_paused()  # a day's rows, documents and models are freed by reference counting (receivables/collector.py)
def _post_day(day: date, config, writer, reader, log: PostingLog, payment_applications: pd.DataFrame,  # noqa: PLR0917
              customer_links: pd.DataFrame, paytrace_transactions: pd.DataFrame,
              matching_exceptions: pd.DataFrame, rates: RateTable | None = None) -> PostedDay:
    earlier = payment_applications["posted_earlier"].astype(bool)
    new = payment_applications[~earlier]
    if rates is not None:  # new customers' prepayments in Sage's currency (a day without a rate: none)
        converted, _ = payments_in_sage_currency(
            paytrace_transactions, day, rates, posted=set(), policy=config.matching_policy(),
            currencies=(config.currency.paytrace, config.currency.sage))
        created = _new_customers(config, matching_exceptions, converted, writer)
        if not created.applications.empty:
            created = NewCustomers(created.links, applications_with_exchange(created.applications, converted, {}),
                                   created.failures)
    else:
        created = _new_customers(config, matching_exceptions, paytrace_transactions, writer)
    new = pd.concat([new, created.applications], ignore_index=True) if not created.applications.empty else new
    if not created.links.empty:
        customer_links = pd.concat([customer_links, created.links], ignore_index=True)
    held = None
    if config.anomalies.hold_from_posting:  # off by default: posting does not wait for the flags
        new, held = hold_flagged(new, flags_of_day(log.connection, day), config.anomaly_policy())
    plan = plan_receipts(new, paytrace_transactions, config.sage, day)
    intents = intents_for(plan.receipts, new, customer_links, day)
    posted_earlier = sorted(set(payment_applications.loc[earlier, "transaction_id"].astype(int)))
    outcome = post_receipts(plan.receipts, intents, writer=writer, reader=reader, log=log,
                            posted_earlier=posted_earlier, business_date=day)
    receipts = log.entries(business_date=day).drop(columns=["business_date"])
    if rates is not None:  # the rate and the PayTrace amount the log recorded; amount_cents is Sage's
        receipts = pd.concat([receipts, exchange_of_log(receipts["applications_json"]).set_index(receipts.index)[
            [PAYTRACE_AMOUNT, FX_RATE]]], axis=1)
    exceptions = pd.concat([plan.exceptions, outcome.exceptions, failure_exceptions(created.failures), held],
                           ignore_index=True)
    customers = int(created.links["customer_no"].nunique()) if not created.links.empty else 0
    return PostedDay(receipts, exceptions, outcome, customers)


def _new_customers(config, matching_exceptions: pd.DataFrame, payments: pd.DataFrame, writer) -> NewCustomers:
    if not config.customers.auto_create:
        return NewCustomers(pd.DataFrame(), pd.DataFrame(), {})
    return create_customers(matching_exceptions, payments, policy=config.customers, sage=config.sage, writer=writer)


def receivable_exceptions(  # noqa: PLR0917 - Dagster refuses keyword-only asset inputs
    context: dg.AssetExecutionContext, settings: PipelineSettings, matching_exceptions: pd.DataFrame,
    posting_exceptions: pd.DataFrame, sage_cash_receipts: pd.DataFrame, paytrace_transactions: pd.DataFrame,
    paytrace_record_exceptions: pd.DataFrame, exception_suggestions: pd.DataFrame,
):
    """Every exception of the day for AR staff: kind, severity, source ids, what is wrong, the action that fixes it,
    and for customer and unapplied-payment exceptions the best suggestion (`exception_suggestions`)."""
    days = run_days(context)
    policy = settings.config().matching_policy()
    per_day, results = [], []
    # each input's dates read once for the run, not once a day
    record_exceptions_of, matching_of = days_of(paytrace_record_exceptions, days), days_of(matching_exceptions, days)
    posting_of, suggestions_of = days_of(posting_exceptions, days), days_of(exception_suggestions, days)
    transactions_of, receipts_of = days_of(paytrace_transactions, days), days_of(sage_cash_receipts, days)
    for day in days:
        stages = [record_exceptions_of[day].assign(stage="paytrace"), matching_of[day].assign(stage="matching"),
                  posting_of[day].assign(stage="posting")]
        exceptions = pd.concat(stages, ignore_index=True).drop(columns=["business_date"])
        exceptions = exceptions.sort_values(["severity", "kind", "transaction_id"], ignore_index=True)
        exceptions["best_suggestion"] = _best_suggestion(exceptions, suggestions_of[day])
        per_day.append(_dated(exceptions, day))
        results.append((day, checks.every_approved_sale_posted_or_excepted(
            transactions_of[day], receipts_of[day], exceptions, policy)))
    exceptions = stacked(per_day)
    yield dg.Output(exceptions, metadata=with_days(exception_metadata(exceptions), days))
    yield combined_check(results)


def _best_suggestion(exceptions: pd.DataFrame, suggestions: pd.DataFrame) -> pd.Series:
    """The first-ranked candidate of the exception's kind ("" where there is none)."""
    if suggestions.empty:
        return pd.Series("", index=exceptions.index, dtype=object)
    best = best_suggestions(suggestions)
    kinds = suggestions[suggestions["rank"] == 1].set_index("transaction_id")["exception_kind"]
    tid = exceptions["transaction_id"]
    found = tid.map(best).where(tid.map(kinds) == exceptions["kind"])
    return found.fillna("").astype(object)


def build_receivables_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions = business_day_partitions(config)
    match = dg.multi_asset(
        outs={
            "customer_links": _out("Who paid: each payment's Sage customer (division, number) with method, score "
                                   "and why."),
            "payment_applications": _out("The matched receipts: payment -> invoice(s) and amounts, with method, "
                                         "score and a one-line explanation; `posted_earlier` rows come from the "
                                         "posting log."),
            "matching_exceptions": _out("Payments matching could not place with confidence: kind, what is wrong, "
                                        "action."),
        },
        partitions_def=partitions,
        pool="duckdb",
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[dg.AssetCheckSpec("applications_sum_to_payment", asset="payment_applications", blocking=True,
                                       description="each payment's applications add up to its amount, to the cent")],
    )(holding_the_warehouse(match_payments))
    post = dg.multi_asset(
        outs={
            "sage_cash_receipts": _out("Card cash receipts in Sage for the day's payments: deposit and entry numbers, "
                                       "state (confirmed / written / rejected), from the posting log.",
                                       kinds={"python", "duckdb", "sage"}),
            "posting_exceptions": _out("Receipts Sage refused or could not take, with what to fix."),
        },
        partitions_def=partitions,
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[
            dg.AssetCheckSpec("no_transaction_posted_twice", asset="sage_cash_receipts", blocking=True,
                              description="Sage holds at most one receipt per PayTrace transaction id"),
            dg.AssetCheckSpec("receipts_in_sage_match_log", asset="sage_cash_receipts",
                              description="every confirmed receipt in the log is in Sage with the same customer and "
                                          "amount"),
        ],
        # anomalies.hold_from_posting: the day's flags decide what posts, so they come first
        deps=["payment_anomalies"] if config.anomalies.hold_from_posting else None,
    )(holding_the_warehouse(fails_fast_on_outage(post_cash_receipts)))
    exceptions = dg.asset(
        partitions_def=partitions,
        group_name="receivables",
        kinds={"python", "duckdb"},
        owners=OWNERS,
        tags={"domain": "receivables"},
        metadata={"partition_expr": "business_date"},
        pool="duckdb",
        backfill_policy=BACKFILL_POLICY,
        check_specs=[dg.AssetCheckSpec("every_approved_sale_posted_or_excepted", asset="receivable_exceptions",
                                       description="each approved sale of the day is in Sage or has an exception row")],
    )(receivable_exceptions)
    return [match, post, exceptions]


@dg.definitions
def receivables_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_receivables_assets(load_time_config())))
