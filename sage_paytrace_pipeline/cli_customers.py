"""`sage-paytrace customers ...`: the customer sync from the command line.

  customers sync [--dry-run]          plan (and, without --dry-run, carry out) one sync
  customers link VAULT_ID 01-CUSTNO   the same as `link add`: the operator's link, used first
  customers unlink VAULT_ID           remove the operator's link and the sync's stored link
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_customers_command(areas: argparse._SubParsersAction) -> None:
    customers = areas.add_parser("customers", help="PayTrace vault profiles and Sage customers kept in sync")
    commands = customers.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="one sync; --dry-run prints the plan and writes nothing")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sync.set_defaults(handler=_sync)
    link = commands.add_parser("link", help="link a vault profile to a Sage customer (as `link add`)")
    link.add_argument("vault_id", help="PayTrace vault customer id")
    link.add_argument("customer", help="Sage customer as DIVISION-CUSTOMERNO, e.g. 01-BAYV0067")
    link.add_argument("--replace", action="store_true", help="replace the vault id's link to another customer")
    link.set_defaults(handler=_link)
    unlink = commands.add_parser("unlink", help="remove a vault profile's links (operator's and the sync's)")
    unlink.add_argument("vault_id", help="PayTrace vault customer id")
    unlink.set_defaults(handler=_unlink)
    for command in (sync, link, unlink):
        command.add_argument("--config", type=Path, default=None,
                             help="the YAML config (default $SAGE_PAYTRACE_CONFIG)")


def _sync(args: argparse.Namespace) -> int:
    import duckdb

    from sage_paytrace_pipeline.cli import _client_from_environment, _config_path, _sage_reader
    from sage_paytrace_pipeline.config import ConfigError, load_config, warehouse_file
    from sage_paytrace_pipeline.customers.report import render_plan
    from sage_paytrace_pipeline.customers.snapshot import read_inputs
    from sage_paytrace_pipeline.customers.state_store import SyncStateStore
    from sage_paytrace_pipeline.customers.sync import sync_customers, sync_policy
    from sage_paytrace_pipeline.sage100.schema import Sage100Schema
    from sage_paytrace_pipeline.sage100.writers import WriterTarget, open_writer

    config = load_config(_config_path(args))
    if config.customers.sync is None:
        raise ConfigError("customers.sync is not configured: add `sync: {}` under `customers:` to turn the "
                          "customer sync on (see config/example.yaml)")
    reader = _sage_reader(config)
    path = warehouse_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _client_from_environment() as client, duckdb.connect(str(path)) as connection:
        writer = None
        if not args.dry_run:
            writer = open_writer(config.sage.writer, WriterTarget(
                database=os.environ["SAGE100_DATABASE"], schema=Sage100Schema(dict(config.sage.names)),
                posting=config.sage.posting, vi_folder=os.environ.get("SAGE100_VI_FOLDER", ""),
                reader=lambda: reader))
        today = client.server_today()
        outcome = sync_customers(read=lambda: read_inputs(client, reader, config.customer_links, today),
                                 store=SyncStateStore(connection), policy=sync_policy(config), writer=writer,
                                 client=client, terms_code=config.customers.terms_code, dry_run=args.dry_run)
    sys.stdout.write(render_plan(outcome.plan, written=None if args.dry_run else outcome.written))
    return 0


def _link(args: argparse.Namespace) -> int:
    from sage_paytrace_pipeline.cli import _add_link

    return _add_link(args)


def _unlink(args: argparse.Namespace) -> int:
    import duckdb

    from sage_paytrace_pipeline.cli import _config_path
    from sage_paytrace_pipeline.config import load_config, remove_customer_link, warehouse_file
    from sage_paytrace_pipeline.customers.state_store import SyncStateStore

    vault_id = args.vault_id.strip()
    said = []
    if vault_id in load_config(_config_path(args)).customer_links:
        said.append(f"the operator's link to {remove_customer_link(_config_path(args), vault_id)}")
    path = warehouse_file()
    if path.is_file():
        with duckdb.connect(str(path)) as connection:
            store = SyncStateStore(connection)
            links = store.load().links
            stored = links[links["vault_id"] == vault_id]
            if len(stored):
                store.save_links(links[links["vault_id"] != vault_id])
                said.append(f"the sync's link to {stored['division'].iloc[0]}-{stored['customer_no'].iloc[0]}")
    if not said:
        raise ValueError(f"{vault_id} has no link (nothing changed)")
    print(f"removed {' and '.join(said)} of {vault_id}; the next sync links it again by its card, e-mail + ZIP "
          "or name, or lists it as an exception")
    return 0
