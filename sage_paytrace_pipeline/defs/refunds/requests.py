"""Refund requests from Sage: discover the marked credit memos, approve, send to PayTrace once, record in Sage.

Thin: `refunds/requests.run_requests` does the work; this asset gives it the resources, reports
what happened and checks the money invariants inline (blocking): `no_refund_sent_twice` and
`refunds_within_sale`. Requests are not of a day: each partition's run works the whole queue from
the stored states (so a re-run, or a backfill, resumes and never repeats a money call). With
`refunds` absent from the config the asset exists, does nothing and says so.
Built by `build_refund_request_assets(config)` from the `@dg.definitions` function below, so
importing this module reads no configuration.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.exchange import exchange_rates, receipt_exchange
from sage_paytrace_pipeline.defs.metadata import exception_metadata, money_total, preview
from sage_paytrace_pipeline.defs.outages import outages_fail_the_step
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, combined_check, run_days, stacked, with_days
from sage_paytrace_pipeline.defs.sage100.resources import SAGE_WRITE_RETRY, Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.warehouse import holding_the_warehouse
from sage_paytrace_pipeline.disputes.case_store import sales_under_dispute
from sage_paytrace_pipeline.domain.refunds.requests import IN_FLIGHT_STATES, RECORDED, is_request_invoice_id
from sage_paytrace_pipeline.refunds.remaining import warehouse_refunds
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline.refunds.requests import EXCEPTIONS, run_requests
from sage_paytrace_pipeline.refunds.sending import RequestConversion
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

OWNERS = ["team:accounts-receivable"]
_SHOWN = 20
_MONEY_MOVED = (*IN_FLIGHT_STATES, RECORDED)


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name="refunds", kinds={"python", "duckdb", "sage"}, owners=OWNERS,
                       tags={"domain": "refunds"}, metadata={"partition_expr": "business_date"},
                       description=description, is_required=True)


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "business_date", day)
    return frame


def sage_refund_requests(
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
    paytrace: PayTraceResource, warehouse: DuckDBResource,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    days = run_days(context)
    config = settings.config()
    worked = []
    open_writer = cache(sage100.open_writer)  # one writer for the range's days, opened when a day needs it
    with warehouse.get_connection() as connection:
        store = RequestStore(connection)
        # Read once for the range: no day's pass writes PayTrace's transactions (it writes the requests,
        # Sage and PayTrace), so each day would read these same rows again, more of them as the range grows.
        refunds = warehouse_refunds(connection)
        for day in days:  # the queue as each day's own run would have worked it (usually nothing new after the first)
            worked.append((day, _work_queue(config, store, sage100, paytrace, connection, refunds=refunds,
                                            open_writer=open_writer, config_path=settings.config_path,
                                            run_id=context.run.run_id)))
        sales = [_warehouse_sales(connection, queue.requests) for _, queue in worked]
    requests = stacked(_dated(queue.requests, day) for day, queue in worked)
    exceptions = stacked(_dated(queue.exceptions, day) for day, queue in worked)
    last = worked[-1][1]
    yield dg.Output(requests, output_name="sage_refund_requests", metadata=with_days({
        "mode": last.note,
        "requests": len(last.requests),
        "by_state": dg.MetadataValue.json(last.requests["state"].value_counts().to_dict()),
        "amount_requested": money_total(last.requests["amount_cents"]),
        "amount_moved": money_total(last.requests.loc[last.requests["state"].isin(_MONEY_MOVED), "amount_cents"]),
        "sent_this_run": dg.MetadataValue.json([sent for _, queue in worked for sent in queue.sent]),
        "would_send_dry_run": dg.MetadataValue.json([would for _, queue in worked for would in queue.would_send]),
        "preview": preview(last.requests, ["request_id", "state", "amount_cents", "sale_transaction_id", "action",
                                           "paytrace_transaction_id", "requested_by", "approved_by"]),
    }, days))
    yield dg.Output(exceptions, output_name="refund_request_exceptions",
                    metadata=with_days(exception_metadata(exceptions), days))
    live = LiveRefunds.of(refunds)  # once for the range's checks: the same refunds each day
    yield combined_check([(day, no_refund_sent_twice(queue.requests, live)) for day, queue in worked])
    yield combined_check([(day, refunds_within_sale(queue.requests, live, day_sales))
                          for (day, queue), day_sales in zip(worked, sales, strict=True)])


@dataclass(frozen=True)
class WorkedQueue:
    requests: pd.DataFrame  # every request as the store holds it after the pass
    exceptions: pd.DataFrame
    sent: list
    would_send: list
    note: str


def _work_queue(config: PipelineConfig, store: RequestStore, sage100: Sage100Resource,
                paytrace: PayTraceResource, connection: duckdb.DuckDBPyConnection, *,
                refunds: pd.DataFrame, open_writer: Callable[[], Sage100Writer], config_path: str,
                run_id: str) -> WorkedQueue:
    if config.refunds is None:
        return WorkedQueue(store.frame().head(0), EXCEPTIONS.empty(), [], [],
                           "refunds are off (no `refunds:` section in the config): nothing read, nothing sent")
    if config.refunds.request_marker == "none":
        return WorkedQueue(store.frame(), EXCEPTIONS.empty(), [], [],
                           "off (refunds.request_marker: none): no Sage credit memo is sent to PayTrace")
    client = paytrace.get_client()
    start = date.fromisoformat(config.refunds.start_date) if config.refunds.start_date else None
    rates = exchange_rates(config, config_path)  # None: one currency, the memo's amount is sent as is
    conversion = None if rates is None else RequestConversion(
        receipt_exchange(connection, run_id), (config.currency.paytrace, config.currency.sage))
    with outages_fail_the_step():
        result = run_requests(
            sage100.reader(), open_writer(), client, store,
            payment_types=sorted(set(config.sage.payment_types.values())),
            auto_approve_up_to=config.refunds.auto_approve_up_to, dry_run=config.refunds.dry_run,
            today=client.server_today(), start_date=start,
            disputed=sales_under_dispute(connection) if config.disputes is not None else None,
            conversion=conversion, refunds=refunds)
    return WorkedQueue(store.frame(), result.exceptions, result.sending.sent, result.sending.would_send,
                       "dry run: nothing sent to PayTrace" if config.refunds.dry_run else "live")


def _warehouse_sales(connection: duckdb.DuckDBPyConnection, requests: pd.DataFrame) -> pd.DataFrame:
    """The requests' sales as the warehouse holds them (latest row per id), one query."""
    ids = pd.DataFrame({"transaction_id": requests["sale_transaction_id"].dropna().astype("int64").unique()})
    # no request linked (each day of a year's backfill): nothing to read, not even the catalog
    if ids.empty or not _has_transactions(connection):
        return pd.DataFrame(columns=["transaction_id", "amount_cents", "invoice_id", "card_last4", "status"])
    connection.register("request_sales", ids)
    try:
        return connection.execute("""
            SELECT t.transaction_id, t.amount_cents, t.invoice_id, t.card_last4, t.status
            FROM pipeline.paytrace_transactions t JOIN request_sales USING (transaction_id)
            QUALIFY row_number() OVER (PARTITION BY t.transaction_id ORDER BY t.business_date DESC) = 1
        """).df()
    finally:
        connection.unregister("request_sales")


