"""The embedded end-to-end demo: sandboxes, a generated month, and the daily job over every day.

Nothing here talks to a real system. State lives under one folder (default `.sage_paytrace/`):
the PayTrace sandbox's SQLite file, the Sage 100 demo company, the DuckDB warehouse, the YAML
config, `demo.env` (the variables that point `dagster dev` at the same data) and a Dagster home
whose instance keeps Dagster's own SQLite storage (the root `dagster.yaml` is the production
instance, not this one), and demo.log, Dagster's logs of the demo's runs.

The month is replayed in stages so that the pipeline runs in between, as it would in production:
on the day(s) chosen for it an intraday run posts sales that PayTrace voids afterwards (the day's
nightly run reverses their receipts), and a clerk's credit memos ask for card refunds in Sage
(one refunded automatically under the demo's approval limit, one approved by a second person,
one rejected, and a sale cancelled the day it was posted: voided, not refunded) next to
PayTrace's own refunds of the month. On the first day a web store's orders arrive as signed
webhooks, go to Sage as sales orders and invoices, and the day's run receipts their PayTrace sales
(demo_store.py). After the month, beside the bank's statements, the processor's dispute reports
(the chargebacks the bank netted from deposits and one case of every other shape) go through the
disputes job once, before the settlement run (demo_disputes.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

import duckdb

from sage_paytrace_pipeline.demo_disputes import (
    CHARGEBACK_RECEIVABLE,
    DISPUTE_REPORT_FOLDER,
    LOSS_ACCOUNT,
    demo_disputes_config,
    dispute_summary,
    disputes_line,
    write_demo_dispute_reports,
)
from sage_paytrace_pipeline.demo_store import (
    DEMO_WEBHOOK_SECRET,
    STORE_INBOX_FILE,
    WEBHOOK_SECRET_VARIABLE,
    StoreDelivery,
    demo_store_config,
    store_line,
    store_summary,
)
from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal
from sage_paytrace_pipeline.domain.pci import ScrubbingLogFilter, scrub_text

if TYPE_CHECKING:
    import dagster as dg

    from sage_paytrace_pipeline.refunds.request_store import RequestStore
    from sage_paytrace_pipeline.sage100.models import PostedReceipt
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.sage100.writer import Sage100Writer
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan, PlanCall, PlanOutcome

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
CONSOLE_PORT = 8780  # where the demo's summary says to serve the operations console
UI_SANDBOX_PORT = 8765  # where README's "watch it live" serves the sandbox for `dagster dev`
DEMO_AUTO_APPROVE_UP_TO = "100.00"  # the demo's approval limit for refunds asked from Sage
DEMO_CLERK, DEMO_APPROVER = "mjones", "controller"  # who asks for the demo's refunds in Sage, who approves
_SALE_ROUTES = ("/v1/transactions/sale/by_customer", "/v1/transactions/sale/keyed")
_VOID_ROUTE = "/v1/transactions/void"
_MAX_INTRADAY_DAYS = 2
# Run tags of a run over a range of partitions (one run for many business days, see defs/ranges.py)
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
DEMO_LOG = "demo.log"  # under the demo's home: Dagster's run logs and the demo's Python logging
# Dagster's console logger for the demo's runs when their logs go to the file: only CRITICAL reaches
# the terminal (a failed run is an ERROR, in the file and in the summary's failed runs).
_QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def prepare_dagster_home(home: Path) -> Path:
    """The demo's DAGSTER_HOME, with its dagster.yaml (SQLite storage, telemetry off) unless one is there."""
    dagster_home = (home / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML)
    return dagster_home


def demo_console_section(password_hash: str) -> str:
    """The demo config's `console:` section: a clerk and an approver (the demo's refund people), one
    password (only its hash here), plain HTTP on localhost, re-runs on the `dagster dev` of 'Watch it live'."""
    users = "".join(f"    {name}: {{role: {role}, password_hash: \"{password_hash}\"}}\n"
                    for name, role in ((DEMO_CLERK, "clerk"), (DEMO_APPROVER, "approver")))
    return (f"\nconsole:                             # README \"The operations console\"\n"
            f"  secure_cookies: false              # the demo serves it on localhost over plain HTTP\n"
            f"  dagster_url: http://127.0.0.1:3000  # \"Re-run the day\" on README's 'Watch it live' Dagster\n"
            f"  users:\n{users}")


def demo_console_login() -> tuple[str, str]:
    """(password, argon2 hash) for the demo's console users: $SAGE_PAYTRACE_DEMO_CONSOLE_PASSWORD, else a new
    random one each demo (printed once in the summary, never written anywhere: the config keeps the hash)."""
    import secrets

    from sage_paytrace_pipeline.console.passwords import hash_password

    password = os.environ.get("SAGE_PAYTRACE_DEMO_CONSOLE_PASSWORD") or secrets.token_urlsafe(12)
    return password, hash_password(password)


