"""The process environment pointed at a stand-in world for a while: the code location reads its
connections from the environment, and harnesses that run it in-process (the fault campaign, the
backfill benchmark) restore what was there afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def environment_set(variables: Mapping[str, str]) -> Iterator[None]:
    """`variables` set in `os.environ` inside the block; each one's earlier value (or absence) back after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
