"""`sage-paytrace console serve`: the console on the pipeline's config, warehouse and Sage company.

The YAML's `console:` section names the users; the environment gives the secrets and connections:
the session signing key (console.secret_key_env), the decisions store's URL (console.database_url_env,
default a SQLite file beside the warehouse), SAGE_PAYTRACE_CONFIG, SAGE_PAYTRACE_WAREHOUSE and
SAGE100_DATABASE (read only: to check and suggest the customers a payer is linked to).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.applications import Starlette

from sage_paytrace_pipeline.config import ConfigError, console_database_url, load_config, warehouse_file
from sage_paytrace_pipeline.console.actions import Actions
from sage_paytrace_pipeline.console.app import Console, create_app
from sage_paytrace_pipeline.console.store import ConsoleStore
from sage_paytrace_pipeline.sage100.reader import Sage100Reader, is_odbc_connection_string
from sage_paytrace_pipeline.sage100.schema import Sage100Schema


def app_from_environment(environ: Mapping[str, str] | None = None) -> Starlette:
    environ = os.environ if environ is None else environ
    config_path = environ.get("SAGE_PAYTRACE_CONFIG", "")
    if not config_path:
        raise ConfigError("set SAGE_PAYTRACE_CONFIG to the pipeline's YAML file (its `console:` section names "
                          "the users)")
    config = load_config(config_path)
    if config.console is None:
        raise ConfigError(f"{config_path}: no `console:` section: add one with its users (README \"The operations "
                          "console\")")
    settings = config.console
    secret = environ.get(settings.secret_key_env, "")
    if len(secret) < 32:
        raise ConfigError(f"set {settings.secret_key_env} to a random key of 32 characters or more (it signs the "
                          "session cookies), e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    warehouse = Path(environ.get("SAGE_PAYTRACE_WAREHOUSE") or warehouse_file())
    database_url = console_database_url(settings, warehouse, environ)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    store = ConsoleStore(database_url)
    zone = ZoneInfo(config.merchant.time_zone)
    reader = sage_reader_factory(environ.get("SAGE100_DATABASE", ""), dict(config.sage.names))
    console = Console(settings=settings, store=store, warehouse=warehouse,
                      actions=Actions(store, warehouse, Path(config_path), reader),
                      today=lambda: datetime.now(zone).date(), card_clearing=config.gl_accounts.card_clearing)
    return create_app(console, secret_key=secret)


def sage_reader_factory(database: str, names: dict[str, str]) -> Callable[[], Sage100Reader] | None:
    """A reader of the Sage company (None when SAGE100_DATABASE is not set: links cannot be checked)."""
    if not database:
        return None
    schema = Sage100Schema(names)
    if is_odbc_connection_string(database):
        return lambda: Sage100Reader.for_odbc(database, schema=schema)
    if not Path(database).is_file():
        raise ConfigError(f"SAGE100_DATABASE: {database} is not a file (a demo company file, or an ODBC connection "
                          "string DSN=...;)")
    return lambda: Sage100Reader.for_sqlite(database, schema=schema)


def serve(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app_from_environment(), host=host, port=port, proxy_headers=False, server_header=False,
                log_level="info")
