"""The embedded end-to-end demo: sandboxes, a generated month, and the daily job over every day.

Nothing here talks to a real system. State lives under one folder (default `.sage_paytrace/`):
the PayTrace sandbox's SQLite file, the Sage 100 demo company, the DuckDB warehouse, the YAML
config, `demo.env` (the variables that point `dagster dev` at the same data) and a Dagster home
whose instance keeps Dagster's own SQLite storage (the root `dagster.yaml` is the production
instance, not this one).
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal

EMBEDDED_INSTANCE_YAML = """\
# Embedded demo instance: Dagster's default SQLite storage under this folder.
concurrency:
  runs:
    tag_concurrency_limits:
      - key: dagster/partition     # one run per business day at a time (sensor + schedule)
        limit: 1
        value:
          applyLimitPerUniqueValue: true
  pools:
    default_limit: 1
run_monitoring:                # a killed run worker's pool slot is freed, or every later run would wait on it
  enabled: true
  free_slots_after_run_end_seconds: 30
  poll_interval_seconds: 30
telemetry:
  enabled: false
"""
UI_SANDBOX_PORT = 8765  # where README's "watch it live" serves the sandbox for `dagster dev`


def prepare_dagster_home(home: Path) -> Path:
    dagster_home = (home / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML)
    return dagster_home


def write_demo_config(home: Path, *, time_zone: str, first_day: date) -> Path:
    """config/example.yaml with the demo's zone and first day (the example itself stays untouched)."""
    example = (Path(__file__).resolve().parent.parent / "config" / "example.yaml")
    text = example.read_text(encoding="utf-8") if example.exists() else ""
    from sage_paytrace_pipeline.config import PipelineConfig, load_config

    path = home / "config.yaml"
    if text:
        text = text.replace("time_zone: America/Los_Angeles", f"time_zone: {time_zone}")
        text = text.replace('first_business_day: "2026-01-01"', f'first_business_day: "{first_day.isoformat()}"')
        text = _uncomment_fee_schedule(text)  # the sandbox bank charges exactly the example's pricing
        path.write_text(text, encoding="utf-8")
    else:  # an installed wheel without the repo's config folder: the defaults are the example
        import yaml

        config = PipelineConfig().model_dump(mode="json")
        config["merchant"].update(time_zone=time_zone, first_business_day=first_day.isoformat())
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    load_config(path)  # the demo must run on a valid config, like production
    return path


def _uncomment_fee_schedule(text: str) -> str:
    lines = text.splitlines(keepends=True)
    keys = ("  # fee_schedule:", "  #   VISA:", "  #   MASTERCARD:", "  #   DISCOVER:", "  #   AMEX:",
            "  # other_brand_fee:")
    return "".join(line.replace("# ", "", 1) if line.startswith(keys) else line for line in lines)


