"""Receivables: payments matched to Sage customers and invoices, posted as cash receipts, exceptions.

Thin assets: read inputs, call `receivables/` and the matching core, write outputs, report
metadata and check the invariants (inline checks, so each one sees only its partition). The checks
that guard money (`applications_sum_to_payment`, `no_transaction_posted_twice`) are blocking: when one
fails, its step fails and nothing downstream of it runs. Built by `build_receivables_assets(config)`
from the `@dg.definitions` function below, so importing this module reads no configuration.
"""

from datetime import date

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.metadata import (
    exception_metadata,
    money_total,
    preview,
)
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.receivables import checks
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.store.receipts import store_sales_for_matching
from sage_paytrace_pipeline.domain.matching.frames import links_frame
from sage_paytrace_pipeline.domain.suggestions import best_suggestions
from sage_paytrace_pipeline.receivables.day import match_business_day
from sage_paytrace_pipeline.receivables.holds import flags_of_day, hold_flagged
from sage_paytrace_pipeline.receivables.new_customers import (
    NewCustomers,
    create_customers,
    failure_exceptions,
)
from sage_paytrace_pipeline.receivables.posting import (
    intent_for,
    intent_from_sage,
    post_receipts,
    receipts_in_sage,
)
from sage_paytrace_pipeline.receivables.posting_log import PostingLog, intents_of
from sage_paytrace_pipeline.receivables.receipts import plan_receipts

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
    day = date.fromisoformat(context.partition_key)
    config = settings.config()
    earlier = _posted_earlier(sage100, warehouse, context.run.run_id, paytrace_transactions, day)
    # web-store sales point at their order's Sage invoice, or wait for it (defs/store/receipts.py)
    store = store_sales_for_matching(config, settings.config_path, paytrace_transactions, sage_open_invoices,
                                     in_sage=set(earlier))
    result = match_business_day(
        store.payments, paytrace_customers, sage_customers, sage_customer_cards, sage_open_invoices,
        links=links_frame(config.customer_links), policy=config.matching_policy(), earlier=earlier)
    applications = result.applications
    yield dg.Output(_dated(result.customer_links, day), output_name="customer_links", metadata={
        "links": len(result.customer_links),
        "by_method": dg.MetadataValue.json(result.customer_links["method"].value_counts().to_dict()),
    })
    yield dg.Output(_dated(applications, day), output_name="payment_applications", metadata={
        "applications": len(applications),
        "payments": int(applications["transaction_id"].nunique()),
        "amount": money_total(applications["amount_cents"]),
        "posted_earlier": int(applications.drop_duplicates("transaction_id")["posted_earlier"].sum()),
        "by_method": dg.MetadataValue.json(applications["method"].value_counts().to_dict()),
        "skipped": dg.MetadataValue.json({**result.skipped_counts, "store_sale_waiting": len(store.held)}),
        "preview": preview(applications, ["transaction_id", "division", "customer_no", "invoice_no", "amount_cents",
                                          "method", "explanation"]),
    })
    yield dg.Output(_dated(result.exceptions, day), output_name="matching_exceptions",
                    metadata=exception_metadata(result.exceptions))
    yield checks.applications_sum_to_payment(applications, paytrace_transactions)