def write_demo_config(home: Path, *, time_zone: str, first_day: date, console: str = "",
                      disputes: bool = False) -> Path:
    """config/example.yaml with the demo's zone and first day (the example itself stays untouched), and
    `console` (a `console:` section) appended; with `disputes` the demo's `disputes:` section too."""
    example = (Path(__file__).resolve().parent.parent / "config" / "example.yaml")
    text = example.read_text(encoding="utf-8") if example.exists() else ""
    from sage_paytrace_pipeline.config import PipelineConfig, load_config

    path = home / "config.yaml"
    if text:
        text = text.replace("time_zone: America/Los_Angeles", f"time_zone: {time_zone}")
        text = text.replace('first_business_day: "2026-01-01"', f'first_business_day: "{first_day.isoformat()}"')
        text = _uncomment_fee_schedule(text)  # the sandbox bank charges exactly the example's pricing
        text = text.replace("auto_approve_up_to: 0 ", f'auto_approve_up_to: "{DEMO_AUTO_APPROVE_UP_TO}"', 1)
        text = text.replace('  terms_code: "00"\n', '  terms_code: "00"\n  sync: {}\n', 1)  # the customer sync on
        text += demo_store_config()  # the web store's orders into Sage
        if disputes:  # the processor's dispute reports (demo_disputes.py)
            text += demo_disputes_config()
        path.write_text(text + console, encoding="utf-8")
    else:  # an installed wheel without the repo's config folder: the defaults are the example
        import yaml

        config = PipelineConfig().model_dump(mode="json")
        config["merchant"].update(time_zone=time_zone, first_business_day=first_day.isoformat())
        config["store"] = {"inbox_file": STORE_INBOX_FILE}
        if disputes:
            config["disputes"] = {"report_folder": DISPUTE_REPORT_FOLDER, "chargeback_account": CHARGEBACK_RECEIVABLE,
                                  "loss_account": LOSS_ACCOUNT, "reopen_invoice": False}
        path.write_text(yaml.safe_dump(config, sort_keys=False) + console, encoding="utf-8")
    load_config(path)  # the demo must run on a valid config, like production
    return path


def _uncomment_fee_schedule(text: str) -> str:
    lines = text.splitlines(keepends=True)
    keys = ("  # fee_schedule:", "  #   VISA:", "  #   MASTERCARD:", "  #   DISCOVER:", "  #   AMEX:",
            "  # other_brand_fee:")
    return "".join(line.replace("# ", "", 1) if line.startswith(keys) else line for line in lines)


def run_demo(home: Path, *, days: int = 30, seed: int = 7, time_zone: str = "America/Los_Angeles",
             log_file: Path | None = None, progress: Callable[[DemoProgress], None] | None = None) -> dict:
    """Generate `days` days of activity ending yesterday, run the daily job on each, summarize.

    With `log_file`, Dagster's logs of every run and the demo's Python logging go to that file instead
    of the terminal; `progress` is told after every run how far the demo is.
    """
    if log_file is None:
        return _run_demo(home, days=days, seed=seed, time_zone=time_zone, log_file=None, progress=progress)
    log_file = log_file.resolve()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with logging_to(log_file):
        return _run_demo(home, days=days, seed=seed, time_zone=time_zone, log_file=log_file, progress=progress)


