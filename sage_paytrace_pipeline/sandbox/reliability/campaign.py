"""The fault campaign: N days through the pipeline while everything around it fails, then the books.

Per day, PayTrace faults of every kind are installed in the sandbox (5xx, 429, firewall pages,
latency, answers lost after processing, dropped connections; on some days a burst long enough to
fail a step), tokens are expired every few seconds, and one demo-company scenario is armed in turn:
- `sage_write_fails`: the 2nd receipt written in the run fails inside its transaction (the
  deposit already holds the 1st), so the step fails and the day is re-run;
- `worker_killed`: the run worker process is killed right after Sage commits the 3rd receipt and
  before the warehouse records it; run monitoring marks the run failed and it is re-run;
- `sensor_and_schedule`: two workers run the same day at once.
Then the bank statements and each day's settlement run (the first GL journal write fails), a
final re-run of every day, and `verify.verify_books` on Sage's tables.
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.sage100.writer import POST_CARD_RECEIPT, POST_JOURNAL_ENTRY
from sage_paytrace_pipeline.sandbox.environment import environment_set
from sage_paytrace_pipeline.sandbox.paytrace.settings import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
)
from sage_paytrace_pipeline.sandbox.reliability.control import SandboxControl
from sage_paytrace_pipeline.sandbox.reliability.runs import Runner
from sage_paytrace_pipeline.sandbox.reliability.verify import (
    Verdict,
    approved_sales,
    verify_books,
)
from sage_paytrace_pipeline.sandbox.reliability.world import (
    INTEGRATOR_ID,
    TIME_ZONE,
    World,
    build_world,
    fresh_home,
    resolve_web_sales,
)
from sage_paytrace_pipeline.sandbox.sage100.faults import fault_state, write_fault_file

SCENARIOS = ("sage_write_fails", "worker_killed", "sensor_and_schedule")
DAILY_JOB, SETTLEMENT_JOB, BANK_JOB = "paytrace_daily_job", "settlement_daily_job", "bank_statements_job"
EXPORT_ROUTE = "/v1/transactions/export/by_date_range"
CLIENT_ATTEMPTS = 6  # PayTraceClient's RetryPolicy.max_attempts: a burst this long fails the step


@dataclass(frozen=True)
class CampaignOptions:
    days: int = 5
    seed: int = 1
    start: date = date(2026, 10, 5)  # a Monday; any day after the config's first business day
    home: Path = Path(".sage_paytrace/faults")
    customers: int = 16  # PayTrace vault customers of the generated merchant
    web_sales_per_day: int = 3
    max_attempts: int = 4  # runs of one job and day before the campaign gives up on it
    expire_tokens_every: float = 2.0


# One of each kind for the day's first PayTrace calls, so that every kind is met even in a short
# campaign; a fast `latency` between failures keeps the client's attempts for a call from running out.
EVERY_KIND_ONCE: list[dict[str, object]] = [
    {"kind": "http_500"}, {"kind": "http_502"}, {"kind": "latency", "latency_seconds": 0.2},
    {"kind": "http_503"}, {"kind": "http_504"}, {"kind": "latency", "latency_seconds": 0.2},
    {"kind": "http_429"}, {"kind": "html_block"}, {"kind": "latency", "latency_seconds": 0.2},
    {"kind": "timeout_after_commit", "latency_seconds": 0.5}, {"kind": "drop_connection"},
]


def paytrace_rules(burst: bool, every_kind_once: bool) -> list[dict]:
    """Every fault kind at a rate the client's own retries absorb. With `burst`, first a run of 503s
    on the day's export as long as the client's attempts, so the step fails and Dagster retries it;
    with `every_kind_once`, first one fault of each kind for the day's first calls."""
    rules = [{"route": EXPORT_ROUTE, "kind": "http_503", "rate": 1.0, "count": CLIENT_ATTEMPTS}] if burst else []
    if every_kind_once:
        rules += [{"route": "*", "rate": 1.0, "count": 1, **rule} for rule in EVERY_KIND_ONCE]
    return [
        *rules,
        {"route": "*", "kind": "http_500", "rate": 0.04},
        {"route": "*", "kind": "http_502", "rate": 0.04},
        {"route": "*", "kind": "http_503", "rate": 0.04},
        {"route": "*", "kind": "http_504", "rate": 0.04},
        {"route": "*", "kind": "http_429", "rate": 0.05},
        {"route": "*", "kind": "html_block", "rate": 0.04},
        {"route": "*", "kind": "latency", "rate": 0.1, "latency_seconds": 1.5},
        {"route": "*", "kind": "timeout_after_commit", "rate": 0.05, "latency_seconds": 0.5},
        {"route": "*", "kind": "drop_connection", "rate": 0.04},
    ]


