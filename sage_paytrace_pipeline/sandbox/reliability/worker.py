"""A run worker: one job for one day on the instance in DAGSTER_HOME, in its own process.

    python -m sage_paytrace_pipeline.sandbox.reliability.worker --job paytrace_daily_job \
        --partition 2026-10-05 --sage-faults .sage_paytrace/faults/sage_faults.json

Prints one JSON line (run id, success). The campaign starts it so a demo-company fault can kill
it mid-posting, and starts two at once to race the activity sensor against the daily close. Sage is
written through the fault-injecting writer of `--sage-faults` (faulty_sage.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import dagster as dg


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandbox.reliability.worker")
    parser.add_argument("--job", required=True)
    parser.add_argument("--partition")
    parser.add_argument("--trigger", default="operator")
    parser.add_argument("--sage-faults", required=True, help="the campaign's demo-company fault file")
    args = parser.parse_args(argv)
    from sage_paytrace_pipeline.definitions import defs
    from sage_paytrace_pipeline.sandbox.reliability.faulty_sage import sage_fault_resources
    from sage_paytrace_pipeline.sandbox.reliability.runs import TRIGGER_TAG

    definitions = defs()
    with dg.DagsterInstance.get() as instance:
        result = definitions.resolve_job_def(args.job).execute_in_process(
            partition_key=args.partition, instance=instance, raise_on_error=False, tags={TRIGGER_TAG: args.trigger},
            resources=sage_fault_resources(definitions, args.sage_faults))
    print(json.dumps({"run_id": result.run_id, "success": result.success}), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
