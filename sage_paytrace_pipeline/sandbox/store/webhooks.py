"""WooCommerce's webhook delivery as the shop sends it: JSON body, signature over the exact bytes,
``X-WC-Webhook-*`` headers, a fresh delivery id per attempt (``wp_hash(webhook_id . now)``)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx

from sage_paytrace_pipeline.store.signatures import sign

SOURCE = "https://shop.example.test/"


class WebhookSender:
    def __init__(self, url: str, secret: str, *, client: httpx.Client | None = None, webhook_id: int = 7) -> None:
        self.url = url
        self.secret = secret
        self.http = client or httpx.Client(timeout=10)
        self.webhook_id = webhook_id
        self._attempt = 0

    def body(self, order: dict[str, Any]) -> bytes:
        return json.dumps(order, separators=(",", ":")).encode()

    def new_delivery_id(self) -> str:
        self._attempt += 1
        return hashlib.sha1(f"{self.webhook_id}.{time.time_ns()}.{self._attempt}".encode()).hexdigest()

    def headers(self, body: bytes, topic: str, delivery_id: str, *, signature: str | None) -> dict[str, str]:
        resource, _, event = topic.partition(".")
        headers = {"Content-Type": "application/json", "User-Agent": "WooCommerce/9.0 Hookshot (WordPress/6.5)",
                   "X-WC-Webhook-Source": SOURCE, "X-WC-Webhook-Topic": topic,
                   "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
                   "X-WC-Webhook-ID": str(self.webhook_id), "X-WC-Webhook-Delivery-ID": delivery_id}
        if signature is not None:
            headers["X-WC-Webhook-Signature"] = signature
        return headers

    def send(self, order: dict[str, Any], topic: str, *, delivery_id: str | None = None,
             secret: str | None = None, body: bytes | None = None) -> httpx.Response:
        """One delivery; `secret` overrides the shop's (a bad signature), `body` replays exact bytes."""
        raw = body if body is not None else self.body(order)
        signature = sign(raw, secret if secret is not None else self.secret)
        return self.http.post(self.url, content=raw,
                              headers=self.headers(raw, topic, delivery_id or self.new_delivery_id(),
                                                   signature=signature))

    def ping(self) -> httpx.Response:
        return self.http.post(self.url, content=f"webhook_id={self.webhook_id}".encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "X-WC-Webhook-Source": SOURCE})