def _run_demo(home: Path, *, days: int, seed: int, time_zone: str, log_file: Path | None,
              progress: Callable[[DemoProgress], None] | None) -> dict:
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.sandbox.paytrace.settings import (
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
    )
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
    from sage_paytrace_pipeline.sandbox.store.company import ensure_store_items

    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    state = home / "paytrace_sandbox.sqlite3"
    warehouse = home / "warehouse.duckdb"
    for stale in [*home.glob("paytrace_sandbox.sqlite3*"), *home.glob("warehouse.duckdb*"),
                  *home.glob(f"{STORE_INBOX_FILE}*")]:
        stale.unlink()  # each demo starts from a clean merchant and an empty warehouse
    for folder in ("bank_statements", "bank_statements_generated", DISPUTE_REPORT_FOLDER):
        shutil.rmtree(home / folder, ignore_errors=True)
    today = datetime.now(ZoneInfo(time_zone)).date()
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    plan, summary = generate_activity(first, last, seed=seed)
    settings = {"time_zone": time_zone}
    # The Sage demo company shares the generated customers and invoices, so payments pay invoices.
    sage = create_demo_company(home / "sage100_demo.sqlite3", seed=seed, activity=summary, overwrite=True)
    ensure_store_items(sage.db_path)  # the store's tax, fee and discount items
    console_password, console_hash = demo_console_login()
    config_path = write_demo_config(home, time_zone=time_zone, first_day=first,
                                    console=demo_console_section(console_hash), disputes=True)
    environment = {
        "PAYTRACE_USERNAME": DEFAULT_USERNAME,
        "PAYTRACE_PASSWORD": DEFAULT_PASSWORD,
        "PAYTRACE_INTEGRATOR_ID": os.environ.get("PAYTRACE_INTEGRATOR_ID", "SPPDEMO00001"),
        "SAGE_PAYTRACE_WAREHOUSE": str(warehouse),
        "SAGE100_DATABASE": str(Path(sage.db_path).resolve()),
        "SAGE_PAYTRACE_CONFIG": str(config_path),
        "DAGSTER_HOME": str(prepare_dagster_home(home)),
        WEBHOOK_SECRET_VARIABLE: DEMO_WEBHOOK_SECRET,
    }
    _write_env_file(home / "demo.env", {**environment, "PAYTRACE_API_URL": f"http://127.0.0.1:{UI_SANDBOX_PORT}",
                                         # signs the demo console's session cookies; a new one each demo
                                         "SAGE_PAYTRACE_CONSOLE_SECRET": _console_secret()})
    tracker = DemoProgress(days=(last - first).days + 1, warehouse=warehouse, listener=progress)
    month = DemoMonth(PayTraceSandbox(state, settings=settings), plan, first, last, warehouse=warehouse,
                      sage_database=str(Path(sage.db_path).resolve()), config_path=config_path,
                      jobs=JobRunner(log_file=log_file, on_run=tracker.run_done))
    app = create_app(state, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, settings=settings)
    with serve_in_thread(app) as base_url, store_receiver(config_path) as receiver_url:
        os.environ.update(environment, PAYTRACE_API_URL=base_url)
        month.store_receiver_url = receiver_url
        runs = month.run_daily_jobs()
        # The bank's statements once every batch of the month is closed (refunds sent from Sage included).
        bank = write_bank_statements(PayTraceSandbox(state), home, seed=seed)
        # The processor's dispute reports, agreeing with the chargebacks the bank netted; the dispute flow
        # runs once before settlement, so settlement's exception for a netted chargeback names its case.
        reports = write_demo_dispute_reports(warehouse, Path(bank["truth"]), home, seed=seed)
        runs += month.jobs.run([("bank_statements_job", None), ("disputes_job", None),
                                ("settlement_daily_job", (first, last))])
        stats = PayTraceSandbox(state).stats()
    outcome = month.replayed
    return {
        "success": all(run["success"] for run in runs) and not outcome.failures,
        "days": {"first": first.isoformat(), "last": last.isoformat(), "count": (last - first).days + 1,
                 "runs": len(runs),
                 "failed_runs": [f"{run['job']} {run['partition'] or ''}".strip()
                                 for run in runs if not run["success"]],
                 "failed_checks": sorted({check for run in runs for check in run["failed_checks"]}),
                 "intraday_runs": [moment.isoformat(timespec="minutes") for moment in month.intraday]},
        "paytrace": {"generated": summary.counts, "batches_closed": len(outcome.batches_closed),
                     "calls": sum(stats["calls_by_route"].values())},
        "sage100": {"db": sage.db_path, "customers": sage.counts["AR_Customer"],
                    "open_invoices_at_start": sage.counts["AR_OpenInvoice"]},
        "bank": bank,
        **warehouse_summary(warehouse, today=today),
        "store": store_summary(home / STORE_INBOX_FILE, warehouse, month.store),
        "dispute_reports": reports,
        "files": {"home": str(home), "env": str(home / "demo.env"), "warehouse": str(warehouse),
                  "dagster_home": environment["DAGSTER_HOME"]},
        "console": {"url": f"http://127.0.0.1:{CONSOLE_PORT}", "users": [DEMO_CLERK, DEMO_APPROVER],
                    "password": console_password,
                    "start": f"set -a; . {home / 'demo.env'}; set +a; sage-paytrace console serve "
                             f"--host 127.0.0.1 --port {CONSOLE_PORT}"},
    }


@contextmanager
def store_receiver(config_path: Path) -> Iterator[str]:
    """The store receiver (`store serve`) over the demo's inbox on a local port; yields its WooCommerce URL."""
    from sage_paytrace_pipeline.config import load_config
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.store.inbox import open_inbox
    from sage_paytrace_pipeline.store.receiver import create_receiver_app
    from sage_paytrace_pipeline.store.setup import inbox_url

    store = load_config(config_path).store
    assert store is not None, "the demo's config has a store section"
    engine = open_inbox(inbox_url(store, config_path))
    try:
        with serve_in_thread(create_receiver_app(engine, {"woocommerce": [DEMO_WEBHOOK_SECRET]})) as url:
            yield f"{url}/webhooks/woocommerce"
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the month, replayed in stages


def intraday_moments(plan: ActivityPlan, first: date, last: date, *,
                     limit: int = _MAX_INTRADAY_DAYS) -> list[datetime]:
    """When to run a day's job intraday so that sales posted by it are voided afterwards.

    The generator voids some sales before their nightly batch closes. For each day from the fourth
    on, the moment one minute before one of that day's voids that the most sales of that day
    straddle (sold before it, voided after it); the `limit` days with the most such voids.
    """
    sold_at = {call.ref: call.at for call in plan.calls if call.route in _SALE_ROUTES and call.ref}
    voids = [(sold_at[call.uses["transaction_id"]], call.at) for call in plan.calls
             if call.route == _VOID_ROUTE and call.uses.get("transaction_id") in sold_at]
    best: dict[date, tuple[int, datetime]] = {}
    for voided in sorted(v for _, v in voids):
        if not first + timedelta(days=3) <= voided.date() <= last:
            continue
        moment = (voided - timedelta(minutes=1)).replace(second=0, microsecond=0)
        straddled = sum(1 for s, v in voids if s < moment < v and s.date() == moment.date())
        if straddled and straddled > best.get(moment.date(), (0, moment))[0]:
            best[moment.date()] = (straddled, moment)
    chosen = sorted(best.values(), key=lambda item: (-item[0], item[1]))[:limit]
    return sorted(moment for _, moment in chosen)


