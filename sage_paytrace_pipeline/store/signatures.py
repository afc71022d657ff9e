"""Webhook signatures: base64 HMAC-SHA256 of the exact raw body (WooCommerce and Shopify alike).

Verified over the bytes as received, before any JSON parsing, with a constant-time compare. Several
secrets may be valid at once (a rotation: Shopify signs with the old secret for up to an hour).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

# The header that carries the signature, per platform.
SIGNATURE_HEADERS = {"woocommerce": "x-wc-webhook-signature", "shopify": "x-shopify-hmac-sha256"}


def sign(body: bytes, secret: str) -> str:
    """The signature a store sends for `body` (also what the store sandbox uses)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify(body: bytes, signature: str | None, secrets: Sequence[str]) -> bool:
    """True when `signature` is the body's HMAC under one of `secrets`; False when missing or wrong."""
    if not signature or not secrets:
        return False
    presented = signature.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        if secret:
            # every secret is compared (no early exit), so timing says nothing about which one matched
            matched |= hmac.compare_digest(sign(body, secret).encode("ascii"), presented)
    return matched
