"""A system that is not there fails its step at once, in one sentence, without step retries.

PayTrace unreachable (`PayTraceUnreachable`: refused, host name not found, TLS failure, connect
timeout; the client has already spent its short outage budget) and Sage 100 not openable
(`Sage100ConnectionError`: demo company file missing or locked, ODBC connection failing) are not
what step retry policies (`API_RETRY`, `SAGE_WRITE_RETRY`) are for: retrying a server that is not
there only multiplies the wait, and the operator learns of the outage minutes late. So these two
become a `dg.Failure` with the error's own sentence (which names the URL or database and what to
check, never a password) and ``allow_retries=False``. Transient answers (5xx, 429, a lost answer,
a Sage write rolled back) keep their retries.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import dagster as dg

from sage_paytrace_pipeline.domain.pci import scrub_text
from sage_paytrace_pipeline.paytrace.errors import PayTraceUnreachable
from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError

OUTAGES: tuple[type[Exception], ...] = (PayTraceUnreachable, Sage100ConnectionError)
_PASSWORD_IN_CONNECTION_STRING = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{[^}]*\}|[^;]*)")
_F = TypeVar("_F", bound=Callable[..., Any])


def outage_sentence(outage: Exception) -> str:
    """The error's one sentence, with an ODBC password masked (belt and braces) and card data scrubbed."""
    text = outage.message if isinstance(outage, PayTraceUnreachable) else str(outage)
    return scrub_text(_PASSWORD_IN_CONNECTION_STRING.sub(r"\1=***", text))


@contextmanager
def outages_fail_the_step() -> Iterator[None]:
    """Inside an asset: turn an outage into a step failure Dagster does not retry, with its sentence."""
    try:
        yield
    except OUTAGES as outage:
        raise dg.Failure(description=outage_sentence(outage), allow_retries=False) from None


def fails_fast_on_outage(compute: _F) -> _F:
    """`outages_fail_the_step` around a whole asset function (a plain one or a generator of outputs)."""
    if inspect.isgeneratorfunction(compute):
        @functools.wraps(compute)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with outages_fail_the_step():
                yield from compute(*args, **kwargs)

        return cast(_F, generator)

    @functools.wraps(compute)
    def plain(*args: Any, **kwargs: Any) -> Any:
        with outages_fail_the_step():
            return compute(*args, **kwargs)

    return cast(_F, plain)
