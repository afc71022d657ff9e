"""The shop's REST API, WooCommerce-shaped: ``GET /wp-json/wc/v3/orders`` (basic auth with the
consumer key and secret; ``modified_after``, ``page``, ``per_page``) and ``GET .../orders/{id}``."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sage_paytrace_pipeline.sandbox.store.shop import Shop


def create_shop_app(shop: Shop, *, consumer_key: str, consumer_secret: str) -> Starlette:
    expected = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()

    def authorized(request: Request) -> bool:
        presented = request.headers.get("authorization", "").removeprefix("Basic ").strip()
        return hmac.compare_digest(presented.encode(), expected.encode())

    async def orders(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"code": "woocommerce_rest_cannot_view"}, status_code=401)
        since_text = request.query_params.get("modified_after", "1970-01-01T00:00:00")
        since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
        page = max(1, int(request.query_params.get("page", "1")))
        per_page = min(100, max(1, int(request.query_params.get("per_page", "10"))))
        chosen = shop.modified_after(since)
        return JSONResponse(chosen[(page - 1) * per_page: page * per_page],
                            headers={"X-WP-Total": str(len(chosen))})

    async def order(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"code": "woocommerce_rest_cannot_view"}, status_code=401)
        try:
            return JSONResponse(shop.get(int(request.path_params["order_id"])))
        except (KeyError, ValueError):
            return JSONResponse({"code": "woocommerce_rest_shop_order_invalid_id"}, status_code=404)

    return Starlette(routes=[Route("/wp-json/wc/v3/orders", orders, methods=["GET"]),
                             Route("/wp-json/wc/v3/orders/{order_id}", order, methods=["GET"])])