class JobRunner:
    """Runs jobs in-process on the demo's Dagster instance; the definitions load once, at the first run
    (after the demo's variables are set).

    With a `log_file`, Dagster's console logger stays quiet and each run's logs (every level, as the
    console would have shown them) are appended to the file once the run ends; `on_run` hears of each
    run as it ends.
    """

    def __init__(self, *, log_file: Path | None = None, on_run: Callable[[dict], None] | None = None) -> None:
        self._definitions: dg.Definitions | None = None
        self.log_file = log_file
        self.on_run = on_run

    def run(self, plan: list[tuple[str, date | tuple[date, date] | None]]) -> list[dict]:
        """Run each (job, business day or (first, last) days in one run, or None) in order; what each run did."""
        import dagster as dg

        from sage_paytrace_pipeline.definitions import defs
        from sage_paytrace_pipeline.defs.dagster_internals import free_pool_slots

        if self._definitions is None:
            self._definitions = defs()
        runs = []
        with dg.DagsterInstance.get() as instance:
            for job, days in plan:
                first, last = days if isinstance(days, tuple) else (days, days)
                ranged = first is not None and last is not None and first != last
                run_id = str(uuid.uuid4())  # known before the run starts, so its slots can be freed
                try:
                    result = self._definitions.resolve_job_def(job).execute_in_process(
                        partition_key=first.isoformat() if first and not ranged else None,
                        tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
                        if ranged and first and last else None, run_id=run_id,
                        instance=instance, raise_on_error=False,
                        run_config=_QUIET_RUN_CONFIG if self.log_file else None)
                finally:  # an interrupted run keeps its slot, and every later run would wait on it
                    free_pool_slots(instance, run_id)
                if self.log_file:
                    append_run_log(self.log_file, instance, result.run_id)
                covered = _days_between(first, last) if first and last else []
                run = {
                    "job": job,
                    "partition": f"{first}...{last}" if ranged else first.isoformat() if first else None,
                    "partitions": [day.isoformat() for day in covered],
                    "run_id": result.run_id,
                    "success": result.success,
                    "failed_checks": [check.check_name for check in result.get_asset_check_evaluations()
                                      if not check.passed],
                }
                runs.append(run)
                if self.on_run:
                    self.on_run(run)
        return runs


def _days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def append_run_log(path: Path, instance: dg.DagsterInstance, run_id: str) -> None:
    """A run's log entries from the instance's event log, one line each as Dagster's console prints them."""
    lines = []
    for entry in instance.all_logs(run_id):
        when = datetime.fromtimestamp(entry.timestamp).isoformat(sep=" ", timespec="milliseconds")
        event = entry.dagster_event.event_type_value if entry.dagster_event else None
        fields = [entry.job_name, entry.run_id, entry.step_key, event, entry.message]
        lines.append(f"{when} - dagster - {logging.getLevelName(entry.level)} - "
                     + " - ".join(str(value) for value in fields if value) + "\n")
    with path.open("a", encoding="utf-8") as log:
        log.write(scrub_text("".join(lines)))


@contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """Python logging (and warnings) into `path` instead of the terminal, scrubbed; restored on exit."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("py.warnings").propagate)
    path.write_text("", encoding="utf-8")  # each demo's log starts empty; appended to from here on,
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")  # by the runs' logs too
    handler.addFilter(ScrubbingLogFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers, root.level = saved[0], saved[1]
        logging.getLogger("py.warnings").propagate = saved[2]
        handler.close()


@dataclass
class DemoProgress:
    """How far the demo is: business days through the daily job and through settlement, Dagster runs,
    Sage receipts posted (read from the warehouse between runs, when no run holds it)."""

    days: int
    warehouse: Path
    listener: Callable[[DemoProgress], None] | None = None
    runs: int = 0
    receipts: int = 0
    daily: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)

    def run_done(self, run: dict) -> None:
        self.runs += 1
        days = run.get("partitions") or ([run["partition"]] if run["partition"] else [])
        if run["job"] == "paytrace_daily_job":
            self.daily.update(days)
        elif run["job"] == "settlement_daily_job":
            self.settled.update(days)
        self.receipts = posted_receipts(self.warehouse, default=self.receipts)
        if self.listener:
            self.listener(self)

    @property
    def finished(self) -> bool:
        return len(self.settled) >= self.days

    def line(self, width: int = 24) -> str:
        done = min(len(self.daily), self.days) + min(len(self.settled), self.days)
        filled = round(width * done / (2 * self.days)) if self.days else width
        return (f"[{'#' * filled}{'.' * (width - filled)}] days {min(len(self.daily), self.days)}/{self.days} "
                f"run, {min(len(self.settled), self.days)}/{self.days} settled; {self.runs} Dagster runs; "
                f"{self.receipts} receipts posted")


def posted_receipts(warehouse: Path, *, default: int = 0) -> int:
    """Confirmed Sage cash receipts in the warehouse so far (`default` while it cannot be read)."""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            return int(connection.execute(
                "SELECT count(*) FROM pipeline.sage_posting_log WHERE state = 'confirmed'").fetchall()[0][0])
    except duckdb.Error:  # no warehouse or no posting log yet
        return default


class ProgressPrinter:
    """Prints the demo's progress: one line rewritten in place on a terminal, otherwise (CI, a file) a
    plain line every `interval` seconds and the last one."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 15.0) -> None:
        self.stream = stream or sys.stdout
        self.interval = interval
        self.tty = self.stream.isatty()
        self._printed_at: float | None = None
        self._width = 0

    def __call__(self, progress: DemoProgress) -> None:
        line = progress.line()
        if self.tty:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif progress.finished or self._printed_at is None or time.monotonic() - self._printed_at >= self.interval:
            self.stream.write(line + "\n")
            self._printed_at = time.monotonic()
        self.stream.flush()

    def close(self) -> None:
        """Ends the rewritten line, so what follows starts on a line of its own."""
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


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


