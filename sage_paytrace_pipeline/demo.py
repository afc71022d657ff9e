"""The embedded end-to-end demo: sandboxes, generated activity, and the daily job, on one machine.

Nothing here talks to a real system. State lives under one folder (default `.sage_paytrace/`):
the PayTrace sandbox's SQLite file, the Sage 100 demo company, the DuckDB warehouse and a Dagster home whose instance keeps
Dagster's own SQLite storage (the root `dagster.yaml` is the production instance, not this one).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

EMBEDDED_INSTANCE_YAML = """\
# Embedded demo instance: Dagster's default SQLite storage under this folder.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    dagster_home = (home / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML)
    return dagster_home


def run_demo(home: Path, *, days: int = 3, seed: int = 7, time_zone: str = "America/Los_Angeles") -> dict:
    """Generate `days` business days of activity ending yesterday and run the daily job on each."""
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
    from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

    home.mkdir(parents=True, exist_ok=True)
    state = home / "paytrace_sandbox.sqlite3"
    for stale in home.glob("paytrace_sandbox.sqlite3*"):  # each demo starts from a clean merchant
        stale.unlink()
    today = datetime.now(ZoneInfo(time_zone)).date()
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    plan, summary = generate_activity(first, last, seed=seed)
    settings = {"time_zone": time_zone}
    outcome = apply_plan(PayTraceSandbox(state, settings=settings), plan)
    # The Sage demo company shares the generated customers and invoices, so payments pay invoices.
    sage = create_demo_company(home / "sage100_demo.sqlite3", seed=seed, activity=summary, overwrite=True)
    app = create_app(state, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, settings=settings)
    with serve_in_thread(app) as base_url:
        os.environ.update(
            PAYTRACE_API_URL=base_url,
            PAYTRACE_USERNAME=DEFAULT_USERNAME,
            PAYTRACE_PASSWORD=DEFAULT_PASSWORD,
            PAYTRACE_INTEGRATOR_ID=os.environ.get("PAYTRACE_INTEGRATOR_ID", "SPPDEMO00001"),
            PAYTRACE_TIME_ZONE=time_zone,
            SAGE_PAYTRACE_WAREHOUSE=str((home / "warehouse.duckdb").resolve()),
            SAGE100_DATABASE=str(Path(sage.db_path).resolve()),
            DAGSTER_HOME=str(prepare_dagster_home(home)),
        )
        runs = _run_daily_job(first, last)
        stats = PayTraceSandbox(state).stats()
    return {
        "success": all(run["success"] for run in runs) and not outcome.failures,
        "sandbox": {"url": base_url, "state": str(state), "generated": summary.counts,
                    "batches_closed": outcome.batches_closed},
        "sage100": {"db": sage.db_path, "customers": sage.counts["AR_Customer"],
                    "open_invoices": sage.counts["AR_OpenInvoice"],
                    "customers_linked_to_paytrace_vault": len(sage.vault_customers)},
        "runs": runs,
        "paytrace_calls": stats["calls_by_route"],
        "warehouse": os.environ["SAGE_PAYTRACE_WAREHOUSE"],
        "dagster_home": os.environ["DAGSTER_HOME"],
    }


def _run_daily_job(first: date, last: date) -> list[dict]:
    import dagster as dg

    from sage_paytrace_pipeline.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def("paytrace_daily_job")
    runs = []
    with dg.DagsterInstance.get() as instance:
        day = first
        while day <= last:
            result = job.execute_in_process(partition_key=day.isoformat(), instance=instance, raise_on_error=False)
            materialized = result.asset_materializations_for_node("paytrace_transactions")
            metadata = materialized[0].metadata if materialized else {}
            runs.append({
                "partition": day.isoformat(),
                "run_id": result.run_id,
                "success": result.success,
                "transactions": metadata["transactions"].value if "transactions" in metadata else None,
                "by_status": metadata["by_status"].value if "by_status" in metadata else None,
            })
            day += timedelta(days=1)
    return runs
