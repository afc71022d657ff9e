"""The cycle collector paused while a day's receipts are planned and posted.

Planning and posting a day make hundreds of thousands of short-lived objects (rows, documents,
converted values), all freed by reference counting. Each allocation burst still counts toward the
collector's thresholds, so full collections run over the whole process heap (in a Dagster run: the
framework, the day's frames) and cost more than the posting itself: 3 full passes took 0.39 s of
a 2,000-receipt post's 1.35 s of CPU in `bench_posting`. Pausing the collector for the block and
restoring it after leaves what is computed unchanged; the few cycles made are collected later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cycle collection inside the block; the collector's state before it is restored
    (a caller that had turned it off keeps it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