def warehouse_summary(warehouse: Path, *, today: date | None = None) -> dict:
    """Receipts posted (count, amount, deposits) and exceptions by kind, read from the warehouse; `today`
    (the merchant's date) dates the dispute cases' deadlines."""
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
        refunds = refund_summary(connection)
        customers = customer_summary(connection)
        disputes = dispute_summary(connection, today)
    return {
        "receipts": {"posted": count, "amount": format_decimal(cents_to_decimal(int(cents))), "deposits": deposits,
                     "posted_twice": twice},
        "exceptions": {"total": sum(by_kind.values()), "by_kind": by_kind},
        "settlement": {"expected_deposits": by_status, "deposited": format_decimal(cents_to_decimal(int(deposited))),
                       "fees": format_decimal(cents_to_decimal(int(fees))), "journal_entries_posted": journals,
                       "exceptions_by_kind": settlement_kinds},
        "refunds": refunds,
        "customers": customers,
        "disputes": disputes,
    }


def customer_summary(connection: duckdb.DuckDBPyConnection) -> dict:
    """What the customer sync wrote over the month (its tables hold each day's latest run)."""
    def count(table: str, where: str = "") -> int:
        exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                    "AND table_name = ?", [table]).fetchall()[0][0]
        return int(connection.execute(f"SELECT count(*) FROM pipeline.{table} {where}").fetchall()[0][0]) \
            if exists else 0

    return {"linked": count("customer_sync_links"), "sage_changes": count("sage_customer_updates"),
            "cards_saved": count("sage_customer_updates", "WHERE change LIKE 'card_%' AND change <> 'card_removed'"),
            "cards_removed": count("sage_customer_updates", "WHERE change = 'card_removed'"),
            "paytrace_changes": count("paytrace_customer_updates"),
            "conflicts": count("customer_sync_decisions", "WHERE decision IN ('sage_wins', 'paytrace_wins', "
                                                            "'exception')"),
            "exceptions": count("customer_sync_exceptions")}


def refund_summary(connection: duckdb.DuckDBPyConnection) -> dict:
    """The refund flow's outcome: PayTrace-side refunds and void reversals recorded in Sage (the refund
    log), the requests asked from Sage with their state, and the flow's exceptions by kind."""
    def table(name: str) -> bool:
        return bool(connection.execute("SELECT count(*) FROM information_schema.tables "
                                       "WHERE table_schema = 'pipeline' AND table_name = ?", [name]).fetchall()[0][0])

    def money(cents: int | None) -> str:
        return format_decimal(cents_to_decimal(int(cents or 0)))

    logged = {kind: (count, cents, ids) for kind, count, cents, ids in connection.execute(
        "SELECT kind, count(*), sum(amount_cents), list(transaction_id ORDER BY transaction_id) "
        "FROM pipeline.sage_refund_log WHERE state = 'confirmed' GROUP BY kind").fetchall()} \
        if table("sage_refund_log") else {}
    columns = ("request_id", "state", "action", "amount_cents", "sale_transaction_id", "paytrace_transaction_id",
               "requested_by", "approved_by", "error")
    rows = connection.execute(f"SELECT {', '.join(columns)} FROM pipeline.refund_requests "
                              "ORDER BY requested_at, request_id").fetchall() if table("refund_requests") else []
    exceptions: Counter[str] = Counter()
    for name in ("refund_exceptions", "refund_request_exceptions"):
        if table(name):
            exceptions.update(dict(connection.execute(f"SELECT kind, count(*) FROM pipeline.{name} GROUP BY kind")
                                   .fetchall()))
    listed = [{key: value for key, value in zip(columns, row, strict=True) if key != "amount_cents"}
              | {"amount": money(row[3])} for row in rows]
    by_state = Counter(row["state"] for row in listed)
    refunded, reversed_receipts, reversed_refunds = (logged.get(kind, (0, 0, []))
                                                     for kind in ("refund", "receipt_reversal", "refund_reversal"))
    return {
        "paytrace_refunds_recorded": {"count": refunded[0], "amount": money(refunded[1]),
                                      "transaction_ids": [int(i) for i in refunded[2]]},
        "voids_reversed": {"count": reversed_receipts[0], "amount": money(reversed_receipts[1]),
                           "sale_transaction_ids": [int(i) for i in reversed_receipts[2]]},
        "refund_voids_reversed": {"count": reversed_refunds[0], "amount": money(reversed_refunds[1])},
        "requests": {"count": len(listed), "by_state": dict(sorted(by_state.items())),
                     "sent": sum(by_state[state] for state in ("sent", "confirmed", "recorded")),
                     "voids": sum(1 for row in listed if row["action"] == "void"
                                  and row["state"] in ("sent", "confirmed", "recorded")),
                     "details": listed},
        "exceptions_by_kind": dict(sorted(exceptions.items())),
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
        _refunds_line(report["refunds"]),
        _customers_line(report.get("customers", {})),
        store_line(report.get("store", {})),
        disputes_line(report.get("disputes", {})),
        f"  Asset checks failed: {', '.join(days['failed_checks']) or 'none'}",
        f"  Open the Dagster UI on this data: see README, 'Watch it live' (variables in {report['files']['env']})",
        *_console_lines(report.get("console")),
    ]
    return "\n".join(lines)


