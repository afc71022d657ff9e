"""What the store flow needs from the config file and the environment: the inbox URL and the secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sage_paytrace_pipeline.config import StoreSettings
from sage_paytrace_pipeline.store.inbox import sqlite_url


def inbox_url(settings: StoreSettings, config_path: str | os.PathLike | None,
              environ: Mapping[str, str] | None = None) -> str:
    """PostgreSQL (or any SQLAlchemy URL) from `settings.inbox_url_env`, else the SQLite inbox file."""
    environ = os.environ if environ is None else environ
    url = environ.get(settings.inbox_url_env, "").strip()
    if url:
        return url
    path = Path(settings.inbox_file).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = Path(config_path).resolve().parent / path
    return sqlite_url(str(path))


def webhook_secrets(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """platform -> accepted secrets (comma-separated in the variable while a secret is rotated)."""
    environ = os.environ if environ is None else environ
    variables = {"woocommerce": settings.woocommerce_secret_env, "shopify": settings.shopify_secret_env}
    return {platform: [part.strip() for part in environ.get(name, "").split(",") if part.strip()]
            for platform, name in variables.items()}