def _has_transactions(connection: duckdb.DuckDBPyConnection) -> bool:
    return bool(connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                   "AND table_name = 'paytrace_transactions'").fetchall()[0][0])


@dataclass(frozen=True)
class LiveRefunds:
    """The warehouse's PayTrace refunds not voided or declined, with what the checks ask of every one of
    them worked out once: the checks run for each day of a range, over the same (and the year's growing) rows."""
    rows: pd.DataFrame
    made_in_paytrace: pd.Series | None  # per row: not a request's SPR invoice_id; None when there are no rows
    sent_twice: frozenset[str]  # the SPR invoice_ids two or more of the rows carry
    invoice_ids: frozenset[str]  # every row's (requests whose SPR id is here are in the warehouse already)

    @classmethod
    def of(cls, refunds: pd.DataFrame) -> "LiveRefunds":
        rows = refunds[~refunds["status"].isin(["VOIDED", "DECLINED"])] if len(refunds) else refunds
        if not len(rows):
            return cls(rows, None, frozenset(), frozenset())
        made_in_paytrace = ~rows["invoice_id"].map(is_request_invoice_id)
        per_invoice = rows[~made_in_paytrace].groupby("invoice_id").size()
        return cls(rows, made_in_paytrace, frozenset(per_invoice[per_invoice > 1].index), frozenset(rows["invoice_id"]))


