"""`sage-paytrace store ...`: the webhook receiver and the reconcile poll, from the config's `store` section."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sage_paytrace_pipeline.config import ConfigError, StoreSettings, load_config


def add_store_commands(areas: argparse._SubParsersAction) -> None:
    store = areas.add_parser("store", help="web-store orders: the webhook receiver and the reconcile poll")
    commands = store.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="receive signed WooCommerce/Shopify webhooks into the store inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    serve.add_argument("--config", type=Path, default=None, help="config file (default SAGE_PAYTRACE_CONFIG)")
    serve.set_defaults(handler=_serve)
    poll = commands.add_parser("poll", help="read orders modified since a time from the WooCommerce REST API")
    poll.add_argument("--since", required=True, help="ISO time, e.g. 2026-03-02T00:00:00Z")
    poll.add_argument("--config", type=Path, default=None)
    poll.set_defaults(handler=_poll)


def _settings(args: argparse.Namespace) -> tuple[StoreSettings, Path]:
    path = args.config or Path(os.environ.get("SAGE_PAYTRACE_CONFIG", "config/example.yaml"))
    config = load_config(path)
    if config.store is None:
        raise ConfigError(f"{path}: store: not configured; add a `store:` section to receive web-store orders")
    return config.store, path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sage_paytrace_pipeline.store.inbox import open_inbox
    from sage_paytrace_pipeline.store.receiver import create_receiver_app
    from sage_paytrace_pipeline.store.setup import inbox_url, webhook_secrets

    settings, path = _settings(args)
    secrets = webhook_secrets(settings)
    if not any(secrets.values()):
        raise ConfigError(f"no webhook secret: set {settings.woocommerce_secret_env} and/or "
                          f"{settings.shopify_secret_env}")
    app = create_receiver_app(open_inbox(inbox_url(settings, path)), secrets)
    print(f"store receiver on http://{args.host}:{args.port}/webhooks/{{woocommerce,shopify}}", flush=True)
    uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, access_log=False, lifespan="off")).run()
    return 0


def _poll(args: argparse.Namespace) -> int:
    from datetime import datetime

    from sage_paytrace_pipeline.store.inbox import open_inbox
    from sage_paytrace_pipeline.store.reconcile import poll_woocommerce, rest_credentials
    from sage_paytrace_pipeline.store.setup import inbox_url

    settings, path = _settings(args)
    if not settings.rest_url:
        raise ConfigError(f"{path}: store.rest_url: not configured; give the store's base URL to poll it")
    since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
    report = poll_woocommerce(open_inbox(inbox_url(settings, path)), settings.rest_url, since,
                              auth=rest_credentials(settings))
    print(f"polled {report.read} orders: {report.applied} new or newer, {report.unchanged} already known")
    return 0
