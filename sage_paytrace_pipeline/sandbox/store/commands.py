"""`sage-paytrace sandbox store serve`: the WooCommerce-shaped shop over HTTP, sending its webhooks to a receiver.

It serves the REST orders endpoint (``GET /wp-json/wc/v3/orders``, basic auth with the consumer key
and secret) and ``POST /_shop/checkout`` (place an order for a buyer and pay it through the PayTrace
sandbox; its webhooks go to the receiver). With ``--scenario`` it first plays the day of trouble
(sandbox/store/scenario.py) against the receiver. The webhook secret comes from
SAGE_PAYTRACE_WOOCOMMERCE_SECRET, the same variable the receiver reads.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

STORE_PORT = 8480
SECRET_VARIABLE = "SAGE_PAYTRACE_WOOCOMMERCE_SECRET"


def add_store_sandbox_commands(systems: argparse._SubParsersAction) -> None:
    store = systems.add_parser("store", help="a WooCommerce-shaped web store paid through the PayTrace sandbox")
    commands = store.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the shop's REST API and send signed webhooks to a receiver")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=STORE_PORT)
    serve.add_argument("--sage-db", type=Path, required=True, help="the demo company (catalogue = its CI_Item)")
    serve.add_argument("--paytrace-url", required=True, help="the running PayTrace sandbox")
    serve.add_argument("--receiver", required=True, help="webhook URL, e.g. http://127.0.0.1:8470/webhooks/woocommerce")
    serve.add_argument("--consumer-key", default="ck_sandbox")
    serve.add_argument("--consumer-secret", default="cs_sandbox")
    serve.add_argument("--scenario", action="store_true", help="play the day of trouble against the receiver first")
    serve.set_defaults(handler=serve_store)


def serve_store(args: argparse.Namespace) -> int:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore
    from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME
    from sage_paytrace_pipeline.sandbox.store.app import create_shop_app
    from sage_paytrace_pipeline.sandbox.store.company import ensure_store_items
    from sage_paytrace_pipeline.sandbox.store.scenario import run_scenario
    from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
    from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender

    secret = os.environ.get(SECRET_VARIABLE, "")
    if not secret:
        raise ValueError(f"set {SECRET_VARIABLE}: the shop signs its webhooks with it (the receiver checks them)")
    ensure_store_items(args.sage_db)
    paytrace = WebStore(args.paytrace_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)
    shop = Shop(catalogue_from_company(args.sage_db), paytrace=paytrace)
    sender = WebhookSender(args.receiver, secret)
    lock = threading.Lock()  # one checkout at a time: the sender and the PayTrace client are not shared safely

    async def checkout(request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        buyer = Buyer(**{key: body[key] for key in ("first_name", "last_name", "email", "address_1", "city", "state",
                                                     "postcode")}, customer_id=int(body.get("customer_id", 0)))
        items = [(str(sku), int(quantity)) for sku, quantity in body["items"]]
        with lock:
            placed = shop.place(buyer, items, shipping=Decimal(str(body.get("shipping", "0.00"))),
                                tax_rate=Decimal(str(body.get("tax_rate", "0"))))
            sender.send(placed, "order.created")
            paid = shop.pay(placed["id"])
            answer = sender.send(paid, "order.updated")
        return JSONResponse({"order": paid["id"], "total": paid["total"], "transaction_id": paid["transaction_id"],
                             "webhook_status": answer.status_code})

    app = create_shop_app(shop, consumer_key=args.consumer_key, consumer_secret=args.consumer_secret)
    app.router.routes.append(Route("/_shop/checkout", checkout, methods=["POST"]))
    if args.scenario:
        report = run_scenario(shop, sender, existing_customer=None)
        print(f"scenario: {len(report.valid_orders)} valid orders, receiver answered {report.statuses}", flush=True)
    print(f"store sandbox on http://{args.host}:{args.port} (REST /wp-json/wc/v3/orders, checkout /_shop/checkout); "
          f"webhooks to {args.receiver}", flush=True)
    uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, access_log=False, lifespan="off")).run()
    return 0