SAGE_RULES = {
    "sage_write_fails": [{"operation": POST_CARD_RECEIPT, "kind": "fail", "at": 2}],
    "worker_killed": [{"operation": POST_CARD_RECEIPT, "kind": "crash", "at": 3}],
    "sensor_and_schedule": [],
    "settlement": [{"operation": POST_JOURNAL_ENTRY, "kind": "fail", "at": 1}],
}


def run_campaign(options: CampaignOptions) -> dict:
    started = time.monotonic()
    home = fresh_home(options.home)
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread

    app = create_app(home / "paytrace_sandbox.sqlite3", settings={"time_zone": TIME_ZONE})
    with serve_in_thread(app) as base_url:
        world = build_world(home, app.state.engine, base_url, first=options.start, days=options.days,
                            seed=options.seed, customers=options.customers,
                            web_sales_per_day=options.web_sales_per_day)
        control = SandboxControl(base_url)
        web_store_stats = control.stats()
        faults_file = write_fault_file(home / "sage_faults.json", [])
        with environment_set({**world.environment, "PAYTRACE_API_URL": base_url}):
            runner, sage_fired, gave_up = _run_pipeline(world, control, options, faults_file)
        control.clear_faults()
        stats = control.stats()
        control.close()
        verdict = _verify(world, base_url)
    return _report(options, world, runner, verdict, sage_fired=sage_fired, gave_up=gave_up,
                   web_store_stats=web_store_stats, stats=stats, seconds=time.monotonic() - started)


def _run_pipeline(world: World, control: SandboxControl, options: CampaignOptions, faults_file: Path
                  ) -> tuple[Runner, Counter, list[str]]:
    import dagster as dg

    from sage_paytrace_pipeline.definitions import defs

    sage_fired: Counter = Counter()
    gave_up: list[str] = []
    with dg.DagsterInstance.get() as instance:
        runner = Runner(instance, defs(), control, sage_faults=faults_file, max_attempts=options.max_attempts,
                        expire_tokens_every=options.expire_tokens_every, log_dir=world.home / "worker_logs")
        for index, day in enumerate(world.days()):
            scenario = SCENARIOS[index % len(SCENARIOS)]
            rules = paytrace_rules(burst=index % 2 == 0, every_kind_once=index == 0)
            control.install_faults(rules, seed=options.seed * 1000 + index)
            write_fault_file(faults_file, SAGE_RULES[scenario])
            if not runner.until_success(_first_runs(runner, scenario, day.isoformat())):
                gave_up.append(f"{DAILY_JOB} {day}")
            sage_fired.update(_fired(faults_file))
        write_fault_file(faults_file, SAGE_RULES["settlement"])
        if not runner.until_success([runner.in_process(BANK_JOB, None)]):
            gave_up.append(BANK_JOB)
        for day in world.days():
            if not runner.until_success([runner.in_process(SETTLEMENT_JOB, day.isoformat())]):
                gave_up.append(f"{SETTLEMENT_JOB} {day}")
        sage_fired.update(_fired(faults_file))
        write_fault_file(faults_file, [])
        for day in world.days():  # the operator re-runs every day once more: nothing may change twice
            if not runner.until_success([runner.in_process(DAILY_JOB, day.isoformat(), trigger="final re-run")]):
                gave_up.append(f"{DAILY_JOB} {day} (final re-run)")
    return runner, sage_fired, gave_up


def _first_runs(runner: Runner, scenario: str, partition: str) -> list:
    if scenario == "worker_killed":
        return [runner.in_worker(DAILY_JOB, partition)]
    if scenario == "sensor_and_schedule":
        return runner.concurrently(DAILY_JOB, partition)
    return [runner.in_process(DAILY_JOB, partition)]


def _fired(faults_file: Path) -> Counter:
    state = fault_state(faults_file)
    return Counter(f"{state['rules'][position]['operation']}:{state['rules'][position]['kind']}"
                   for position in state["fired"])


def _verify(world: World, base_url: str) -> Verdict:
    with PayTraceClient(base_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, integrator_id=INTEGRATOR_ID,
                        time_zone=TIME_ZONE) as client:
        sales = approved_sales(client, world.first, world.last)
    by_invoice_id: dict[str, list[int]] = {}
    for sale in sales:
        by_invoice_id.setdefault(sale.invoice_id, []).append(sale.transaction_id)
    resolve_web_sales(world, by_invoice_id)
    return verify_books(world.sage_db, world.warehouse, sales, world.planned, world.opening_balances,
                        web_invoice_ids=world.web_invoice_ids)



