"""Faults of the demo company: it plays Sage, so it can fail the way a Sage write fails.

Only `FaultInjectingDemoWriter` fails, and only the fault campaign builds it (its resource override
in sandbox/reliability/runs.py, for in-process runs and for its worker processes). The plain
`DemoCompanyWriter` has no hook, and no setting or environment variable reaches this module.

The writer is given a fault file: rules and what they have seen, shared by every process that
writes the company (a run worker that is killed, the run that repairs it):

    {"rules": [{"operation": "post_card_receipt", "kind": "fail", "at": 3},
               {"operation": "post_card_receipt", "kind": "crash", "at": 7}],
     "created": {"post_card_receipt": 5}, "fired": [0]}

`at` counts documents the company *created* for that operation (1-based, across processes).
- `fail`: the `at`-th document raises `Sage100WriteError` inside its transaction, after its rows
  are entered, so the rollback is exercised; earlier documents of the same deposit stay written.
- `crash`: right after the transaction holding the `at`-th document is committed the process ends
  (`os._exit`), before the caller can record that Sage took it: the run worker killed between Sage
  and the warehouse. Receipts are committed a chunk at a time (company/writer.py), so the whole
  chunk is in Sage then.
- `kill`: the process ends inside the transaction, after the `at`-th document's rows are entered
  and before the commit: the worker killed mid-chunk, leaving a hot journal that the next
  connection rolls back (nothing of the chunk is in Sage).
Each rule fires once. Found-again documents (created=False) are not counted.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sage_paytrace_pipeline.sage100.documents import DocumentResult
from sage_paytrace_pipeline.sage100.errors import Sage100WriteError
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

CRASH_EXIT_CODE = 86  # distinctive, so a campaign can tell an injected crash from a real one


def write_fault_file(path: str | Path, rules: list[dict]) -> Path:
    """A fresh fault file with these rules and nothing seen yet."""
    path = Path(path)
    path.write_text(json.dumps({"rules": rules, "created": {}, "fired": []}), encoding="utf-8")
    return path


def fault_state(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class FaultInjectingDemoWriter(DemoCompanyWriter):
    """The demo company writer with the fault file's rules applied to every created document."""

    def __init__(self, db_path: str | Path, *, faults_file: str | Path, **options: Any) -> None:
        super().__init__(db_path, **options)
        self.faults_file = Path(faults_file)
        self._uncommitted: dict[str, int] = {}  # created documents entered in the open transaction

    def _enter(self, name: str, operation: Callable[[DemoSession], DocumentResult],
               session: DemoSession) -> DocumentResult:
        result = super()._enter(name, operation, session)
        if result.created:
            before_commit(self.faults_file, name, uncommitted=self._uncommitted.get(name, 0))
            self._uncommitted[name] = self._uncommitted.get(name, 0) + 1
        return result

    def _committed(self, name: str, result: DocumentResult) -> None:
        super()._committed(name, result)
        if result.created:
            self._uncommitted[name] = max(0, self._uncommitted.get(name, 0) - 1)
            after_commit(self.faults_file, name)


def before_commit(faults_file: Path, operation: str, *, uncommitted: int = 0) -> None:
    """Inside the document's transaction, after its rows: fail (or die) here when a rule is due.
    `uncommitted`: created documents before this one in the same, not yet committed, transaction."""
    with _locked_state(faults_file) as state:
        number = state["created"].get(operation, 0) + uncommitted + 1
        kill = _due(state, operation, "kill", number)
        fail = not kill and _due(state, operation, "fail", number)
    if kill:
        os._exit(CRASH_EXIT_CODE)  # inside the open transaction: its journal is left hot
    if fail:
        raise Sage100WriteError(f"{operation}: injected demo-company fault: the session was lost before "
                                    "the document was committed; nothing of it was written")


def after_commit(faults_file: Path, operation: str) -> None:
    """After the document is committed: count it, and end the process when a `crash` rule is due."""
    with _locked_state(faults_file) as state:
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
def _locked_state(path: Path) -> Iterator[dict]:
    """The fault file's state under an exclusive lock, written back on exit."""
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
