"""Freed memory handed back to the system between matching's phases.

A million-row stage allocates and frees hundreds of large integer and object arrays. glibc keeps
freed blocks of its heap for reuse, and once one large block has been freed it serves blocks of that
size from the heap instead of separate mappings, so after the decisions hundreds of MiB of freed
arrays stay resident while the text that follows (small Python strings) is allocated elsewhere: the
process's peak counted both. `release_freed_memory` returns the free pages (malloc_trim) where the
C library has it; elsewhere it does nothing. Nothing live moves: outputs are the same either way.
"""

from __future__ import annotations

import ctypes
from functools import cache


def release_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; a no-op without it)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # the process's own symbols, the C library's among them
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS), or Windows
        return None
