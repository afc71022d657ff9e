"""Backoff delays for retrying reads and token calls (money-moving calls reconcile instead, see recovery)."""

from __future__ import annotations

import random
from collections.abc import Callable

from sage_paytrace_pipeline.paytrace.models import RetryPolicy

# A server asking for a longer pause than this is treated as "down"; waiting longer helps nobody.
MAX_RETRY_AFTER_SECONDS = 120.0

__all__ = ["MAX_RETRY_AFTER_SECONDS", "RetryPolicy", "backoff_delay", "parse_retry_after"]


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential (base, 2·base, 4·base … capped at max_delay) with full jitter, so that many
    workers failing together do not retry in lockstep. A Retry-After from the server is a floor.
    """
    ceiling = min(policy.max_delay, policy.base_delay * (2 ** max(attempt - 1, 0)))
    delay = rng(0.0, ceiling) if policy.jitter else ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; only the delta-seconds form (HTTP-date is rare for APIs; ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