def _console_lines(console: dict | None) -> list[str]:
    if not console:
        return []
    return [f"  Operations console: {console['url']} after `{console['start']}`",
            f"    log in as {' or '.join(console['users'])} (clerk, approver), password {console['password']} "
            "(this demo's; set SAGE_PAYTRACE_DEMO_CONSOLE_PASSWORD to choose it)"]


def _console_secret() -> str:
    import secrets

    return secrets.token_urlsafe(48)


def _refunds_line(refunds: dict) -> str:
    requests, states = refunds["requests"], refunds["requests"]["by_state"]
    paytrace, voids = refunds["paytrace_refunds_recorded"], refunds["voids_reversed"]
    return (f"  Refunds: {paytrace['count']} PayTrace refunds recorded in Sage (${paytrace['amount']}), "
            f"{requests['count']} Sage requests (sent {requests['sent']}{_as_voids(requests['voids'])}, "
            f"rejected {states.get('rejected', 0)}, "
            f"awaiting approval {states.get('awaiting_approval', 0)}), {voids['count']} voids reversed "
            f"(${voids['amount']}); refund exceptions: {_counts(refunds['exceptions_by_kind']) or 'none'}")


def _customers_line(customers: dict) -> str:
    if not customers.get("linked"):
        return "  Customers: sync off or nothing linked"
    return (f"  Customers: {customers['linked']} vault profiles linked to Sage customers; {customers['cards_saved']} "
            f"cards saved and {customers['cards_removed']} removed in Sage, {customers['sage_changes']} Sage and "
            f"{customers['paytrace_changes']} PayTrace changes in all; conflicts {customers['conflicts']}, "
            f"exceptions {customers['exceptions']}")


def _as_voids(voids: int) -> str:
    return ", 1 of them a void" if voids == 1 else f", {voids} of them voids" if voids else ""


def _counts(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def _write_env_file(path: Path, variables: dict[str, str]) -> None:
    """KEY=value lines for `set -a; . demo.env` (no secrets beyond the public sandbox defaults)."""
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(variables.items())), encoding="utf-8")


@dataclass(frozen=True)
class RefundAsk:
    """A card refund a clerk asks for in Sage (a credit memo marked with the sale's card payment type)."""

    sale_transaction_id: int
    amount: Decimal
    reason: str
    decision: str  # "auto" (within the limit), "approve" (by a second person) or "reject"


