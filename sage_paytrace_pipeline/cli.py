"""`sage-paytrace`: operator and sandbox commands.

    sage-paytrace sandbox paytrace serve     run the PayTrace v1 sandbox over HTTP
    sage-paytrace sandbox paytrace generate  generate a merchant's activity into a sandbox
    sage-paytrace sandbox paytrace live      pay open Sage demo invoices by card, one every few seconds
    sage-paytrace sandbox bank statements    the bank's statements (BAI2, OFX) for the sandbox's closed batches
    sage-paytrace paytrace ping|export       talk to PayTrace (or the sandbox) from the shell
    sage-paytrace demo                       sandbox + generated activity + the daily job, end to end
    sage-paytrace faults campaign            days through the pipeline under injected faults, then the books
    sage-paytrace link add|remove|list       link PayTrace payers to Sage customers (checked in Sage)
    sage-paytrace exceptions list            the exceptions of every day in the warehouse (open ones, a kind...)
    sage-paytrace refunds request|list|approve|reject
                                             card refunds asked from Sage: create, review, approve (maker-checker)
    sage-paytrace console serve|hash-password
                                             the operations console (web): exceptions queue, approvals, audit
    sage-paytrace disputes list              chargeback cases: deadlines and what to send (--open, --due-within N)
    sage-paytrace settlement write-off|cancel-write-off|write-offs
                                             write off what the processor receivable holds for a batch (a decision)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sage_paytrace_pipeline.cli_customers import add_customers_command
from sage_paytrace_pipeline.domain.pci import ScrubbingLogFilter, scrub_text
from sage_paytrace_pipeline.listing import FORMATS
from sage_paytrace_pipeline.store.commands import add_store_commands

if TYPE_CHECKING:  # imported where used: the shell starts fast
    import duckdb

    from sage_paytrace_pipeline.config import PipelineConfig
    from sage_paytrace_pipeline.refunds.request_store import RequestStore
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.settlement.write_offs import WriteOffStore

DEFAULT_STATE = Path(".sage_paytrace") / "paytrace_sandbox.sqlite3"
DEFAULT_SAGE_DB = Path(".sage_paytrace") / "sage100_demo.sqlite3"
DEFAULT_PORT = 8765


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one scrubbed line for the operator, never a card number
        from sage_paytrace_pipeline.config import debugging

        print(f"error: {scrub_text(str(error))}", file=sys.stderr)
        if args.verbose or debugging():
            raise
        return 1


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ScrubbingLogFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-24") from None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sage-paytrace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging and tracebacks (SAGE_PAYTRACE_DEBUG=1 gives the tracebacks too)")
    areas = parser.add_subparsers(dest="area")
    _add_sandbox_commands(areas)
    _add_paytrace_commands(areas)
    _add_demo_command(areas)
    _add_faults_command(areas)
    _add_link_command(areas)
    _add_exceptions_command(areas)
    _add_refund_commands(areas)
    add_store_commands(areas)
    add_customers_command(areas)
    _add_console_commands(areas)
    _add_dispute_commands(areas)
    _add_settlement_commands(areas)
    _add_anomaly_commands(areas)
    return parser


# ---------------------------------------------------------------- sandbox


def _add_sandbox_commands(areas: argparse._SubParsersAction) -> None:
    from sage_paytrace_pipeline.sandbox.paytrace.settings import (
        CONTROL_TOKEN_VARIABLE,
        DEFAULT_PASSWORD,
        DEFAULT_USERNAME,
    )

    sandbox = areas.add_parser("sandbox", help="local stand-ins for the outside systems")
    systems = sandbox.add_subparsers(dest="system")
    paytrace = systems.add_parser("paytrace", help="the PayTrace v1 sandbox")
    commands = paytrace.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="serve the PayTrace v1 API over HTTP")
    serve.add_argument("--host", default="127.0.0.1",
                       help="bind address (default 127.0.0.1); beyond loopback only with --allow-remote and a "
                            "control token, since the control API can reset and reshape the sandbox")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a --host beyond loopback (needs a control token)")
    serve.add_argument("--control-token", default=os.environ.get(CONTROL_TOKEN_VARIABLE),
                       help=f"token the control API (/_sandbox/*) then requires in the X-Sandbox-Control-Token "
                            f"header; at least 16 characters (default {CONTROL_TOKEN_VARIABLE}, which keeps it "
                            f"out of the process list)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--state", type=Path, default=DEFAULT_STATE, help=f"SQLite state file (default {DEFAULT_STATE})")
    serve.add_argument("--username", default=os.environ.get("PAYTRACE_SANDBOX_USERNAME", DEFAULT_USERNAME),
                       help=f"API user (default {DEFAULT_USERNAME})")
    serve.add_argument("--password", default=os.environ.get("PAYTRACE_SANDBOX_PASSWORD", DEFAULT_PASSWORD),
                       help=f"API password (default {DEFAULT_PASSWORD}; or PAYTRACE_SANDBOX_PASSWORD)")
    serve.add_argument("--time-zone", default=os.environ.get("PAYTRACE_SANDBOX_TIME_ZONE"),
                       help="merchant time zone of timestamps, export dates and the cutoff (default: the one "
                            "the state file already has; for a new state file this host's zone, so 'today' "
                            "means the same day to the sandbox and its clients)")
    serve.add_argument("--batch-cutoff", help="nightly batch cutoff HH:MM, merchant time (default 20:00)")
    serve.set_defaults(handler=_serve_sandbox)

    generate = commands.add_parser("generate", help="generate a merchant's activity into a sandbox")
    generate.add_argument("--start", type=_iso_date, help="first business date (default: 14 days ago)")
    generate.add_argument("--end", type=_iso_date, help="last business date (default: yesterday)")
    generate.add_argument("--seed", type=int, default=1, help="random seed; same seed, same activity")
    generate.add_argument("--customers", type=int, default=40, help="vault customers to create")
    generate.add_argument("--per-day", type=int, default=24, help="mean payments per weekday")
    target = generate.add_mutually_exclusive_group()
    target.add_argument("--state", type=Path, help=f"write into this state file directly (default {DEFAULT_STATE})")
    target.add_argument("--url", help="load into a running sandbox, e.g. http://127.0.0.1:8765")
    generate.add_argument("--control-token", default=os.environ.get(CONTROL_TOKEN_VARIABLE),
                          help=f"with --url: the sandbox's control token (default {CONTROL_TOKEN_VARIABLE})")
    generate.add_argument("--summary-out", type=Path, help="write the card-free summary (customers, invoices) as JSON")
    generate.set_defaults(handler=_generate_activity)

    live = commands.add_parser("live", help="pay open Sage demo invoices by card, live, through a running sandbox")
    live.add_argument("--url", required=True, help="the running sandbox, e.g. http://127.0.0.1:8765")
    live.add_argument("--sage-db", type=Path, required=True, help="the Sage demo company whose open invoices get paid")
    live.add_argument("--interval", type=float, default=10.0, help="seconds between payments (default 10)")
    live.add_argument("--count", type=int, help="stop after this many payments (default: until Ctrl-C)")
    live.add_argument("--seed", type=int, help="random seed; same seed, same payments")
    live.add_argument("--vault-change-every", type=int, default=5, metavar="N",
                      help="after every N payments one vault change: a card renewed, a card replaced, a second "
                           "profile for a person, a profile deleted, in turn (0: none; default 5)")
    live.add_argument("--username", default=os.environ.get("PAYTRACE_SANDBOX_USERNAME", DEFAULT_USERNAME),
                      help=f"API user (default {DEFAULT_USERNAME})")
    live.add_argument("--password", default=os.environ.get("PAYTRACE_SANDBOX_PASSWORD", DEFAULT_PASSWORD),
                      help=f"API password (default {DEFAULT_PASSWORD}; or PAYTRACE_SANDBOX_PASSWORD)")
    live.set_defaults(handler=_live_payments)

    sage100 = systems.add_parser("sage100", help="the Sage 100 demo company")
    sage_commands = sage100.add_subparsers(dest="command")
    create = sage_commands.add_parser("create", help="create a demo company (SQLite with Sage's tables and columns)")
    create.add_argument("--db", type=Path, default=DEFAULT_SAGE_DB,
                        help=f"demo company file (default {DEFAULT_SAGE_DB})")
    create.add_argument("--seed", type=int, default=1, help="random seed; same seed, same company")
    create.add_argument("--customers", type=int, default=300, help="customers besides those shared with PayTrace")
    create.add_argument("--paytrace-summary", type=Path,
                        help="the summary written by `sandbox paytrace generate --summary-out`: its vault customers "
                             "and invoices become Sage customers and open invoices, so generated payments pay them")
    create.add_argument("--today", type=_iso_date,
                        help="the company's business date (default: the summary's end, or today)")
    create.add_argument("--force", action="store_true", help="replace an existing file")
    create.set_defaults(handler=_create_sage_company)

    import_vi = sage_commands.add_parser("import-vi", help="import Visual Integrator files into a demo company")
    import_vi.add_argument("--db", type=Path, default=DEFAULT_SAGE_DB,
                           help=f"demo company file (default {DEFAULT_SAGE_DB})")
    import_vi.add_argument("--folder", type=Path, required=True, help="the VI import folder (CSV files + manifests)")
    import_vi.add_argument("--posting", choices=("post", "entry"), default="post",
                           help="post receipts at once (default) or leave them in the entry tables for review")
    import_vi.set_defaults(handler=_import_visual_integrator)

    bank = systems.add_parser("bank", help="the merchant's bank")
    bank_commands = bank.add_subparsers(dest="command")
    statements = bank_commands.add_parser(
        "statements", help="write the bank statements (and a truth file) for a PayTrace sandbox's closed batches")
    statements.add_argument("--state", type=Path, default=DEFAULT_STATE,
                            help=f"PayTrace sandbox state (default {DEFAULT_STATE})")
    statements.add_argument("--out", type=Path, required=True, help="folder for bai2/, ofx/ and truth.json")
    statements.add_argument("--format", choices=("bai2", "ofx", "both"), default="both",
                            help="file format(s) (default both)")
    statements.add_argument("--discount", choices=("daily", "monthly"), default="daily",
                            help="daily: fees netted from each deposit; "
                                 "monthly: gross deposits, one fee debit next month")
    statements.add_argument("--seed", type=int, default=1, help="random seed for references and planted problems")
    statements.set_defaults(handler=_bank_statements)

    from sage_paytrace_pipeline.sandbox.store.commands import add_store_sandbox_commands

    add_store_sandbox_commands(systems)


def host_time_zone() -> str:
    """The IANA name of this host's zone (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text().strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink() and "zoneinfo/" in str(localtime.resolve()):
        candidates.append(str(localtime.resolve()).split("zoneinfo/", 1)[1])
    for name in candidates:
        try:
            if name:
                ZoneInfo(name)
                return name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return "UTC"