def run_demo(home: Path, *, days: int = 30, seed: int = 7, time_zone: str = "America/Los_Angeles") -> dict:
    """Generate `days` days of activity ending yesterday, run the daily job on each, summarize."""
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
    from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.sandbox.paytrace.settings import (
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
    )
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    state = home / "paytrace_sandbox.sqlite3"
    warehouse = home / "warehouse.duckdb"
    for stale in [*home.glob("paytrace_sandbox.sqlite3*"), *home.glob("warehouse.duckdb*")]:
        stale.unlink()  # each demo starts from a clean merchant and an empty warehouse
    for folder in ("bank_statements", "bank_statements_generated"):
        shutil.rmtree(home / folder, ignore_errors=True)
    today = datetime.now(ZoneInfo(time_zone)).date()
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    plan, summary = generate_activity(first, last, seed=seed)
    settings = {"time_zone": time_zone}
    outcome = apply_plan(PayTraceSandbox(state, settings=settings), plan)
    # The Sage demo company shares the generated customers and invoices, so payments pay invoices.
    sage = create_demo_company(home / "sage100_demo.sqlite3", seed=seed, activity=summary, overwrite=True)
    environment = {
        "PAYTRACE_USERNAME": DEFAULT_USERNAME,
        "PAYTRACE_PASSWORD": DEFAULT_PASSWORD,
        "PAYTRACE_INTEGRATOR_ID": os.environ.get("PAYTRACE_INTEGRATOR_ID", "SPPDEMO00001"),
        "SAGE_PAYTRACE_WAREHOUSE": str(warehouse),
        "SAGE100_DATABASE": str(Path(sage.db_path).resolve()),
        "SAGE_PAYTRACE_CONFIG": str(write_demo_config(home, time_zone=time_zone, first_day=first)),
        "DAGSTER_HOME": str(prepare_dagster_home(home)),
    }
    _write_env_file(home / "demo.env", {**environment, "PAYTRACE_API_URL": f"http://127.0.0.1:{UI_SANDBOX_PORT}"})
    bank = write_bank_statements(PayTraceSandbox(state), home, seed=seed)
    app = create_app(state, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, settings=settings)
    with serve_in_thread(app) as base_url:
        os.environ.update(environment, PAYTRACE_API_URL=base_url)
        runs = _run_jobs(first, last)
        stats = PayTraceSandbox(state).stats()
    return {
        "success": all(run["success"] for run in runs) and not outcome.failures,
        "days": {"first": first.isoformat(), "last": last.isoformat(), "count": (last - first).days + 1,
                 "runs": len(runs),
                 "failed_runs": [f"{run['job']} {run['partition'] or ''}".strip()
                                 for run in runs if not run["success"]],
                 "failed_checks": sorted({check for run in runs for check in run["failed_checks"]})},
        "paytrace": {"generated": summary.counts, "batches_closed": len(outcome.batches_closed),
                     "calls": sum(stats["calls_by_route"].values())},
        "sage100": {"db": sage.db_path, "customers": sage.counts["AR_Customer"],
                    "open_invoices_at_start": sage.counts["AR_OpenInvoice"]},
        "bank": bank,
        **warehouse_summary(warehouse),
        "files": {"home": str(home), "env": str(home / "demo.env"), "warehouse": str(warehouse),
                  "dagster_home": environment["DAGSTER_HOME"]},
    }


def write_bank_statements(sandbox, home: Path, *, seed: int) -> dict:
    """The bank's statements for the sandbox's batches (daily discount, Amex funded on its own, one
    deposit missing, one short by a netted chargeback): BAI2 files into the statement folder the
    pipeline watches, the same deposits as one OFX download beside it, and the generator's truth."""
    from sage_paytrace_pipeline.sandbox.bank.funding import FundingProfile
    from sage_paytrace_pipeline.sandbox.bank.statements import (
        generate_bank_statements,
        sandbox_batches,
    )

    generated = home / "bank_statements_generated"
    truth = generate_bank_statements(sandbox_batches(sandbox), FundingProfile(seed=seed), generated)
    folder = home / "bank_statements"
    folder.mkdir(parents=True, exist_ok=True)
    for statement in sorted((generated / "bai2").glob("*.bai")):
        shutil.copy(statement, folder / statement.name)
    planted = sorted({problem for entry in truth.entries for problem in entry.problems})
    return {"statement_files": len(list(folder.iterdir())), "planted": planted, "truth": str(generated / "truth.json")}