def _posted_earlier(sage100: Sage100Resource, warehouse: DuckDBResource, run_id: str, payments: pd.DataFrame,
                    day: date) -> dict:
    """Payments of the day Sage already holds, with what the log (else Sage itself) says they paid."""
    in_sage = receipts_in_sage(sage100.reader(), payments["transaction_id"].astype("int64").tolist())
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
    day = date.fromisoformat(context.partition_key)
    config = settings.config()
    writer = sage100.open_writer()
    earlier = payment_applications["posted_earlier"].astype(bool)
    new = payment_applications[~earlier]
    created = _new_customers(config, matching_exceptions, paytrace_transactions, writer)
    new = pd.concat([new, created.applications], ignore_index=True) if not created.applications.empty else new
    if not created.links.empty:
        customer_links = pd.concat([customer_links, created.links], ignore_index=True)
    held = None
    if config.anomalies.hold_from_posting:  # off by default: posting does not wait for the flags
        with warehouse.get_connection() as connection:
            new, held = hold_flagged(new, flags_of_day(connection, day), config.anomaly_policy())
    plan = plan_receipts(new, paytrace_transactions, config.sage, day)
    links = customer_links.drop_duplicates("transaction_id").set_index("transaction_id")
    lines = dict(tuple(new.groupby("transaction_id"))) if not new.empty else {}
    intents = {tid: intent_for(receipt, lines[tid], links.loc[tid] if tid in links.index else None, day)
               for tid, receipt in plan.receipts.items()}
    reader = sage100.reader()
    with warehouse.get_connection() as connection:
        log = PostingLog(connection, context.run.run_id)
        posted_earlier = sorted(set(payment_applications.loc[earlier, "transaction_id"].astype(int)))
        outcome = post_receipts(plan.receipts, intents, writer=writer, reader=reader, log=log,
                                posted_earlier=posted_earlier, business_date=day)
        receipts = log.entries(business_date=day)
    receipts = receipts.drop(columns=["business_date"])
    exceptions = pd.concat([plan.exceptions, outcome.exceptions, failure_exceptions(created.failures), held],
                           ignore_index=True)
    yield dg.Output(_dated(receipts, day), output_name="sage_cash_receipts", metadata={
        "receipts": len(receipts),
        "written_this_run": len(outcome.written),
        "found_in_sage_before_writing": len(outcome.confirmed_existing),
        "awaiting_import": len(outcome.awaiting_import),
        "customers_created": int(created.links["customer_no"].nunique()) if not created.links.empty else 0,
        "amount_confirmed": money_total(receipts.loc[receipts["state"] == "confirmed", "amount_cents"]),
        "by_state": dg.MetadataValue.json(receipts["state"].value_counts().to_dict()),
        "preview": preview(receipts, ["transaction_id", "division", "customer_no", "amount_cents", "payment_type",
                                      "deposit_no", "entry_no", "state"]),
    })
    yield dg.Output(_dated(exceptions, day), output_name="posting_exceptions", metadata=exception_metadata(exceptions))
    in_sage = receipts_in_sage(reader, receipts["transaction_id"].astype("int64").tolist())
    yield checks.no_transaction_posted_twice(in_sage)
    yield checks.receipts_in_sage_match_log(receipts, in_sage)


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
    stages = [paytrace_record_exceptions.assign(stage="paytrace"), matching_exceptions.assign(stage="matching"),
              posting_exceptions.assign(stage="posting")]
    exceptions = pd.concat(stages, ignore_index=True).drop(columns=["business_date"])
    exceptions = exceptions.sort_values(["severity", "kind", "transaction_id"], ignore_index=True)
    exceptions["best_suggestion"] = _best_suggestion(exceptions, exception_suggestions)
    yield dg.Output(_dated(exceptions, date.fromisoformat(context.partition_key)),
                    metadata=exception_metadata(exceptions))
    yield checks.every_approved_sale_posted_or_excepted(
        paytrace_transactions, sage_cash_receipts, exceptions, settings.config().matching_policy())


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
        can_subset=False,
        check_specs=[dg.AssetCheckSpec("applications_sum_to_payment", asset="payment_applications", blocking=True,
                                       description="each payment's applications add up to its amount, to the cent")],
    )(match_payments)
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
    )(fails_fast_on_outage(post_cash_receipts))
    exceptions = dg.asset(
        partitions_def=partitions,
        group_name="receivables",
        kinds={"python", "duckdb"},
        owners=OWNERS,
        tags={"domain": "receivables"},
        metadata={"partition_expr": "business_date"},
        pool="duckdb",
        check_specs=[dg.AssetCheckSpec("every_approved_sale_posted_or_excepted", asset="receivable_exceptions",
                                       description="each approved sale of the day is in Sage or has an exception row")],
    )(receivable_exceptions)
    return [match, post, exceptions]


@dg.definitions
def receivables_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_receivables_assets(load_time_config())))