def _sandbox_settings(args: argparse.Namespace) -> dict:
    settings = {}
    if args.time_zone:
        settings["time_zone"] = args.time_zone
    elif not args.state.exists():  # an existing state keeps its zone: its batches were cut in it
        settings["time_zone"] = host_time_zone()
    if args.batch_cutoff:
        settings["batch_cutoff"] = args.batch_cutoff
    return settings


def _serve_sandbox(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.paytrace import server
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app

    server.check_bind(args.host, allow_remote=args.allow_remote, control_token=args.control_token)
    args.state.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(args.state, username=args.username, password=args.password, settings=_sandbox_settings(args),
                     control_token=args.control_token or None)
    print(f"PayTrace sandbox on http://{args.host}:{args.port} (state {args.state}, user {args.username})", flush=True)
    server.serve(app, args.host, args.port)
    return 0


def _generate_activity(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.paytrace.generator import (
        MerchantProfile,
        generate_activity,
    )

    today = date.today()
    start = args.start or today - timedelta(days=14)
    end = args.end or today - timedelta(days=1)
    profile = MerchantProfile(customers=args.customers, payments_per_weekday=args.per_day)
    plan, summary = generate_activity(start, end, seed=args.seed, profile=profile)
    if args.url:
        outcome = _load_over_http(args.url, plan, args.control_token)
    else:
        outcome = _load_into_file(args.state or DEFAULT_STATE, plan)
    if args.summary_out:
        args.summary_out.parent.mkdir(parents=True, exist_ok=True)
        args.summary_out.write_text(summary.model_dump_json(indent=2))
    print(json.dumps({"start": str(start), "end": str(end), "seed": args.seed, "generated": summary.counts,
                      "outcome": outcome}, indent=2, default=str))
    return 0 if not outcome.get("failures") else 1


def _live_payments(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.paytrace.live import run_live

    run_live(args.url, args.sage_db, interval=args.interval, count=args.count, seed=args.seed,
             username=args.username, password=args.password,
             integrator_id=os.environ.get("PAYTRACE_INTEGRATOR_ID", ""),
             echo=lambda line: print(line, flush=True), vault_change_every=args.vault_change_every)
    return 0


def _load_into_file(state: Path, plan) -> dict:
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
    from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan

    state.parent.mkdir(parents=True, exist_ok=True)
    return apply_plan(PayTraceSandbox(state), plan).model_dump()


def _load_over_http(url: str, plan, control_token: str | None = None) -> dict:
    import httpx

    from sage_paytrace_pipeline.sandbox.paytrace.settings import CONTROL_TOKEN_HEADER

    headers = {"Content-Type": "application/json"}
    if control_token:
        headers[CONTROL_TOKEN_HEADER] = control_token
    response = httpx.post(url.rstrip("/") + "/_sandbox/load", content=plan.model_dump_json(),
                          headers=headers, timeout=600)
    response.raise_for_status()
    return response.json()


def _create_sage_company(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.paytrace.generator import GeneratedActivity
    from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

    activity = None
    if args.paytrace_summary:
        activity = GeneratedActivity.model_validate_json(args.paytrace_summary.read_text())
    args.db.parent.mkdir(parents=True, exist_ok=True)
    summary = create_demo_company(args.db, seed=args.seed, activity=activity, customers=args.customers,
                                  today=args.today, overwrite=args.force)
    print(summary.model_dump_json(indent=2))
    return 0


def _import_visual_integrator(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.sage100.vi_import import (
        import_visual_integrator_folder,
    )

    report = import_visual_integrator_folder(args.folder, args.db, posting=args.posting)
    print(json.dumps({
        "manifests": report.manifests,
        "files": report.files,
        "applied": [f"{item.operation} {item.reference}" for item in report.applied],
        "already_present": [f"{item.operation} {item.reference}" for item in report.already_present],
        "refused": [{"file": item.file, "line": item.line, "reference": item.reference, "error": item.error}
                    for item in report.refused],
    }, indent=2))
    return 0 if report.ok else 1


def _bank_statements(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.bank import (
        TRUTH_FILE,
        FundingProfile,
        generate_bank_statements,
        sandbox_batches,
    )
    from sage_paytrace_pipeline.sandbox.bank.statements import StatementFormatName
    from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox

    if not args.state.is_file():  # opening a missing state would create an empty sandbox
        raise ValueError(f"no PayTrace sandbox state at {args.state}; run `sandbox paytrace generate` first")
    batches = sandbox_batches(PayTraceSandbox(args.state))
    formats: tuple[StatementFormatName, ...] = ("bai2", "ofx") if args.format == "both" else (args.format,)
    truth = generate_bank_statements(batches, FundingProfile(discount_method=args.discount, seed=args.seed),
                                     args.out, formats=formats)
    print(json.dumps({"batches": len(batches), "entries": len(truth.entries), "files": truth.files,
                      "planted": {problem: [entry.bank_reference for entry in truth.planted(problem)]
                                  for problem in ("missing", "short")},
                      "truth": str(args.out / TRUTH_FILE)}, indent=2))
    return 0


# ---------------------------------------------------------------- paytrace


def _add_paytrace_commands(areas: argparse._SubParsersAction) -> None:
    paytrace = areas.add_parser("paytrace", help="PayTrace API (from PAYTRACE_* environment variables)")
    commands = paytrace.add_subparsers(dest="command")
    ping = commands.add_parser("ping", help="authenticate and call /v1/ping")
    ping.set_defaults(handler=_paytrace_ping)
    export = commands.add_parser("export", help="print the transactions of a date range as JSON lines")
    export.add_argument("--start", type=_iso_date, required=True)
    export.add_argument("--end", type=_iso_date, required=True)
    export.add_argument("--type", dest="transaction_type", help="SALE, REFUND, SETTLED, PENDING, DECLINED, ...")
    export.set_defaults(handler=_paytrace_export)
    batches = commands.add_parser("batches", help="print the settlement batches of a date range as JSON lines")
    batches.add_argument("--start", type=_iso_date, required=True)
    batches.add_argument("--end", type=_iso_date, required=True)
    batches.set_defaults(handler=_paytrace_batches)


def _client_from_environment():
    from sage_paytrace_pipeline.paytrace.settings import PayTraceConnection

    return PayTraceConnection.from_environment().client()


def _paytrace_ping(args: argparse.Namespace) -> int:
    with _client_from_environment() as client:
        client.export_batch()  # authenticates and makes one real call
        print("ok")
    return 0


def _paytrace_export(args: argparse.Namespace) -> int:
    with _client_from_environment() as client:
        for transaction in client.export_transactions(args.start, args.end, transaction_type=args.transaction_type):
            print(transaction.model_dump_json())
    return 0


def _paytrace_batches(args: argparse.Namespace) -> int:
    with _client_from_environment() as client:
        for batch in client.export_batches(args.start, args.end):
            print(batch.model_dump_json())
    return 0


# ---------------------------------------------------------------- operator links


def _add_link_command(areas: argparse._SubParsersAction) -> None:
    link = areas.add_parser("link", help="link PayTrace payers to Sage customers (resolves customer exceptions)")
    commands = link.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="link a PayTrace vault customer id to an active Sage customer "
                                          "(checked in SAGE100_DATABASE); the next run uses it")
    add.add_argument("vault_id", help="PayTrace vault customer id (see the exception's source ids)")
    add.add_argument("customer", help="Sage customer as DIVISION-CUSTOMERNO, e.g. 01-BAYV0067")
    add.add_argument("--replace", action="store_true", help="replace the vault id's link to another customer")
    add.set_defaults(handler=_add_link)
    remove = commands.add_parser("remove", help="remove a vault customer id's link; its payments are exceptions "
                                                "again until linked (receipts already in Sage stay)")
    remove.add_argument("vault_id", help="PayTrace vault customer id")
    remove.set_defaults(handler=_remove_link)
    show = commands.add_parser("list", help="the links in the config")
    show.set_defaults(handler=_list_links)
    _with_config_option(add, remove, show)


def _with_config_option(*commands: argparse.ArgumentParser) -> None:
    for command in commands:
        command.add_argument("--config", type=Path, default=None,
                             help="the YAML config (default $SAGE_PAYTRACE_CONFIG)")


def _config_path(args: argparse.Namespace) -> Path:
    path = args.config or os.environ.get("SAGE_PAYTRACE_CONFIG")
    if not path:
        raise ValueError("pass --config or set SAGE_PAYTRACE_CONFIG to the pipeline's YAML file")
    return Path(path)


def _sage_reader(config: PipelineConfig) -> Sage100Reader:
    """A reader of the configured Sage company (SAGE100_DATABASE), with the config's table names."""
    from sage_paytrace_pipeline.config import ConfigError, missing_environment
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader, is_odbc_connection_string
    from sage_paytrace_pipeline.sage100.schema import Sage100Schema

    database = os.environ.get("SAGE100_DATABASE", "")
    if not database:
        raise ConfigError(missing_environment(["SAGE100_DATABASE"]))
    schema = Sage100Schema(dict(config.sage.names))
    if is_odbc_connection_string(database):
        return Sage100Reader.for_odbc(database, schema=schema)
    if not Path(database).is_file():
        raise ConfigError(f"SAGE100_DATABASE: {database} is not a file (a demo company file, "
                          "or an ODBC connection string DSN=...;)")
    return Sage100Reader.for_sqlite(database, schema=schema)


def _add_link(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import load_config
    from sage_paytrace_pipeline.receivables.customer_links import link_payer

    path = _config_path(args)
    link = link_payer(path, _sage_reader(load_config(path)), args.vault_id, args.customer, replace=args.replace)
    was = f" (was {link.previous})" if link.previous else ""
    print(f"linked {link.vault_id} -> {link.customer} {link.name}{was}; "
          "its payments post when the day runs again (the daily close, or materialize the day in the UI)")
    return 0


def _remove_link(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import remove_customer_link

    removed = remove_customer_link(_config_path(args), args.vault_id)
    print(f"removed the link {args.vault_id.strip()} -> {removed}; its next payments are customer exceptions "
          "until linked again (receipts already in Sage stay)")
    return 0


def _list_links(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import load_config

    for vault_id, customer in sorted(load_config(_config_path(args)).customer_links.items()):
        print(f"{vault_id}\t{customer}")
    return 0


# ---------------------------------------------------------------- exceptions across days


def _add_exceptions_command(areas: argparse._SubParsersAction) -> None:
    exceptions = areas.add_parser("exceptions", help="the exceptions of every day in the warehouse")
    commands = exceptions.add_subparsers(dest="command", required=True)
    show = commands.add_parser(
        "list", help="each flow's exceptions as each day's latest run left them ($SAGE_PAYTRACE_WAREHOUSE, read-only)")
    show.add_argument("--open", action="store_true",
                      help="only what still needs someone: errors and warnings (info rows clear by themselves), "
                           "an exception reported on several days once, on its latest day")
    show.add_argument("--kind", default=None, help="only this kind, e.g. unknown_customer")
    show.add_argument("--since", type=_iso_date, default=None, help="only business days from this one (YYYY-MM-DD)")
    show.add_argument("--format", choices=FORMATS, default="table",
                      help="table (default), csv (safe to open in a spreadsheet) or json")
    show.set_defaults(handler=_list_exceptions)


def _list_exceptions(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import warehouse_file
    from sage_paytrace_pipeline.exception_list import list_exceptions, render

    rows = list_exceptions(warehouse_file(), open_only=args.open, kind=args.kind, since=args.since)
    sys.stdout.write(render(rows, args.format))
    return 0


# ---------------------------------------------------------------- dispute cases


def _add_dispute_commands(areas: argparse._SubParsersAction) -> None:
    disputes = areas.add_parser("disputes", help="chargeback cases from the processor's dispute reports")
    commands = disputes.add_subparsers(dest="command", required=True)
    show = commands.add_parser("list", help="each case with its merchant due date and what to send "
                                            "($SAGE_PAYTRACE_WAREHOUSE, read-only)")
    show.add_argument("--open", action="store_true", help="only cases not won, lost or accepted yet")
    show.add_argument("--due-within", type=int, default=None, metavar="N",
                      help="only cases whose merchant due date is at most N days away (overdue ones included)")
    show.add_argument("--today", type=_iso_date, default=None, help="count days from this date (default today)")
    show.add_argument("--format", choices=FORMATS, default="table",
                      help="table (default), csv (safe to open in a spreadsheet) or json")
    show.set_defaults(handler=_list_disputes)


def _list_disputes(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import warehouse_file
    from sage_paytrace_pipeline.dispute_list import list_cases, render

    rows = list_cases(warehouse_file(), today=args.today or date.today(), open_only=args.open,
                      due_within=args.due_within)
    sys.stdout.write(render(rows, args.format))
    return 0


# ---------------------------------------------------------------- processor receivable write-offs


def _add_settlement_commands(areas: argparse._SubParsersAction) -> None:
    settlement = areas.add_parser("settlement", help="decisions on what the processor receivable holds")
    commands = settlement.add_subparsers(dest="command", required=True)
    write_off = commands.add_parser(
        "write-off", help="record the decision to write off what the processor receivable holds for a batch "
                          "(checked in SAGE100_DATABASE); the next settlement run posts it once (PT-W<batch>-<id>)")
    write_off.add_argument("batch_number", type=int, help="the PayTrace batch (the deposit_variance / "
                                                          "deposit_missing exception names it)")
    write_off.add_argument("--account", required=True, help="the Sage account the loss goes to, e.g. 6160-00")
    write_off.add_argument("--reason", required=True, help="why (recorded with the decision, on the entry's line)")
    write_off.add_argument("--amount", default=None,
                           help="write off only this much, e.g. 12.50 (default: all the batch still holds)")
    write_off.add_argument("--by", default=None, help="who decides (default $USER)")
    write_off.set_defaults(handler=_write_off)
    cancel = commands.add_parser("cancel-write-off", help="cancel a decision the run has not posted (one it "
                                                          "refuses says so in its exception)")
    cancel.add_argument("decision_id", type=int)
    cancel.add_argument("--by", default=None, help="who cancels (default $USER)")
    cancel.set_defaults(handler=_cancel_write_off)
    show = commands.add_parser("write-offs", help="the write-off decisions in force")
    show.set_defaults(handler=_list_write_offs)
    _with_config_option(write_off, cancel, show)


@contextmanager
def _write_off_store() -> Iterator[WriteOffStore]:
    """The warehouse's write-off decisions (the file the settlement run reads), closed after use."""
    from sage_paytrace_pipeline.settlement.write_offs import WriteOffStore

    with _warehouse_connection() as connection:
        yield WriteOffStore(connection)


@contextmanager
def _warehouse_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse the pipeline uses (SAGE_PAYTRACE_WAREHOUSE), made if missing, closed after use."""
    import duckdb

    from sage_paytrace_pipeline.config import warehouse_file

    path = warehouse_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    try:
        yield connection
    finally:
        connection.close()


def _write_off(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import load_config
    from sage_paytrace_pipeline.domain.money import decimal_to_cents, format_cents, parse_money
    from sage_paytrace_pipeline.settlement.write_offs import record_write_off

    config = load_config(_config_path(args))
    amount = decimal_to_cents(parse_money(args.amount, field="--amount")) if args.amount is not None else None
    by = _operator(args.by)
    with _write_off_store() as store:
        done = record_write_off(store, config, _sage_reader(config), batch_number=args.batch_number,
                                account=args.account.strip(), reason=args.reason, by=by,
                                decided_on=_merchant_today(config), amount_cents=amount)
    amount_text, open_text = format_cents([done.amount_cents, done.open_cents])
    print(f"write-off #{done.decision_id} by {by}: {amount_text} of batch {done.batch_number}'s "
          f"{open_text} in the processor receivable to {args.account.strip()}; the next "
          f"settlement run posts it once (PT-W{done.batch_number}-{done.decision_id})")
    return 0


def _cancel_write_off(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.config import load_config
    from sage_paytrace_pipeline.settlement.write_offs import cancel_write_off

    config = load_config(_config_path(args))
    with _write_off_store() as store:
        cancel_write_off(store, config, _sage_reader(config), args.decision_id, by=_operator(args.by))
    print(f"write-off #{args.decision_id} cancelled; nothing of it is posted")
    return 0


def _list_write_offs(args: argparse.Namespace) -> int:
    import pandas as pd

    from sage_paytrace_pipeline.domain.money import format_cents

    with _write_off_store() as store:
        decisions = store.decisions()
    for row in decisions.itertuples(index=False):
        amount = "all open" if pd.isna(row.amount_cents) else format_cents([int(row.amount_cents)])[0]
        print("\t".join([f"#{row.decision_id}", f"batch {row.batch_number}", amount, row.account,
                         f"by {row.decided_by}", str(row.decided_on), row.reason]))
    return 0


# ---------------------------------------------------------------- refund requests


def _add_refund_commands(areas: argparse._SubParsersAction) -> None:
    refunds = areas.add_parser("refunds", help="card refunds asked from Sage (credit memos marked for the card)")
    commands = refunds.add_subparsers(dest="command", required=True)
    request = commands.add_parser("request", help="create the credit memo for a card refund of a PayTrace sale; "
                                                  "the next run approves (or waits for approval) and sends it")
    request.add_argument("--transaction", type=int, required=True, help="the PayTrace sale's transaction id")
    request.add_argument("--amount", required=True, help="amount to refund, e.g. 12.50")
    request.add_argument("--reason", required=True, help="why (stored on the memo and the request)")
    request.add_argument("--by", default=None, help="who asks (default $USER); they cannot approve it too")
    show = commands.add_parser("list", help="the refund requests and their state")
    show.add_argument("--state", default=None, help="only this state, e.g. awaiting_approval")
    approve = commands.add_parser("approve", help="approve a request awaiting approval (not your own)")
    approve.add_argument("request_id")
    approve.add_argument("--by", required=True, help="who approves")
    reject = commands.add_parser("reject", help="reject a request not sent yet; nothing goes to PayTrace")
    reject.add_argument("request_id")
    reject.add_argument("--reason", required=True)
    reject.add_argument("--by", default=None, help="who rejects (default $USER)")
    for command, handler in ((request, _request_refund), (show, _list_refunds), (approve, _approve_refund),
                             (reject, _reject_refund)):
        _with_config_option(command)
        command.set_defaults(handler=handler)


def _refund_config(args: argparse.Namespace) -> PipelineConfig:
    from sage_paytrace_pipeline.config import load_config

    config = load_config(_config_path(args))
    if config.refunds is None:
        raise ValueError("refunds are off in this config: add a `refunds:` section (README \"Refunds and voids\")")
    return config


@contextmanager
def _request_store() -> Iterator[RequestStore]:
    """The warehouse's request tables (the same file the pipeline uses), closed after use."""
    from sage_paytrace_pipeline.refunds.request_store import RequestStore

    with _warehouse_connection() as connection:
        yield RequestStore(connection)


def _operator(name: str | None) -> str:
    who = (name or os.environ.get("USER") or os.environ.get("USERNAME") or "").strip()
    if not who:
        raise ValueError("say who you are: --by NAME (or set USER)")
    return who


def _request_refund(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.domain.money import parse_money
    from sage_paytrace_pipeline.refunds.requests import request_refund
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader, is_odbc_connection_string
    from sage_paytrace_pipeline.sage100.schema import Sage100Schema
    from sage_paytrace_pipeline.sage100.writers import WriterTarget, open_writer

    config = _refund_config(args)
    database = os.environ.get("SAGE100_DATABASE", "")
    if not database:
        raise ValueError("set SAGE100_DATABASE to the Sage company (demo company file or ODBC connection string)")
    schema = Sage100Schema(dict(config.sage.names))

    def reader() -> Sage100Reader:
        if is_odbc_connection_string(database):
            return Sage100Reader.for_odbc(database, schema=schema)
        return Sage100Reader.for_sqlite(database, schema=schema)

    writer = open_writer(config.sage.writer, WriterTarget(
        database=database, schema=schema, posting=config.sage.posting,
        vi_folder=os.environ.get("SAGE100_VI_FOLDER", ""), reader=reader))
    with _request_store() as store:
        created = request_refund(reader(), writer, store, sale_transaction_id=args.transaction,
                                 amount=parse_money(args.amount, field="--amount"), reason=args.reason,
                                 requested_by=_operator(args.by), memo_date=_merchant_today(config))
    again = "" if created.created else " (made before: nothing new written)"
    print(f"credit memo {created.memo_no} on invoice {created.invoice_no}; request {created.request_id}{again}")
    return 0


def _merchant_today(config: PipelineConfig) -> date:
    from datetime import datetime

    return datetime.now(ZoneInfo(config.merchant.time_zone)).date()


def _list_refunds(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal

    with _request_store() as store:
        requests = store.all(args.state)
    for r in requests:
        print("\t".join([r.request_id, r.state, format_decimal(cents_to_decimal(r.amount_cents)),
                         f"sale {r.sale_transaction_id or '-'}", r.action or "-", f"by {r.requested_by or '-'}",
                         f"approved {r.approved_by or '-'}", r.error or r.reason]))
    return 0


def _approve_refund(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.refunds.requests import approve_request

    with _request_store() as store:
        request = approve_request(store, args.request_id, approver=args.by)
    print(f"{request.request_id} approved by {request.approved_by}; the next run sends it")
    return 0


def _reject_refund(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.refunds.requests import reject_request

    with _request_store() as store:
        request = reject_request(store, args.request_id, reason=args.reason, by=_operator(args.by))
    print(f"{request.request_id} rejected; nothing is sent to PayTrace")
    return 0


# ---------------------------------------------------------------- the operations console


def _add_console_commands(areas: argparse._SubParsersAction) -> None:
    console = areas.add_parser("console", help="the operations console (web): exceptions queue, approvals, audit")
    commands = console.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the console (config: SAGE_PAYTRACE_CONFIG's `console:` section)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8780)
    serve.set_defaults(handler=_serve_console)
    hashing = commands.add_parser("hash-password", help="read a password (twice, not echoed) and print the argon2 "
                                                        "hash to put in console.users.NAME.password_hash")
    hashing.set_defaults(handler=_hash_console_password)


def _serve_console(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.console.server import serve

    print(f"the operations console: http://{args.host}:{args.port}/")
    serve(args.host, args.port)
    return 0


def _hash_console_password(args: argparse.Namespace) -> int:
    import getpass

    from sage_paytrace_pipeline.console.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ; nothing printed")
    else:  # piped: the first line (for scripts; never a command-line argument, which `ps` would show)
        password = sys.stdin.readline().rstrip("\n")
    print(hash_password(password))
    return 0


# ---------------------------------------------------------------- demo


def _add_demo_command(areas: argparse._SubParsersAction) -> None:
    demo = areas.add_parser("demo", help="run the daily job end to end on the embedded sandboxes")
    demo.add_argument("--home", type=Path, default=Path(".sage_paytrace"), help="where the demo keeps its state")
    demo.add_argument("--days", type=int, default=30, help="days of activity to generate and process (default 30)")
    demo.add_argument("--json", action="store_true", help="print the full report as JSON instead of the summary")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                      help="Dagster's logs on the terminal, as they come, instead of a progress line (and the "
                           "logs in demo.log under --home)")
    demo.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    """The summary (or the JSON report) on stdout; meanwhile a progress line (on stderr with --json, so
    stdout stays JSON) and Dagster's logs in --home's demo.log, or today's full logs with --verbose."""
    from sage_paytrace_pipeline.demo import DEMO_LOG, ProgressPrinter, format_summary, run_demo

    if args.verbose:
        report = run_demo(args.home, days=args.days, seed=args.seed)
        print(json.dumps(report, indent=2, default=str) if args.json else format_summary(report))
        return 0 if report.get("success") else 1
    log_file = (args.home / DEMO_LOG).resolve()
    printer = ProgressPrinter(sys.stderr if args.json else sys.stdout)
    try:
        report = run_demo(args.home, days=args.days, seed=args.seed, log_file=log_file, progress=printer)
    finally:
        printer.close()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_summary(report))
        print(f"  Dagster's logs: {log_file}")
    return 0 if report.get("success") else 1


# ---------------------------------------------------------------- fault campaign


def _add_faults_command(areas: argparse._SubParsersAction) -> None:
    faults = areas.add_parser("faults", help="fault campaigns against the embedded sandboxes")
    commands = faults.add_subparsers(dest="command", required=True)
    campaign = commands.add_parser("campaign", help="run days through the pipeline while PayTrace, Sage and the "
                                                    "run workers fail; check Sage holds each payment exactly once")
    campaign.add_argument("--days", type=int, default=5, help="business days to generate and run (default 5)")
    campaign.add_argument("--seed", type=int, default=1)
    campaign.add_argument("--start", type=_iso_date, default=date(2026, 10, 5), help="first day (default 2026-10-05)")
    campaign.add_argument("--home", type=Path, default=Path(".sage_paytrace") / "faults",
                          help="state folder, emptied first (default .sage_paytrace/faults)")
    campaign.add_argument("--json", action="store_true", help="print the full report as JSON")
    campaign.set_defaults(handler=_run_fault_campaign)


def _run_fault_campaign(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.sandbox.reliability.campaign import (
        CampaignOptions,
        format_report,
        run_campaign,
    )

    if args.days < 1:
        raise ValueError("--days must be at least 1")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the campaign's control calls, every few seconds
    report = run_campaign(CampaignOptions(days=args.days, seed=args.seed, start=args.start, home=args.home))
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0 if report["ok"] else 1




# ---------------------------------------------------------------- anomalies


def _add_anomaly_commands(areas: argparse._SubParsersAction) -> None:
    anomalies = areas.add_parser("anomalies", help="anomaly rules over the stored PayTrace activity")
    commands = anomalies.add_subparsers(dest="command", required=True)
    backtest = commands.add_parser("backtest", help="replay the rules over stored days and print what each rule "
                                                    "would have flagged ($SAGE_PAYTRACE_WAREHOUSE, read-only)")
    backtest.add_argument("--start", type=_iso_date, required=True, help="first business day (YYYY-MM-DD)")
    backtest.add_argument("--end", type=_iso_date, required=True, help="last business day (YYYY-MM-DD)")
    backtest.add_argument("--shown", type=int, default=10, help="flags printed per rule (default 10)")
    _with_config_option(backtest)
    backtest.set_defaults(handler=_anomaly_backtest)

    suggestions = areas.add_parser("suggestions", help="decide on the ranked candidates of exceptions")
    choices = suggestions.add_subparsers(dest="command", required=True)
    for name, handler, text in (("accept", _accept_suggestion, "link the payer to the candidate customer (the next "
                                 "run posts the payment to it) and record the decision"),
                                ("reject", _reject_suggestion, "record that the candidate is wrong")):
        choice = choices.add_parser(name, help=text)
        choice.add_argument("exception_id", type=int, help="the exception's PayTrace transaction id")
        choice.add_argument("--candidate", type=int, default=1, help="the candidate's rank (default 1)")
        choice.add_argument("--by", default=None, help="who decides (default $USER)")
        _with_config_option(choice)
        choice.set_defaults(handler=handler)


def _anomaly_backtest(args: argparse.Namespace) -> int:
    import duckdb

    from sage_paytrace_pipeline.anomalies.backtest import backtest, report, stored_days
    from sage_paytrace_pipeline.config import load_config, warehouse_file

    if args.end < args.start:
        raise ValueError(f"--end {args.end} is before --start {args.start}")
    policy = load_config(_config_path(args)).anomaly_policy()
    path = warehouse_file()
    if not path.is_file():
        raise FileNotFoundError(f"SAGE_PAYTRACE_WAREHOUSE: {path} does not exist yet (no run has written it)")
    with duckdb.connect(str(path), read_only=True) as connection:
        days = stored_days(connection, args.start, args.end)
        flags = backtest(connection, args.start, args.end, policy)
    print(report(flags, args.start, args.end, len(days), policy, shown=args.shown))
    return 0


def _decide(args: argparse.Namespace, accepting: bool) -> int:
    import duckdb

    from sage_paytrace_pipeline.anomalies.decisions import accept, reject
    from sage_paytrace_pipeline.config import warehouse_file

    path = warehouse_file()
    if not path.is_file():
        raise FileNotFoundError(f"SAGE_PAYTRACE_WAREHOUSE: {path} does not exist yet (no run has written it)")
    by = args.by or os.environ.get("USER") or "unknown"
    now = datetime.now(UTC)
    config_path = _config_path(args)
    with duckdb.connect(str(path)) as connection:
        done = (accept(connection, config_path, args.exception_id, args.candidate, by=by, now=now,
                       choose_invoice=_invoice_chooser(config_path, path, by))
                if accepting else reject(connection, args.exception_id, args.candidate, by=by, now=now))
    print(done)
    return 0


def _invoice_chooser(config_path: Path, warehouse: Path, by: str):
    """Records an accepted invoice suggestion as the console's "apply to an invoice" does (the next
    run applies the payment there, once); None without a decisions store (no `console:` section)."""
    import sqlalchemy as sa

    from sage_paytrace_pipeline.config import console_database_url, load_config
    from sage_paytrace_pipeline.receivables.invoice_choices import InvoiceChoice, create_tables, insert_choice

    settings = load_config(config_path).console
    if settings is None:
        return None

    def choose(chosen) -> str:
        engine = sa.create_engine(console_database_url(settings, warehouse), future=True)
        try:
            create_tables(engine)
            with engine.begin() as connection:
                insert_choice(connection, InvoiceChoice(chosen.transaction_id, chosen.division, chosen.customer_no,
                                                        chosen.invoice_nos.strip(), by))
        finally:
            engine.dispose()
        return (f"applied transaction {chosen.transaction_id} to invoice {chosen.invoice_nos.strip()} of "
                f"{chosen.division}-{chosen.customer_no}; the next run of {chosen.business_date} posts it there")

    return choose


def _accept_suggestion(args: argparse.Namespace) -> int:
    return _decide(args, accepting=True)


def _reject_suggestion(args: argparse.Namespace) -> int:
    return _decide(args, accepting=False)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
