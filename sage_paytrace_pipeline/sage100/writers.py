"""Which Sage writer a site uses: named implementations found through Python entry points.

The setting `sage.writer` (config.py) names one; `open_writer` loads it from the entry point group
``sage_paytrace_pipeline.sage100_writers`` (pyproject.toml). The pipeline thus never imports an
implementation by path: the demo company's writer lives with the stand-ins (sandbox/), Visual
Integrator files here, and a later BOI bridge registers itself the same way, from its own package.

An entry point names a factory ``(WriterTarget) -> Sage100Writer``; the factory refuses, with a
`Sage100ConfigurationError`, a company it cannot write to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Literal

from sage_paytrace_pipeline.sage100.errors import Sage100ConfigurationError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.schema import Sage100Schema
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

WRITER_GROUP = "sage_paytrace_pipeline.sage100_writers"
DEFAULT_WRITER = "demo_company"


@dataclass(frozen=True)
class WriterTarget:
    """Everything a writer factory may need about the site's company."""

    database: str  # SAGE100_DATABASE: a demo company file or an ODBC connection string
    schema: Sage100Schema
    posting: Literal["post", "entry"]
    vi_folder: str  # SAGE100_VI_FOLDER, "" when unset
    reader: Callable[[], Sage100Reader]  # the site's reader, built on demand (read-back confirmation)


WriterFactory = Callable[[WriterTarget], Sage100Writer]


def available_writers() -> list[str]:
    """Names registered in the entry point group, sorted."""
    return sorted({entry.name for entry in entry_points(group=WRITER_GROUP)})


def open_writer(name: str, target: WriterTarget) -> Sage100Writer:
    """The writer registered as `name`, opened on the target company."""
    for entry in entry_points(group=WRITER_GROUP, name=name):
        factory: WriterFactory = entry.load()
        return factory(target)
    raise Sage100ConfigurationError(
        f"sage.writer: unknown Sage writer {name!r}; available: {', '.join(available_writers()) or 'none installed'}")
