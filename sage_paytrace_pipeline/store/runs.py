"""One store run: the inbox's orders into Sage, with PayTrace consulted once for the sales that paid them."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
from sqlalchemy.engine import Engine

from sage_paytrace_pipeline.config import PipelineConfig, StoreSettings
from sage_paytrace_pipeline.domain.currency import RateTable
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.domain.store_orders import StoreOrder
from sage_paytrace_pipeline.domain.store_posting import PostingRules
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import PayTraceNotFound
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.store.inbox import (
    changed_orders,
    delivery_rows,
    last_poll_at,
    posting_rows,
    postings,
    record_postings,
    refund_rows,
    unposted_orders,
)
from sage_paytrace_pipeline.store.posting import EXCEPTION_COLUMNS, PostingResult, StoreConversion, post_store_orders
from sage_paytrace_pipeline.store.reconcile import PollReport, poll_woocommerce, rest_credentials
from sage_paytrace_pipeline.store.refunds import RefundOutcome, request_store_refunds

_MONEY_IN = ("SALE", "AUTHORIZATION")
_NOT_MONEY = ("VOIDED", "DECLINED")
ORDER_COLUMNS = ("order_key", "platform", "order_id", "number", "status", "paid", "guest", "email", "billing_zip",
                 "created_at", "paid_at", "modified_at", "lines", "skus", "shipping_cents", "fee_cents", "tax_cents",
                 "discount_cents", "total_cents",
                 "paytrace_transaction_id", "paytrace_invoice_id", "refunded_cents")


def posting_rules(config: PipelineConfig, store: StoreSettings) -> PostingRules:
    catch_all = tuple(store.catch_all_customer.split("-", 1)) if store.catch_all_customer else None
    return PostingRules(division=config.customers.division, shipping_item=store.shipping_item,
                        tax_item=store.tax_item, unknown_customers=store.unknown_customers,
                        catch_all=(catch_all[0], catch_all[1]) if catch_all else None,
                        fee_item=store.fee_item, discount_item=store.discount_item,
                        time_zone=config.merchant.time_zone)


def inbox_orders(engine: Engine) -> list[StoreOrder]:
    return [entry.order for entry in changed_orders(engine)]


def orders_frame(orders: list[StoreOrder]) -> pd.DataFrame:
    """The normalized orders, one row each (lines summarized; the inbox keeps the full payload)."""
    frame = pd.DataFrame([{
        "order_key": o.key, "platform": o.platform, "order_id": o.order_id, "number": o.number, "status": o.status,
        "paid": o.paid, "guest": o.guest, "email": o.email, "billing_zip": o.billing.postcode,
        "created_at": o.created_at, "paid_at": o.paid_at, "modified_at": o.modified_at, "lines": len(o.lines),
        "skus": ", ".join(f"{line.quantity.normalize()}x{line.sku}" for line in o.lines),
        "shipping_cents": decimal_to_cents(o.shipping_total),
        "fee_cents": decimal_to_cents(o.fee_total()), "tax_cents": decimal_to_cents(o.tax_total),
        "discount_cents": decimal_to_cents(o.discount_total), "total_cents": decimal_to_cents(o.total),
        "paytrace_transaction_id": o.paytrace_transaction_id, "paytrace_invoice_id": o.paytrace_invoice_id,
        "refunded_cents": decimal_to_cents(o.refunded_total())} for o in orders], columns=list(ORDER_COLUMNS))
    # typed even when empty or all unpaid (the warehouse's column types must not depend on the day)
    return frame.astype({"created_at": "datetime64[ns, UTC]", "paid_at": "datetime64[ns, UTC]"})


@dataclass(frozen=True)
class PayTraceActivity:
    sales: Mapping[str, Decimal]  # approved sales by transaction id
    refunded_invoice_ids: set[str]  # invoice ids of live PayTrace refunds (the store's plugin uses the order's)
    sale_days: Mapping[str, date] = field(default_factory=dict)  # sale id -> its business day (merchant zone)


REFUND_LOOKBACK_DAYS = 30


def paytrace_activity(client: PayTraceClient, orders: list[StoreOrder], zone: str) -> PayTraceActivity:
    """PayTrace's view of the store's money: one export from the unposted orders' first day (or a month
    back, for refunds) to PayTrace's today; a sale it misses (charged on another day than the store
    dated the order) is looked up by id, so the usual run makes one call."""
    paid = [order for order in orders if order.paid]
    today = client.server_today()
    days = [order.order_date(zone) for order in paid] + [today - timedelta(REFUND_LOOKBACK_DAYS)]
    found = list(client.export_transactions(min(days) - timedelta(days=1), today + timedelta(days=1)))
    known = {str(t.transaction_id) for t in found}
    for order in paid:
        wanted = order.paytrace_transaction_id
        if wanted.isdigit() and wanted not in known:
            with contextlib.suppress(PayTraceNotFound):
                found.append(client.export_transaction(int(wanted)))
            known.add(wanted)
    live = [t for t in found if t.status.value not in _NOT_MONEY]
    return PayTraceActivity(
        sales={str(t.transaction_id): t.amount for t in live if t.transaction_type.upper() in _MONEY_IN},
        refunded_invoice_ids={t.invoice_id for t in live if t.transaction_type.upper() == "REFUND" and t.invoice_id},
        # the day PayTrace files the sale under (its created date in the merchant's zone): the day
        # receivables converts the payment at
        sale_days={str(t.transaction_id): t.created_at.astimezone(ZoneInfo(zone)).date() for t in live
                   if t.transaction_type.upper() in _MONEY_IN and t.created_at is not None})


@dataclass(frozen=True)
class StoreRun:
    orders: pd.DataFrame
    result: PostingResult
    exceptions: pd.DataFrame
    in_sage: pd.DataFrame  # every order in Sage, `created_this_run` marking this run's
    refunds: RefundOutcome
    polled: PollReport | None = None


def in_sage_frame(engine: Engine, result: PostingResult) -> pd.DataFrame:
    created = {row["order_key"] for row in result.posted if row["created"]}
    frame = pd.DataFrame(posting_rows(engine), columns=[column.name for column in postings.columns])
    keys = frame["platform"] + ":" + frame["order_id"]
    return frame.assign(created_this_run=keys.isin(created))


POLL_OVERLAP = timedelta(days=1)
FIRST_POLL_LOOKBACK = timedelta(days=7)


def reconcile_poll(engine: Engine, store: StoreSettings, *, now: datetime) -> PollReport | None:
    """The REST poll for orders the webhooks missed, when `store.rest_url` is set: from a day before
    the last poll (a week back the first time); an order already known changes nothing."""
    if not store.rest_url:
        return None
    previous = last_poll_at(engine)
    since = (previous - POLL_OVERLAP) if previous else now - FIRST_POLL_LOOKBACK
    try:
        return poll_woocommerce(engine, store.rest_url, since, auth=rest_credentials(store))
    except httpx.HTTPError as error:  # a store that is down must not stop the orders its webhooks brought
        return PollReport(error=f"{type(error).__name__}: {scrub_text(str(error))[:200]}")


def run_store_orders(engine: Engine, reader: Sage100Reader, writer: Sage100Writer, config: PipelineConfig,
                     store: StoreSettings, *, client: PayTraceClient | None, today: date,
                     rates: RateTable | None = None) -> StoreRun:
    """`rates`: the exchange rates when PayTrace's currency is not Sage's (README "Currencies")."""
    polled = reconcile_poll(engine, store, now=now_in(config.merchant.time_zone))
    orders = unposted_orders(engine)
    activity = paytrace_activity(client, orders, config.merchant.time_zone) if client is not None else None
    conversion = None if rates is None else StoreConversion(
        rates, (config.currency.paytrace, config.currency.sage), activity.sale_days if activity else {})
    result = post_store_orders(orders, reader, writer, posting_rules(config, store),
                               sales=activity.sales if activity else None, terms_code=config.customers.terms_code,
                               warehouse=store.warehouse, today=today, conversion=conversion)
    record_postings(engine, result.posted)
    in_sage = {(row["platform"], row["order_id"]): row for row in posting_rows(engine)}
    refunds = request_store_refunds(refund_rows(engine), in_sage, reader, writer,
                                    refunded_invoice_ids=activity.refunded_invoice_ids if activity else set(),
                                    flow_on=config.refunds is not None, today=today, converts=rates is not None)
    unusable = pd.DataFrame([{
        "order_key": f"{row['platform']}:delivery:{row['delivery_id']}", "number": "", "kind": "invalid_delivery",
        "problem": f"a signed {row['platform']} {row['topic']} delivery could not be read: {row['error']}",
        "action": "check the store's webhook payload; the order comes again with the reconcile poll"}
        for row in delivery_rows(engine, "invalid")], columns=list(EXCEPTION_COLUMNS))
    exceptions = pd.concat([result.exception_frame(), unusable,
                            pd.DataFrame(refunds.exceptions, columns=list(EXCEPTION_COLUMNS))], ignore_index=True)
    return StoreRun(orders_frame(inbox_orders(engine)), result, exceptions, in_sage_frame(engine, result), refunds,
                    polled)


def now_in(zone: str) -> datetime:
    return datetime.now(ZoneInfo(zone))
