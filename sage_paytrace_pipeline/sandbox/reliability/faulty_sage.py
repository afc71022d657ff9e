"""The campaign's Sage resource: the code location's `sage100` resource, with a writer that injects
the demo company's faults (sandbox/sage100/faults.py).

The campaign installs it as a run's resource override, `execute_in_process(resources=...)`, which
Dagster lays over the definitions' bound resources; so do its worker processes (`--sage-faults`).
Nothing in the code location, its configuration or the environment can select it: a production
run never meets a fault hook.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.sage100.errors import Sage100ConfigurationError
from sage_paytrace_pipeline.sage100.reader import is_odbc_connection_string
from sage_paytrace_pipeline.sandbox.sage100.faults import FaultInjectingDemoWriter

SAGE_RESOURCE = "sage100"


class FaultInjectingSage100Resource(Sage100Resource):
    """`Sage100Resource` whose writer is the demo company's, failing as the fault file says."""

    faults_file: str = Field(description="the campaign's fault file (rules and what they have seen)")

    def open_writer(self) -> FaultInjectingDemoWriter:
        if self.writer != "demo_company" or is_odbc_connection_string(self.database):
            raise Sage100ConfigurationError("the fault campaign injects faults into the demo company only "
                                            f"(sage.writer is {self.writer!r})")
        return FaultInjectingDemoWriter(self.database, faults_file=self.faults_file, posting=self.posting,
                                        schema=self.sage_schema())


def sage_fault_resources(definitions: dg.Definitions, faults_file: str | Path) -> dict[str, Sage100Resource]:
    """The run's resource override: the bound `sage100` resource's settings, plus the fault file."""
    bound = (definitions.resources or {})[SAGE_RESOURCE]
    settings = {name: getattr(bound, name) for name in Sage100Resource.model_fields}
    return {SAGE_RESOURCE: FaultInjectingSage100Resource(**settings, faults_file=str(faults_file))}
