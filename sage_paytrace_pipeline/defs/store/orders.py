"""Web-store orders: the inbox sensor and the `store` assets (normalized orders, Sage orders + invoices, exceptions).

Thin: `store/runs.run_store_orders` does the work. `store_order_sensor` reads only the inbox (never
DuckDB, never Sage) and asks for a run when a delivery came since its cursor; each run works every
order in the inbox, and the Sage writer's references make a repeated order a no-op, so runs can
overlap, repeat or be skipped without posting twice. With no `store:` section the assets exist,
do nothing and say so, and the sensor is not built.
Built by `build_store_definitions(config)` from the `@dg.definitions` function below, so importing
this module reads no configuration.
"""


import json
import os
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.exchange import exchange_rates
from sage_paytrace_pipeline.defs.jobs import paytrace_daily_job
from sage_paytrace_pipeline.defs.metadata import preview
from sage_paytrace_pipeline.defs.outages import outages_fail_the_step
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import SAGE_WRITE_RETRY, Sage100Resource
from sage_paytrace_pipeline.defs.settings import CONFIG_VARIABLE, PipelineSettings, load_time_config
from sage_paytrace_pipeline.store.inbox import last_seq, open_inbox, posting_count, postings
from sage_paytrace_pipeline.store.posting import EXCEPTION_COLUMNS
from sage_paytrace_pipeline.store.reconcile import PollReport
from sage_paytrace_pipeline.store.runs import ORDER_COLUMNS, now_in, run_store_orders
from sage_paytrace_pipeline.store.setup import inbox_url

OWNERS = ["team:accounts-receivable"]
POSTING_COLUMNS = [column.name for column in postings.columns]
GROUP = "store"


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(group_name=GROUP, kinds={"python", "sage"}, owners=OWNERS, tags={"domain": "store"},
                       description=description, is_required=True)


def store_assets(context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
                 paytrace: PayTraceResource) -> Iterator[dg.Output]:
    config = settings.config()
    if config.store is None:
        note = "the store flow is off (no `store:` section in the config): nothing read, nothing written"
        yield dg.Output(pd.DataFrame(columns=list(ORDER_COLUMNS)), output_name="store_orders", metadata={"mode": note})
        yield dg.Output(pd.DataFrame(columns=[*POSTING_COLUMNS, "created_this_run"]), output_name="sage_sales_orders",
                        metadata={"mode": note})
        yield dg.Output(pd.DataFrame(columns=list(EXCEPTION_COLUMNS)), output_name="store_exceptions",
                        metadata={"mode": note})
        return
    engine = open_inbox(inbox_url(config.store, settings.config_path))
    try:
        client = paytrace.get_client()
        with outages_fail_the_step():
            run = run_store_orders(engine, sage100.reader(), sage100.open_writer(), config, config.store,
                                   client=client, today=now_in(config.merchant.time_zone).date(),
                                   rates=exchange_rates(config, settings.config_path))
    finally:
        engine.dispose()
    posted = run.in_sage
    context.log.info(f"store: {len(posted)} orders in Sage ({int(posted['created_this_run'].sum())} new this run), "
                     f"{len(run.exceptions)} exceptions, {len(run.result.waiting)} not paid yet")
    yield dg.Output(run.orders, output_name="store_orders", metadata={
        "orders": len(run.orders), "not_paid_yet": len(run.result.waiting),
        "reconcile_poll": _poll_note(run.polled),
        "preview": preview(run.orders, ["order_key", "number", "status", "total_cents", "skus"])})
    yield dg.Output(posted, output_name="sage_sales_orders", metadata={
        "in_sage": len(posted), "created_this_run": int(posted["created_this_run"].sum()),
        "preview": preview(posted, ["number", "customer_no", "sales_order_no", "invoice_no", "total_cents"])})
    yield dg.Output(run.exceptions, output_name="store_exceptions", metadata={
        "exceptions": len(run.exceptions),
        "refund_requests_written": len(run.refunds.requested),
        "refunds_already_in_paytrace": len(run.refunds.left_to_paytrace_flow),
        "refunds_waiting": len(run.refunds.waiting),
        "by_kind": dg.MetadataValue.json(run.exceptions["kind"].value_counts().to_dict()),
        "preview": preview(run.exceptions, ["number", "kind", "problem"])})