# ------------------------------------------------------------------------------ the report


def _report(options: CampaignOptions, world: World, runner: Runner, verdict: Verdict, *, sage_fired: Counter,
            gave_up: list[str], web_store_stats: dict, stats: dict, seconds: float) -> dict:
    records = runner.records
    web_store_faults = web_store_stats["faults_by_kind"]
    sage_unseen = sum(sage_fired.values()) - sum(
        record.killed or any("Sage100WriteError" in error for error in record.errors) for record in records)
    pipeline_faults = {kind: count - web_store_faults.get(kind, 0) for kind, count in stats["faults_by_kind"].items()
                       if count - web_store_faults.get(kind, 0)}
    return {
        "ok": verdict.ok and not gave_up and sage_unseen == 0,
        "days": {"first": world.first.isoformat(), "last": world.last.isoformat(), "count": len(world.days()),
                 "seed": options.seed},
        "activity": {"generated": world.generated_counts, "web_store_payments": len(world.web_invoice_ids),
                     "batches_closed": world.batches_closed},
        "faults": {
            "paytrace_during_runs": dict(sorted(pipeline_faults.items())),
            "paytrace_during_web_store_sales": dict(sorted(web_store_faults.items())),
            "tokens_expired": runner.tokens_expired,
            "tokens_issued": stats["tokens_issued"] - web_store_stats["tokens_issued"],  # re-authentications

            "sage_demo_company": dict(sorted(sage_fired.items())),
            "workers_killed": sum(record.killed for record in records),
            "sage_faults_unseen": sage_unseen,
            "concurrent_runs": sum(record.mode == "concurrent" for record in records),
        },
        "runs": {
            "total": len(records), "succeeded": sum(record.success for record in records),
            "failed": sum(not record.success for record in records),
            "re_runs": sum(record.attempt > 1 for record in records),
            "failed_steps": sum(len(record.failed_steps) for record in records),
            "retried_steps": sum(len(record.retried_steps) for record in records),
            "by_job": dict(Counter(record.job for record in records)),
            "gave_up": gave_up,
            "failures": [f"{record.job} {record.partition or ''} ({record.mode}, attempt {record.attempt}): "
                         + ("; ".join(record.errors) or "failed") for record in records if not record.success],
        },
        "books": verdict.as_dict(),
        "wall_seconds": round(seconds, 1),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "home": str(world.home),
    }


def format_report(report: dict) -> str:
    books, runs, faults, days = report["books"], report["runs"], report["faults"], report["days"]
    verdict = "PASS" if report["ok"] else "FAIL"
    sage = _counts(faults["sage_demo_company"]) or "none"
    return "\n".join([
        f"fault campaign: {days['count']} days {days['first']} .. {days['last']} (seed {days['seed']}): {verdict}",
        f"  PayTrace faults during runs: {_counts(faults['paytrace_during_runs']) or 'none'}",
        f"  PayTrace faults during web-store sales: {_counts(faults['paytrace_during_web_store_sales']) or 'none'}",
        f"  tokens expired {faults['tokens_expired']} times ({faults['tokens_issued']} tokens issued to the runs)",
        (f"  Sage demo company: {sage}; workers killed {faults['workers_killed']}; concurrent runs "
         f"{faults['concurrent_runs']}; Sage faults not seen as a failed or retried step: "
         f"{faults['sage_faults_unseen']}"),
        (f"  runs: {runs['total']} ({runs['succeeded']} succeeded, {runs['failed']} failed, {runs['re_runs']} "
         f"re-runs); steps failed {runs['failed_steps']}, retried {runs['retried_steps']}; gave up: "
         f"{', '.join(runs['gave_up']) or 'none'}"),
        (f"  approved sales {books['approved_sales']}: posted once {books['posted_once']}, exceptions "
         f"{books['excepted']}, duplicates {len(books['duplicates'])}, missing {len(books['missing'])}, posted but "
         f"not approved {len(books['posted_not_approved'])}, amount mismatches {len(books['amount_mismatches'])}"),
        (f"  applied as planned {books['applied_as_planned']}, otherwise {len(books['applied_otherwise'])}; "
         f"invoices checked {books['invoices_checked']}, balance errors {len(books['invoice_balance_errors'])}"),
        (f"  GL registers {books['journals_checked']}, unbalanced {len(books['unbalanced_journals'])}; journal "
         f"entries twice {len(books['duplicate_journal_entries'])}; web-store double charges "
         f"{len(books['double_charges'])}"),
        (f"  wall time {report['wall_seconds']} s on {report['machine']['cpus']} CPUs "
         f"({report['machine']['platform']}, Python {report['machine']['python']})"),
    ])


def _counts(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