def warehouse_summary(warehouse: Path) -> dict:
    """Receipts posted (count, amount, deposits) and exceptions by kind, read from the warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        count, cents, deposits, twice = connection.execute(
            "SELECT count(*), coalesce(sum(amount_cents), 0), count(DISTINCT deposit_no), "
            "count(*) - count(DISTINCT transaction_id) FROM pipeline.sage_posting_log WHERE state = 'confirmed'"
        ).fetchall()[0]
        by_kind = dict(connection.execute(
            "SELECT kind, count(*) FROM pipeline.receivable_exceptions GROUP BY kind ORDER BY kind").fetchall())
        by_status = dict(connection.execute(
            "SELECT deposit_status, count(*) FROM pipeline.settlement_reconciliation "
            "GROUP BY ALL ORDER BY 1").fetchall())
        deposited, fees = connection.execute(
            "SELECT coalesce(sum(deposit_cents), 0), coalesce(sum(fee_cents), 0) "
            "FROM pipeline.settlement_reconciliation "
            "WHERE deposit_status = 'matched'").fetchall()[0]
        settlement_kinds = dict(connection.execute(
            "SELECT kind, count(*) FROM pipeline.settlement_exceptions GROUP BY kind ORDER BY kind").fetchall())
        journals = connection.execute("SELECT count(*) FROM pipeline.sage_gl_postings").fetchall()[0][0]
    return {
        "receipts": {"posted": count, "amount": format_decimal(cents_to_decimal(int(cents))), "deposits": deposits,
                     "posted_twice": twice},
        "exceptions": {"total": sum(by_kind.values()), "by_kind": by_kind},
        "settlement": {"expected_deposits": by_status, "deposited": format_decimal(cents_to_decimal(int(deposited))),
                       "fees": format_decimal(cents_to_decimal(int(fees))), "journal_entries_posted": journals,
                       "exceptions_by_kind": settlement_kinds},
    }


def format_summary(report: dict) -> str:
    """The human-readable summary the demo prints."""
    receipts, exceptions, days = report["receipts"], report["exceptions"], report["days"]
    settlement = report["settlement"]
    kinds = ", ".join(f"{kind} {count}" for kind, count in exceptions["by_kind"].items()) or "none"
    lines = [
        f"sage-paytrace demo: {days['count']} business days {days['first']} .. {days['last']}, "
        f"{days['runs'] - len(days['failed_runs'])} Dagster runs succeeded, {len(days['failed_runs'])} failed",
        f"  PayTrace sandbox: {sum(report['paytrace']['generated'].values())} generated operations, "
        f"{report['paytrace']['batches_closed']} batches closed",
        f"  Sage cash receipts posted: {receipts['posted']} for ${receipts['amount']} in {receipts['deposits']} "
        f"deposits; posted twice: {receipts['posted_twice']}",
        f"  Exceptions: {exceptions['total']} ({kinds})",
        f"  Settlement: deposits {_counts(settlement['expected_deposits'])}; ${settlement['deposited']} deposited, "
        f"${settlement['fees']} fees; {settlement['journal_entries_posted']} GL journal entries posted",
        f"  Settlement exceptions: {_counts(settlement['exceptions_by_kind']) or 'none'}",
        f"  Asset checks failed: {', '.join(days['failed_checks']) or 'none'}",
        f"  Open the Dagster UI on this data: see README, 'Watch it live' (variables in {report['files']['env']})",
    ]
    return "\n".join(lines)


def _counts(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def _write_env_file(path: Path, variables: dict[str, str]) -> None:
    """KEY=value lines for `set -a; . demo.env` (no secrets beyond the public sandbox defaults)."""
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(variables.items())), encoding="utf-8")


def _run_jobs(first: date, last: date) -> list[dict]:
    """The nightly daily job for every day, the bank statements once, then each day's settlement."""
    import dagster as dg

    from sage_paytrace_pipeline.definitions import defs

    definitions = defs()
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    plan = ([("paytrace_daily_job", day) for day in days] + [("bank_statements_job", None)]
            + [("settlement_daily_job", day) for day in days])
    runs = []
    with dg.DagsterInstance.get() as instance:
        for job, day in plan:
            result = definitions.resolve_job_def(job).execute_in_process(
                partition_key=day.isoformat() if day else None, instance=instance, raise_on_error=False)
            runs.append({
                "job": job,
                "partition": day.isoformat() if day else None,
                "run_id": result.run_id,
                "success": result.success,
                "failed_checks": [check.check_name for check in result.get_asset_check_evaluations()
                                  if not check.passed],
            })
    return runs