@dataclass
class DemoMonth:
    """The demo's month: the plan replayed in stages with the daily job run in between.

    Stage boundaries are the intraday moments: the plan is replayed up to one (the sandbox clock
    stays there), the days up to that day run (that day's run is the intraday one), then the next
    stage; after the last stage the clock returns to real time and the days from the last intraday
    day on run (that day again: its sales voided meanwhile are reversed in Sage). Two days before
    the first intraday day a clerk asks for three card refunds in Sage; the next run approves the
    small one automatically and sends it, the demo's approver approves one and rejects the other,
    and the run after sends the approved one. After the first intraday run the clerk asks back the
    whole of a small sale it posted, and a second intraday run voids it (its batch has not closed).
    """

    sandbox: PayTraceSandbox
    plan: ActivityPlan
    first: date
    last: date
    warehouse: Path
    sage_database: str
    config_path: Path
    intraday: list[datetime] = field(default_factory=list)
    asks: dict[str, RefundAsk] = field(default_factory=dict)  # request id -> what the clerk asked
    outcome: PlanOutcome | None = None
    jobs: JobRunner = field(default_factory=JobRunner)
    store_receiver_url: str | None = None  # the store receiver's webhook URL; None: no store orders
    store: StoreDelivery | None = None

    def __post_init__(self) -> None:
        self.intraday = intraday_moments(self.plan, self.first, self.last)

    @property
    def replayed(self) -> PlanOutcome:
        assert self.outcome is not None, "run_daily_jobs replays the plan"
        return self.outcome

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]

    def run_daily_jobs(self) -> list[dict]:
        from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan

        ask_day = (self.intraday[0].date() if self.intraday else self.last) - timedelta(days=2)
        ask_day = max(ask_day, self.first)
        hooks: dict[date, Callable[[], None]] = {ask_day: lambda: self._ask_for_refunds(ask_day),
                                                 ask_day + timedelta(days=1): self._decide}
        self._add_customer_changes(hooks)
        runs: list[dict] = []
        applied_until: datetime | None = None
        if self.store_receiver_url:
            applied_until = self.store_moment()
            self._replay(ActivityPlan(calls=self._calls(None, applied_until), finish_at=applied_until))
            runs += self._store_orders(applied_until)
        next_day = self.first
        for moment in self.intraday:
            self._replay(ActivityPlan(calls=self._calls(applied_until, moment), finish_at=moment))
            applied_until = moment
            runs += self._days(next_day, moment.date(), hooks)
            if moment == self.intraday[0] and self._ask_for_a_void(moment):
                runs += self.jobs.run([("paytrace_daily_job", moment.date())])  # the next intraday run voids it
            next_day = moment.date()  # run again tonight, after the voids
        self._replay(ActivityPlan(calls=self._calls(applied_until, None)))
        self.sandbox.set_clock(mode="real")  # back on real time: every batch of the month closes
        runs += self._days(next_day, self.last, hooks)
        return runs

    def _calls(self, after: datetime | None, until: datetime | None) -> list[PlanCall]:
        return [call for call in self.plan.calls
                if (after is None or call.at >= after) and (until is None or call.at < until)]

    def _replay(self, stage: ActivityPlan) -> None:
        from sage_paytrace_pipeline.sandbox.paytrace.plan import PlanOutcome, apply_plan

        done = apply_plan(self.sandbox, stage, known=self.outcome.transaction_ids if self.outcome else None)
        if self.outcome is None:
            self.outcome = done
            return
        responses = Counter(self.outcome.responses) + Counter(done.responses)
        self.outcome = PlanOutcome(
            calls=self.outcome.calls + done.calls, responses=dict(sorted(responses.items())),
            transaction_ids=done.transaction_ids, failures=self.outcome.failures + done.failures,
            batches_closed=self.outcome.batches_closed + done.batches_closed)

    def _days(self, start: date, end: date, hooks: dict[date, Callable[[], None]]) -> list[dict]:
        """The days from `start` to `end` in as few runs as the story allows: one run up to each day with
        a hook (a clerk's request, an approver's decision), the hook, then the next run."""
        runs = []
        while start <= end:
            stop = min([day for day in hooks if start <= day <= end], default=end)
            runs += self.jobs.run([("paytrace_daily_job", (start, stop))])
            hook = hooks.pop(stop, None)
            if hook:
                hook()
            start = stop + timedelta(days=1)
        return runs

    def _add_customer_changes(self, hooks: dict[date, Callable[[], None]]) -> None:
        """Halfway through the month a clerk edits customers in Sage (demo_customers.py); the same evening the
        generated plan changes the vault (a card renewed, one replaced, a second profile, a spare one deleted)."""
        from sage_paytrace_pipeline.demo_customers import change_customers
        from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

        day = self.first + (self.last - self.first) // 2
        before = hooks.get(day)

        def changes() -> None:
            if before:
                before()
            change_customers(self.sage_database, os.environ["PAYTRACE_API_URL"], username=DEFAULT_USERNAME,
                             password=DEFAULT_PASSWORD, clerk_clock=datetime.now())
        hooks[day] = changes

    # ------------------------------------------------------------ the web store

    def store_moment(self) -> datetime:
        """When the store's orders come in: late morning of the first day (merchant time), before any
        intraday moment (those are from the fourth day on)."""
        return datetime.combine(self.first, clock_time(11, 30))

    def _store_orders(self, moment: datetime) -> list[dict]:
        """The orders placed and paid at `moment` (the sandbox's clock is frozen there), then the store run
        that writes them to Sage; the first day's receivables run receipts their sales."""
        from sage_paytrace_pipeline.demo_store import place_store_orders
        from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

        assert self.store_receiver_url is not None
        zone = ZoneInfo(str(self.sandbox.set_clock()["time_zone"]))
        self.store = place_store_orders(self.sage_database, os.environ["PAYTRACE_API_URL"], self.store_receiver_url,
                                        at=moment.replace(tzinfo=zone), username=DEFAULT_USERNAME,
                                        password=DEFAULT_PASSWORD)
        return self.jobs.run([("store_orders_job", None)])

    # ------------------------------------------------------------ refunds asked from Sage

    def _ask_for_refunds(self, day: date) -> None:
        """A clerk's three credit memos on sales of `day` or before (created as `refunds request` does)."""
        self._ask(self._pick_asks(day), memo_date=day + timedelta(days=1))

    def _ask_for_a_void(self, moment: datetime) -> bool:
        """After an intraday run: the whole of a sale it posted, within the approval limit, asked back the
        same day; its batch has not closed, so the next run voids it instead of refunding it."""
        limit = Decimal(DEMO_AUTO_APPROVE_UP_TO)
        for sale_id, receipt in self._posted_sales(lambda call: call.at.date() == moment.date() and call.at < moment):
            if receipt.amount <= limit and any(line.invoice_type == "IN" and line.amount == receipt.amount
                                               for line in receipt.lines):
                self._ask([RefundAsk(sale_id, receipt.amount, "order cancelled the same day", "auto")],
                          memo_date=moment.date())
                return True
        return False

    def _ask(self, asks: list[RefundAsk], *, memo_date: date) -> None:
        from sage_paytrace_pipeline.refunds.requests import request_refund

        reader, writer = self._sage()
        with self._requests() as store:
            for ask in asks:
                created = request_refund(reader, writer, store, sale_transaction_id=ask.sale_transaction_id,
                                         amount=ask.amount, reason=ask.reason, requested_by=DEMO_CLERK,
                                         memo_date=memo_date)
                self.asks[created.request_id] = ask

    def _decide(self) -> None:
        """The second person's decisions (`refunds approve` / `refunds reject`) on what awaits approval."""
        from sage_paytrace_pipeline.domain.refunds.requests import AWAITING_APPROVAL
        from sage_paytrace_pipeline.refunds.requests import approve_request, reject_request

        with self._requests() as store:
            for request_id, ask in self.asks.items():
                request = store.get(request_id)
                if request is None or request.state != AWAITING_APPROVAL:
                    continue
                if ask.decision == "approve":
                    approve_request(store, request_id, approver=DEMO_APPROVER)
                elif ask.decision == "reject":
                    reject_request(store, request_id, reason="goods not returned yet: no refund before they are",
                                   by=DEMO_APPROVER)

    def _posted_sales(self, chosen: Callable[[PlanCall], bool]) -> list[tuple[int, PostedReceipt]]:
        """The plan's sales that `chosen` picks, no later call touches and Sage holds a receipt for (newest
        first), with their receipts: one read."""
        touched = {ref for call in self.plan.calls for ref in call.uses.values()}
        ids = [self.replayed.transaction_ids[call.ref]
               for call in sorted(self.plan.calls, key=lambda c: c.at, reverse=True)
               if call.route in _SALE_ROUTES and call.ref and call.ref not in touched
               and call.ref in self.replayed.transaction_ids and chosen(call)]
        reader, _ = self._sage()
        receipts = {int(r.transaction_id): r for r in reader.receipts_for_transaction_ids([str(i) for i in ids])}
        return [(sale_id, receipts[sale_id]) for sale_id in ids if sale_id in receipts]

    def _pick_asks(self, day: date) -> list[RefundAsk]:
        """Sales of `day` or before that no later call of the plan touches, posted to Sage on an invoice."""
        receipts = dict(self._posted_sales(lambda call: call.at.date() <= day))
        ids = list(receipts)
        limit = Decimal(DEMO_AUTO_APPROVE_UP_TO)
        wanted = [("auto", Decimal("0.01"), "damaged on arrival: partial refund agreed"),
                  ("approve", limit * 2, "order returned in full"),
                  ("reject", limit * 2, "customer asks to cancel the order")]
        asks: list[RefundAsk] = []
        used: set[int] = set()
        for decision, at_least, reason in wanted:
            for sale_id in ids:
                receipt = receipts.get(sale_id)
                lines = [line.amount for line in receipt.lines if line.invoice_type == "IN"] if receipt else []
                if sale_id in used or not lines or max(lines) < at_least:
                    continue
                amount = min(max(lines), limit * Decimal("0.6")) if decision == "auto" else max(lines)
                asks.append(RefundAsk(sale_id, amount.quantize(Decimal("0.01")), reason, decision))
                used.add(sale_id)
                break
        return asks

    def _sage(self) -> tuple[Sage100Reader, Sage100Writer]:
        """A reader and the configured writer on the demo company, as `refunds request` builds them."""
        from sage_paytrace_pipeline.config import load_config
        from sage_paytrace_pipeline.sage100.reader import Sage100Reader
        from sage_paytrace_pipeline.sage100.schema import Sage100Schema
        from sage_paytrace_pipeline.sage100.writers import WriterTarget, open_writer

        config = load_config(self.config_path)
        schema = Sage100Schema(dict(config.sage.names))

        def reader() -> Sage100Reader:
            return Sage100Reader.for_sqlite(self.sage_database, schema=schema)

        writer = open_writer(config.sage.writer, WriterTarget(
            database=self.sage_database, schema=schema, posting=config.sage.posting, vi_folder="", reader=reader))
        return reader(), writer

    @contextmanager
    def _requests(self) -> Iterator[RequestStore]:
        """The warehouse's request store (between runs: no run holds the file), closed on exit."""
        from sage_paytrace_pipeline.refunds.request_store import RequestStore

        connection = duckdb.connect(str(self.warehouse))
        try:
            yield RequestStore(connection)
        finally:
            connection.close()
