"""The receiver in process (Starlette's TestClient: httpx over an ASGI transport) and once over a real
uvicorn socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.store.shop import Shop
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import changed_orders, delivery_rows, refund_rows
from sage_paytrace_pipeline.store.receiver import create_receiver_app
from sage_paytrace_pipeline.store.signatures import sign
from sage_paytrace_pipeline_tests.store.conftest import GUEST, SECRET, SHOPIFY_SECRET

URL = "http://receiver/webhooks/woocommerce"


def _sender(inbox: Engine) -> WebhookSender:
    app = create_receiver_app(inbox, {"woocommerce": [SECRET], "shopify": [SHOPIFY_SECRET]})
    return WebhookSender(URL, SECRET, client=TestClient(app))


def _orders(inbox: Engine) -> dict[str, dict]:
    return {entry.order.order_id: {"status": entry.order.status, "total": entry.order.total}
            for entry in changed_orders(inbox)}


def _count(inbox: Engine, table: str) -> int:
    with inbox.connect() as connection:
        return connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_signed_order_is_stored_before_the_answer(inbox: Engine, shop: Shop) -> None:
    order = shop.pay(shop.place(GUEST, [("BOLT-1420", 2), ("GLOVE-NIT", 1)], shipping=Decimal("7.50"))["id"])
    response = _sender(inbox).send(order, "order.updated")
    assert response.status_code == 200
    assert response.json() == {"outcome": "applied", "order_id": str(order["id"])}
    assert _orders(inbox) == {str(order["id"]): {"status": "processing", "total": Decimal("50.39")}}


@pytest.mark.parametrize("secret", ["wrong-secret", ""])
def test_a_bad_or_missing_signature_is_refused_and_nothing_stored(inbox: Engine, shop: Shop, secret: str) -> None:
    sender = _sender(inbox)
    order = shop.place(GUEST, [("BOLT-1420", 1)])
    body = sender.body(order)
    headers = sender.headers(body, "order.created", "d-1", signature=sign(body, secret) if secret else None)
    response = sender.http.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert _count(inbox, "store_deliveries") == 0
    assert _count(inbox, "store_orders") == 0


def test_a_body_changed_after_signing_is_refused(inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    order = shop.place(GUEST, [("BOLT-1420", 1)])
    body = sender.body(order)
    headers = sender.headers(body, "order.created", "d-1", signature=sign(body, SECRET))
    response = sender.http.post(URL, content=body.replace(b'"14.95"', b'"1.95"'), headers=headers)
    assert response.status_code == 401
    assert _count(inbox, "store_orders") == 0


def test_the_woocommerce_ping_is_answered_200_and_stores_nothing(inbox: Engine) -> None:
    response = _sender(inbox).ping()
    assert response.status_code == 200
    assert _count(inbox, "store_deliveries") == 0


def test_a_replayed_delivery_changes_nothing(inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    order = shop.pay(shop.place(GUEST, [("BOLT-1420", 1)])["id"])
    first = sender.send(order, "order.updated", delivery_id="delivery-1")
    replay = sender.send(order, "order.updated", delivery_id="delivery-1")
    assert (first.json()["outcome"], replay.json()["outcome"]) == ("applied", "duplicate")
    assert _count(inbox, "store_deliveries") == 1
    assert _count(inbox, "store_orders") == 1


def test_retries_with_new_delivery_ids_are_recorded_but_change_no_order(inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    order = shop.pay(shop.place(GUEST, [("BOLT-1420", 1)])["id"])
    outcomes = [sender.send(order, "order.updated").json()["outcome"] for _ in range(3)]
    assert outcomes == ["applied", "unchanged", "unchanged"]
    assert [row["outcome"] for row in delivery_rows(inbox)] == outcomes
    assert [entry.delivery_seq for entry in changed_orders(inbox)] == [delivery_rows(inbox)[0]["seq"]]


def test_an_update_before_its_create_is_kept_and_the_older_create_never_overwrites_it(
        inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    created = shop.place(GUEST, [("DRILL-18V", 1)])
    paid = shop.pay(created["id"])
    assert sender.send(paid, "order.updated").json()["outcome"] == "applied"
    assert sender.send(created, "order.created").json()["outcome"] == "unchanged"
    assert _orders(inbox) == {str(created["id"]): {"status": "processing", "total": Decimal("149.00")}}
    completed = shop.complete(created["id"])
    assert sender.send(completed, "order.updated").json()["outcome"] == "applied"
    assert _orders(inbox)[str(created["id"])]["status"] == "completed"


def test_a_signed_but_unusable_order_is_kept_with_its_error(inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    order = shop.place(GUEST, [("BOLT-1420", 1)])
    order["total"] = "not money"
    response = sender.send(order, "order.created")
    assert response.status_code == 200
    assert response.json()["outcome"] == "invalid"
    [row] = delivery_rows(inbox, "invalid")
    assert "total" in row["error"]
    assert _count(inbox, "store_orders") == 0


def test_woocommerce_refunds_are_recorded_once(inbox: Engine, shop: Shop) -> None:
    sender = _sender(inbox)
    order = shop.pay(shop.place(GUEST, [("GLOVE-NIT", 2)])["id"])
    sender.send(order, "order.updated")
    refunded = shop.refund(order["id"], Decimal("12.99"), "one box damaged")
    sender.send(refunded, "order.refunded")
    sender.send(refunded, "order.refunded")
    assert [(row["order_id"], row["amount_cents"]) for row in refund_rows(inbox)] == [(str(order["id"]), 1299)]


def _shopify_order() -> dict:
    return {"id": 820982911946154500, "order_number": 1001, "email": "JON@example.com", "financial_status": "paid",
            "created_at": "2026-03-02T10:00:00-08:00", "updated_at": "2026-03-02T10:01:00-08:00",
            "currency": "USD", "total_price": "32.89", "total_tax": "2.45", "total_discounts": "1.50",
            "customer": {"id": 115310627314723950},
            "billing_address": {"first_name": "Jon", "last_name": "Snow", "address1": "1 Wall St", "city": "Tacoma",
                                "province_code": "WA", "zip": "98402", "country_code": "US"},
            "line_items": [{"sku": "glove-nit", "title": "Gloves", "quantity": 2, "price": "12.99",
                            "discount_allocations": [{"amount": "1.50"}]}],
            "shipping_lines": [{"price": "5.96"}],
            "note_attributes": [{"name": "paytrace_transaction_id", "value": "412345"}]}


def test_shopify_orders_paid_and_refunds_create(inbox: Engine) -> None:
    app = create_receiver_app(inbox, {"woocommerce": [SECRET], "shopify": ["old-secret", SHOPIFY_SECRET]})
    client = TestClient(app, base_url="http://receiver")

    def send(payload: dict, topic: str, webhook_id: str, secret: str = SHOPIFY_SECRET) -> httpx.Response:
        body = json.dumps(payload).encode()
        return client.post("/webhooks/shopify", content=body, headers={
            "X-Shopify-Hmac-Sha256": sign(body, secret), "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Shop-Domain": "demo.myshopify.com"})

    assert send(_shopify_order(), "orders/paid", "w-1").json()["outcome"] == "applied"
    assert send(_shopify_order(), "orders/paid", "w-1").json()["outcome"] == "duplicate"
    assert send(_shopify_order(), "orders/paid", "w-2", secret="another").status_code == 401
    refund = {"id": 929361462, "order_id": 820982911946154500, "note": "wrong size",
              "transactions": [{"kind": "refund", "amount": "12.99"}]}
    assert send(refund, "refunds/create", "w-3", secret="old-secret").json()["outcome"] == "refund"
    [entry] = changed_orders(inbox)
    assert (entry.order.number, entry.order.email, entry.order.paytrace_transaction_id) == (
        "1001", "jon@example.com", "412345")
    assert entry.order.computed_total() == entry.order.total
    assert [row["amount_cents"] for row in refund_rows(inbox)] == [1299]


def test_over_a_real_socket(inbox: Engine, shop: Shop) -> None:
    app = create_receiver_app(inbox, {"woocommerce": [SECRET]})
    with serve_in_thread(app) as base_url:
        sender = WebhookSender(f"{base_url}/webhooks/woocommerce", SECRET)
        order = shop.pay(shop.place(GUEST, [("BOLT-1420", 3)])["id"])
        assert sender.ping().status_code == 200
        assert sender.send(order, "order.updated").json()["outcome"] == "applied"
        assert sender.send(order, "order.updated", secret="nope").status_code == 401
        sender.http.close()
    assert _orders(inbox) == {str(order["id"]): {"status": "processing", "total": Decimal("44.85")}}