def _poll_note(polled: PollReport | None) -> str:
    if polled is None:
        return "off (no store.rest_url)"
    if polled.error:
        return f"the store could not be read ({polled.error}); the next run polls again"
    return f"{polled.read} read, {polled.applied} new or newer"


def build_store_assets() -> list[dg.AssetsDefinition]:
    return [dg.multi_asset(
        outs={
            "store_orders": _out("Web-store orders from the inbox, normalized: lines, SKUs, quantities, "
                                 "discounts, shipping, tax, addresses, the PayTrace transaction and invoice ids."),
            "sage_sales_orders": _out("Paid store orders in Sage: the customer (matched by e-mail + ZIP, created, "
                                      "or the catch-all), the sales order (store order number in CustomerPONo) and "
                                      "its invoice, totals equal to the store's to the cent (under a currency "
                                      "conversion: to the payment converted at its business day's rate, with the "
                                      "rate and both totals)."),
            "store_exceptions": _out("Store orders that cannot go to Sage (unknown SKU, price or total mismatch, "
                                     "unknown customer or PayTrace sale, Sage refused, another currency than "
                                     "PayTrace's, a missing exchange rate), with what fixes each; "
                                     "nothing of them is written."),
        },
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        can_subset=False,
    )(store_assets)]


store_orders_job = dg.define_asset_job(
    "store_orders_job", selection=dg.AssetSelection.groups(GROUP),
    description="Post the store inbox's paid orders into Sage as sales orders and invoices; list the exceptions.")


def build_store_sensor(config: PipelineConfig) -> dg.SensorDefinition | None:
    """The inbox sensor, or None when the store flow is off."""
    if config.store is None:
        return None
    url = inbox_url(config.store, os.environ.get(CONFIG_VARIABLE))

    partitions = business_day_partitions(config)
    zone = ZoneInfo(config.merchant.time_zone)

    @dg.sensor(name="store_order_sensor", jobs=[store_orders_job, paytrace_daily_job],
               minimum_interval_seconds=config.store.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts a store run when the inbox received a delivery since the last run, and the "
                           "day's receivables run when orders reached Sage (their sales can now be receipted).")
    def store_order_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        engine = open_inbox(url)
        try:
            seq = last_seq(engine)
            posted, last_posted = posting_count(engine)
        finally:
            engine.dispose()
        seen = read_store_cursor(context.cursor)
        requests = []
        if seq > seen["seq"]:
            requests.append(dg.RunRequest(job_name=store_orders_job.name, run_key=f"store:{seq}"))
        day = last_posted.astimezone(zone).date().isoformat() if last_posted else None
        last_partition = partitions.get_last_partition_key()
        if posted > seen["posted"] and day and last_partition and day <= last_partition:
            # a sale seen before its invoice was held back from matching: the day's run receipts it now
            requests.append(dg.RunRequest(job_name=paytrace_daily_job.name, partition_key=day,
                                          run_key=f"store-receipts:{day}:{posted}"))
        cursor = json.dumps({"seq": seq, "posted": posted})
        if not requests:
            return dg.SensorResult(skip_reason=f"no delivery since #{seen['seq']}", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return store_order_sensor


def read_store_cursor(cursor: str | None) -> dict[str, int]:
    try:
        value = json.loads(cursor or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    return {"seq": int(value.get("seq", 0)), "posted": int(value.get("posted", 0))}


def build_store_reconcile_schedule(config: PipelineConfig) -> dg.ScheduleDefinition | None:
    """Hourly run, whose reconcile poll catches orders whose webhook never came (store.rest_url set)."""
    if config.store is None or not config.store.rest_url:
        return None
    return dg.ScheduleDefinition(name="store_reconcile_schedule", job=store_orders_job, cron_schedule="17 * * * *",
                                 execution_timezone=config.merchant.time_zone,
                                 default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="Hourly: poll the store's REST orders for missed webhooks, post them.")


def build_store_definitions(config: PipelineConfig) -> dg.Definitions:
    sensor = build_store_sensor(config)
    schedule = build_store_reconcile_schedule(config)
    return dg.Definitions(assets=dg.with_source_code_references(build_store_assets()), jobs=[store_orders_job],
                          sensors=[sensor] if sensor else [], schedules=[schedule] if schedule else [])


@dg.definitions
def store_definitions() -> dg.Definitions:
    return build_store_definitions(load_time_config())
