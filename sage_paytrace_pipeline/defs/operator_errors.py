"""One line for the errors an operator makes, from the plain Dagster CLI too.

`dagster asset materialize -m sage_paytrace_pipeline.definitions ...` loads the definitions in its
own process, and an error there (a misspelled config key, a selection Dagster cannot run) leaves
the process uncaught: Python prints a traceback of a hundred lines through Dagster's loader, with
the sentence that matters somewhere in the middle. The code location installs `excepthook`, which
prints that sentence alone (the exit code stays 1); set SAGE_PAYTRACE_DEBUG=1 for the traceback.
Every other error keeps Python's own report.

The sentences:
- a configuration or environment problem (`ConfigError`): its own message, file and key path or
  variable and what is allowed;
- a selection that takes part of an asset made in one step with others (Dagster's
  `DagsterInvalidSubsetError`): which assets belong together and what to select instead. These
  assets are one computation written as several tables (the day's transactions and the records
  refused on the way; receipts written to Sage and the ones Sage refused), so they are refreshed
  together or not at all: refreshing one alone would leave its companion describing another run.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from types import TracebackType

import dagster as dg

from sage_paytrace_pipeline.config import DEBUG_VARIABLE, ConfigError, debugging

_ASSET_KEY = re.compile(r"AssetKey\(\[([^\]]*)\]\)")
_NOT_SUBSETTABLE = re.compile(r"AssetsDefinition '([^']+)' contains asset keys \[(.*?)\] and check keys")
_SELECTED = re.compile(r"attempted to select only assets \[(.*?)\] and checks")

# asset key -> its group, for the multi-assets the definitions hold (filled when they load)
_GROUPS: dict[str, str] = {}


def remember_groups(definitions: dg.Definitions) -> None:
    """Note each multi-asset's group, so a refused selection can name the group to select."""
    for assets_def in definitions.assets or ():
        if isinstance(assets_def, dg.AssetsDefinition) and len(assets_def.keys) > 1:
            for key, group in assets_def.group_names_by_key.items():
                _GROUPS[key.to_user_string()] = group


def one_line(error: BaseException) -> str | None:
    """The operator's sentence for an error this module explains (anywhere in its chain), else None."""
    for link in _chain(error):
        if isinstance(link, ConfigError):
            return str(link)
        if isinstance(link, dg.DagsterInvalidSubsetError):  # Dagster's own sentence when not a multi-asset's
            return subset_sentence(str(link)) or str(link).strip().splitlines()[0]
    return None


def subset_sentence(message: str) -> str | None:
    """What to select instead of part of a multi-asset, from Dagster's subset error; None if unreadable."""
    made, selected = _NOT_SUBSETTABLE.search(message), _SELECTED.search(message)
    if not made or not selected:
        return None
    together = sorted(_keys(made.group(2)))
    chosen = [key for key in sorted(_keys(selected.group(1))) if key in together]
    others = [key for key in together if key not in chosen]
    if not together or not others:
        return None
    groups = sorted({_GROUPS[key] for key in together if key in _GROUPS})
    group = f", select its group (--select group:{groups[0]})" if len(groups) == 1 else ""
    return (f"{' and '.join(chosen) or made.group(1)} is made in one step with {', '.join(others)}: "
            f"add {'it' if len(others) == 1 else 'them'} to the selection "
            f"(--select {','.join([*chosen, *others])}){group} or select the whole day (--select '*')")


def _keys(listing: str) -> list[str]:
    return ["/".join(part.strip().strip("'\"") for part in inner.split(",") if part.strip())
            for inner in _ASSET_KEY.findall(listing)]


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def excepthook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    line = None if debugging() else one_line(error)
    if line is None:
        sys.__excepthook__(kind, error, traceback)
        return
    sys.stderr.write(f"error: {line} ({DEBUG_VARIABLE}=1 shows the traceback)\n")
    sys.stderr.flush()


def running_the_plain_cli(argv: list[str] | None = None) -> bool:
    """Whether this process is `dagster asset materialize` or `dagster job execute`, which run the
    job right here: what the run needs from the environment can be checked before it starts."""
    argv = sys.argv if argv is None else argv
    return len(argv) >= 3 and os.path.basename(argv[0]) in {"dagster", "dagster.exe"} and (
        tuple(argv[1:3]) in {("asset", "materialize"), ("job", "execute")})


def install_excepthook() -> None:
    """Use `excepthook` for errors nothing else catches (idempotent; a custom hook already set stays)."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = excepthook
