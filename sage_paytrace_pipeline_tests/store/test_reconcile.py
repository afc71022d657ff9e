"""The reconcile poll reads the shop's REST orders into the same inbox the webhooks fill."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from sage_paytrace_pipeline.sandbox.store.app import create_shop_app
from sage_paytrace_pipeline.sandbox.store.shop import Shop
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import changed_orders
from sage_paytrace_pipeline.store.receiver import create_receiver_app
from sage_paytrace_pipeline.store.reconcile import PAGE_SIZE, poll_woocommerce
from sage_paytrace_pipeline_tests.store.conftest import GUEST, SECRET

KEY = ("ck_test", "cs_test")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def _rest(shop: Shop) -> TestClient:
    return TestClient(create_shop_app(shop, consumer_key=KEY[0], consumer_secret=KEY[1]), base_url="http://shop")


def test_orders_the_webhooks_missed_are_polled_and_known_ones_change_nothing(inbox: Engine, shop: Shop) -> None:
    delivered = shop.pay(shop.place(GUEST, [("BOLT-1420", 1)])["id"])
    WebhookSender("http://receiver/webhooks/woocommerce", SECRET,
                  client=TestClient(create_receiver_app(inbox, {"woocommerce": [SECRET]}))).send(
        delivered, "order.updated")
    missed = shop.pay(shop.place(GUEST, [("GLOVE-NIT", 2)], coupon_percent=Decimal(10))["id"])

    report = poll_woocommerce(inbox, "http://shop", EPOCH, auth=KEY, client=_rest(shop))
    assert (report.read, report.applied, report.unchanged) == (2, 1, 1)
    assert {entry.order.order_id: entry.order.total for entry in changed_orders(inbox)} == {
        str(delivered["id"]): Decimal("14.95"), str(missed["id"]): Decimal("23.38")}

    again = poll_woocommerce(inbox, "http://shop", EPOCH, auth=KEY, client=_rest(shop))
    assert (again.applied, again.unchanged) == (0, 2)


def test_the_poll_pages_through_more_than_one_page(inbox: Engine, shop: Shop) -> None:
    for _ in range(PAGE_SIZE + 3):
        shop.place(GUEST, [("BOLT-1420", 1)])
    report = poll_woocommerce(inbox, "http://shop", EPOCH, auth=KEY, client=_rest(shop))
    assert report.applied == PAGE_SIZE + 3
    assert len(list(changed_orders(inbox))) == PAGE_SIZE + 3


def test_wrong_rest_credentials_are_an_error(inbox: Engine, shop: Shop) -> None:
    with pytest.raises(Exception, match="401"):
        poll_woocommerce(inbox, "http://shop", EPOCH, auth=("ck_test", "wrong"), client=_rest(shop))