def no_refund_sent_twice(requests: pd.DataFrame, refunds: LiveRefunds) -> dg.AssetCheckResult:
    """At most one PayTrace refund per request (by its SPR invoice_id), and no refund id on two requests."""
    twice_in_paytrace = refunds.sent_twice
    moved = requests[requests["paytrace_transaction_id"].notna()]
    shared = moved[moved.duplicated("paytrace_transaction_id", keep=False)]
    failing = sorted(set(requests.loc[requests["invoice_id"].isin(twice_in_paytrace), "request_id"])
                     | set(shared["request_id"]))
    return dg.AssetCheckResult(
        check_name="no_refund_sent_twice", asset_key="sage_refund_requests", passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} requests were sent more than once" if failing
        else f"each of {len(requests)} requests sent at most once",
        metadata={"checked": len(requests), "failing_request_ids": dg.MetadataValue.json(failing[:_SHOWN])})


def refunds_within_sale(requests: pd.DataFrame, refunds: LiveRefunds, sales: pd.DataFrame) -> dg.AssetCheckResult:
    """No sale refunded above its amount across PayTrace (warehouse) and requests not yet in the warehouse."""
    live, made_in_paytrace, seen = refunds.rows, refunds.made_in_paytrace, refunds.invoice_ids
    failing, checked = [], 0
    for sale in sales.to_dict("records"):
        checked += 1
        mine = requests[(requests["sale_transaction_id"] == sale["transaction_id"])
                        & requests["state"].isin(_MONEY_MOVED)]
        voided = int(sale["amount_cents"]) if (mine["action"] == "void").any() else 0
        mine = mine[mine["action"] == "refund"]
        by_invoice = live["invoice_id"].isin(set(mine["invoice_id"]))
        if sale["invoice_id"] and len(live):  # refunds made in PayTrace carry the sale's invoice_id and card
            by_invoice |= (live["invoice_id"] == sale["invoice_id"]) & (live["card_last4"] == sale["card_last4"]) \
                & made_in_paytrace
        in_warehouse = int(live.loc[by_invoice, "amount_cents"].sum()) if len(live) else 0
        # what PayTrace was asked for: under a conversion the memo's amount converted, else the memo's own
        asked = mine["paytrace_amount_cents"].fillna(mine["amount_cents"]) if "paytrace_amount_cents" in mine \
            else mine["amount_cents"]
        in_flight = int(asked[~mine["invoice_id"].isin(seen)].sum())
        total = voided + in_warehouse + in_flight
        if total > int(sale["amount_cents"]):
            failing.append(int(sale["transaction_id"]))
    unchecked = requests["sale_transaction_id"].dropna().nunique() - checked
    return dg.AssetCheckResult(
        check_name="refunds_within_sale", asset_key="sage_refund_requests", passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} sales refunded above their amount" if failing
        else f"all {checked} sales with requests within their amount",
        metadata={"checked": checked, "not_in_warehouse_yet": int(unchecked),
                  "failing_sale_ids": dg.MetadataValue.json(failing[:_SHOWN])})


def build_refund_request_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    requests = dg.multi_asset(
        outs={
            "sage_refund_requests": _out("Card refunds asked from Sage (credit memos with a card payment type): "
                                         "state, approval, what was sent to PayTrace and recorded in Sage; every "
                                         "transition is a row of pipeline.refund_request_events."),
            "refund_request_exceptions": _out("Requests that cannot proceed (memo not on a card-paid invoice, above "
                                              "what remains, declined, outcome unknown, Sage refused the record), "
                                              "with what fixes each."),
        },
        partitions_def=business_day_partitions(config),
        deps=["sage_cash_receipts"],
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[
            dg.AssetCheckSpec("no_refund_sent_twice", asset="sage_refund_requests", blocking=True,
                              description="no request refunded twice in PayTrace; no refund id on two requests"),
            dg.AssetCheckSpec("refunds_within_sale", asset="sage_refund_requests", blocking=True,
                              description="no sale refunded above its amount across PayTrace refunds and requests"),
        ],
    )(holding_the_warehouse(sage_refund_requests))
    return [requests]


@dg.definitions
def refund_request_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_refund_request_assets(load_time_config())))

