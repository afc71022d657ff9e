"""The webhook receiver (Starlette): verify, write to the inbox, answer. Nothing else happens in the request.

- ``POST /webhooks/woocommerce``: WooCommerce's form-encoded ping (``webhook_id=<n>``) is answered
  200 before anything else (WooCommerce requires exactly 200 when a webhook is saved); every other
  body needs ``X-WC-Webhook-Signature`` = base64 HMAC-SHA256 of the raw body.
- ``POST /webhooks/shopify``: ``X-Shopify-Hmac-Sha256`` over the raw body, ``X-Shopify-Webhook-Id``
  as the delivery id.
- A missing or wrong signature, or a platform without a configured secret: 401 and nothing stored.
- Accepted: 200 after the inbox transaction commits (store/inbox.py), whether the delivery changed
  an order, repeated one, or could not be used (kept with its error for the exception report: the
  store must not retry, and must not disable the webhook, for a payload it will always send the
  same way). An inbox that cannot be written: 503, so the store retries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sage_paytrace_pipeline.store.inbox import Delivery, accept, body_hash
from sage_paytrace_pipeline.store.signatures import SIGNATURE_HEADERS, verify

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 5_000_000  # a WooCommerce order with hundreds of lines is well under 1 MB


def create_receiver_app(engine: Engine, secrets: Mapping[str, Sequence[str]]) -> Starlette:
    """The receiver over the inbox `engine`; `secrets` maps platform -> its accepted secrets."""

    async def woocommerce(request: Request) -> Response:
        body = await request.body()
        if _is_woocommerce_ping(request, body):
            return PlainTextResponse("pong")
        return await _receive(request, body, "woocommerce", delivery_header="x-wc-webhook-delivery-id",
                              topic_header="x-wc-webhook-topic", source_header="x-wc-webhook-source")

    async def shopify(request: Request) -> Response:
        body = await request.body()
        return await _receive(request, body, "shopify", delivery_header="x-shopify-webhook-id",
                              topic_header="x-shopify-topic", source_header="x-shopify-shop-domain")

    async def _receive(request: Request, body: bytes, platform: str, *, delivery_header: str, topic_header: str,
                       source_header: str) -> Response:
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("body too large", status_code=413)
        if not verify(body, request.headers.get(SIGNATURE_HEADERS[platform]), secrets.get(platform, ())):
            log.warning("store %s delivery refused: missing or wrong signature", platform)
            return PlainTextResponse("invalid signature", status_code=401)
        delivery = Delivery(
            platform=platform,
            # without a delivery id the body itself identifies the delivery, so a replay still dedupes
            delivery_id=request.headers.get(delivery_header) or f"sha256:{body_hash(body)}",
            topic=request.headers.get(topic_header, "").strip().lower(),
            source=request.headers.get(source_header, ""),
            body=body,
        )
        try:
            accepted = await run_in_threadpool(accept, engine, delivery)
        except SQLAlchemyError as error:
            log.error("store inbox unavailable: %s", type(error).__name__)
            return PlainTextResponse("inbox unavailable, retry", status_code=503)
        return JSONResponse({"outcome": accepted.outcome, "order_id": accepted.order_id})

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[
        Route("/webhooks/woocommerce", woocommerce, methods=["POST"]),
        Route("/webhooks/shopify", shopify, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ])


def _is_woocommerce_ping(request: Request, body: bytes) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith("application/x-www-form-urlencoded") and body.startswith(b"webhook_id=")
