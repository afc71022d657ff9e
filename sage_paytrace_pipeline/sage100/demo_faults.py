"""Faults of the demo company: it plays Sage, so it can fail the way a Sage write fails.

Armed only when SAGE100_DEMO_FAULTS names a JSON file (the fault campaign writes it); otherwise
every hook returns at once. The file holds rules and what they have seen, shared by every process
that writes the company (a run worker that is killed, the run that repairs it):

    {"rules": [{"operation": "post_card_receipt", "kind": "fail", "at": 3},
               {"operation": "post_card_receipt", "kind": "crash", "at": 7}],
     "created": {"post_card_receipt": 5}, "fired": [0]}

`at` counts documents the company *created* for that operation (1-based, across processes).
- `fail`: the `at`-th document raises `Sage100WriteError` inside its transaction, after its rows
  are entered, so the rollback is exercised; earlier documents of the same deposit stay written.
- `crash`: right after the `at`-th document is committed the process ends (`os._exit`), before
  the caller can record that Sage took it: the run worker killed between Sage and the warehouse.
Each rule fires once. Found-again documents (created=False) are not counted.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sage_paytrace_pipeline.sage100.errors import Sage100WriteError

FAULTS_VARIABLE = "SAGE100_DEMO_FAULTS"
CRASH_EXIT_CODE = 86  # distinctive, so a campaign can tell an injected crash from a real one


def write_fault_file(path: str | Path, rules: list[dict]) -> Path:
    """A fresh fault file with these rules and nothing seen yet."""
    path = Path(path)
    path.write_text(json.dumps({"rules": rules, "created": {}, "fired": []}), encoding="utf-8")
    return path


def fault_state(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def before_commit(operation: str) -> None:
    """Inside the document's transaction, after its rows: fail here when a `fail` rule is due."""
    with _armed_state() as state:
        if state is not None and _due(state, operation, "fail", state["created"].get(operation, 0) + 1):
            raise Sage100WriteError(f"{operation}: injected demo-company fault: the session was lost before "
                                    "the document was committed; nothing of it was written")


def after_commit(operation: str) -> None:
    """After the document is committed: count it, and end the process when a `crash` rule is due."""
    with _armed_state() as state:
        if state is None:
            return
        created = state["created"][operation] = state["created"].get(operation, 0) + 1
        crash = _due(state, operation, "crash", created)
    if crash:
        os._exit(CRASH_EXIT_CODE)  # no cleanup, no flush: what a killed worker leaves behind


def _due(state: dict, operation: str, kind: str, number: int) -> bool:
    for position, rule in enumerate(state["rules"]):
        if (rule["operation"], rule["kind"], int(rule["at"])) == (operation, kind, number) \
                and position not in state["fired"]:
            state["fired"].append(position)
            return True
    return False


@contextmanager
def _armed_state() -> Iterator[dict | None]:
    """The fault file's state under an exclusive lock, written back on exit; None when unarmed."""
    path = os.environ.get(FAULTS_VARIABLE)
    if not path:
        yield None
        return
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        try:
            yield state
        finally:
            handle.seek(0)
            handle.truncate()
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
