"""The reconcile poll: orders the webhooks missed, read from the WooCommerce REST API into the same inbox.

WooCommerce disables a webhook after a few failed deliveries and never redelivers (reference
store-orders.md §1.1), so the webhook is an accelerator and this poll the source of truth:
``GET /wp-json/wc/v3/orders?modified_after=...`` page by page, each order written as a ``poll``
delivery whose id is the order and its modification time. An order the webhooks already brought
is recognized by the inbox's newer-wins rule and changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy.engine import Engine

from sage_paytrace_pipeline.config import ConfigError, StoreSettings
from sage_paytrace_pipeline.store.inbox import Delivery, accept

ORDERS_ROUTE = "/wp-json/wc/v3/orders"
PAGE_SIZE = 100


@dataclass
class PollReport:
    read: int = 0
    applied: int = 0
    unchanged: int = 0
    invalid: int = 0
    newest_modified: datetime | None = None
    error: str = ""  # the store could not be read: the webhooks' orders still go on


def rest_credentials(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The REST consumer key and secret (``key:secret`` in `settings.rest_key_env`)."""
    value = (os.environ if environ is None else environ).get(settings.rest_key_env, "")
    key, _, secret = value.partition(":")
    if not key or not secret:
        raise ConfigError(f"{settings.rest_key_env}: set it to the WooCommerce REST consumer key and secret "
                          "as ck_...:cs_... to poll the store")
    return key, secret


def poll_woocommerce(engine: Engine, base_url: str, since: datetime, *, auth: tuple[str, str],
                     client: httpx.Client | None = None) -> PollReport:
    """Every order modified after `since` into the inbox; one request per page of 100."""
    report = PollReport()
    owned = client is None
    http = client or httpx.Client(base_url=base_url, timeout=30)
    try:
        page = 1
        while True:
            response = http.get(ORDERS_ROUTE, auth=auth, params={
                "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
                "orderby": "modified", "order": "asc", "per_page": PAGE_SIZE, "page": page})
            response.raise_for_status()
            orders = json.loads(response.text, parse_float=Decimal)
            for order in orders:
                _accept_polled(engine, base_url, order, report)
            if len(orders) < PAGE_SIZE:
                return report
            page += 1
    finally:
        if owned:
            http.close()


def _accept_polled(engine: Engine, base_url: str, order: dict, report: PollReport) -> None:
    modified = str(order.get("date_modified_gmt") or order.get("date_modified") or "")
    body = json.dumps(order, default=str).encode()
    accepted = accept(engine, Delivery(platform="woocommerce", delivery_id=f"poll:{order.get('id')}:{modified}",
                                       topic="poll", source=base_url, body=body))
    report.read += 1
    if accepted.outcome == "applied":
        report.applied += 1
    elif accepted.outcome == "invalid":
        report.invalid += 1
    else:
        report.unchanged += 1
    if modified:
        moment = datetime.fromisoformat(modified.replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        report.newest_modified = max(report.newest_modified or moment, moment)
