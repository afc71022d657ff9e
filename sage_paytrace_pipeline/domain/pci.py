"""Scrubbing of card data and secrets from payloads, log lines and exception text.

One place decides what is sensitive, so the client, the sandbox, the CLI and the logs agree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text

FILTERED = "[FILTERED]"

# Keys whose values are secret wherever they appear.
SECRET_KEYS = frozenset(
    {
        "password",
        "csc",
        "cvv",
        "cvv2",
        "access_token",
        "refresh_token",
        "client_secret",
        "encrypted_number",
        "encrypted_csc",
        "hpf_token",
        "enc_key",
        "track_data",
        "swipe",
        "account_number",
        "authorization",
        "direct_deposit_account",
        # ODBC connection strings (SAGE100_DATABASE: "DSN=...;UID=...;PWD=...") and webhook signatures.
        "pwd",
        "sig",
    }
)
# `number` is a card number only inside these objects (a batch `number` is not a secret).
_CARD_CONTAINERS = frozenset({"credit_card", "card", "check"})

_TEXT_PATTERNS = (
    # Authorization: Bearer <token>  /  bearer <token>
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/:=-]+"), r"\1" + FILTERED),
    # Authorization: Basic <base64 user:password>
    (re.compile(r"(?i)(authorization\s*[:=]\s*basic\s+)[A-Za-z0-9+/=]+"), r"\1" + FILTERED),
    # JSON-ish "key": "value" for secret keys
    (
        re.compile(r'(?i)("(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"'),
        r'\1"' + FILTERED + '"',
    ),
    # form / query / ODBC style key=value
    (re.compile(r"(?i)\b((?:" + "|".join(sorted(SECRET_KEYS)) + r")=)[^&;\s]+"), r"\1" + FILTERED),
    # YAML / log style `password: hunter2` (quoted values and bearer headers are handled above)
    (
        re.compile(r"(?i)\b((?:" + "|".join(sorted(SECRET_KEYS)) + r")\s*:\s*)"
                   r"(?!\[FILTERED\]|(?:bearer|basic)\s)[^\s,;'\"]+"),
        r"\1" + FILTERED,
    ),
    # credentials inside URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@"), r"\1" + FILTERED + "@"),
    # Python repr style 'key': 'value'
    (
        re.compile(r"(?i)('(?:" + "|".join(sorted(SECRET_KEYS)) + r")'\s*:\s*)'(?:[^'\\]|\\.)*'"),
        r"\1'" + FILTERED + "'",
    ),
)


def scrub_text(text: str) -> str:
    """Mask card numbers and hide tokens, passwords and CSCs in any string."""
    if not text:
        return text
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return mask_card_numbers_in_text(text) or ""


def scrub_payload(value: Any, *, _parent: str | None = None) -> Any:
    """A deep copy of a JSON-like payload with secrets replaced and card numbers masked."""
    if isinstance(value, Mapping):
        cleaned = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in SECRET_KEYS or (lowered == "number" and _parent in _CARD_CONTAINERS):
                cleaned[key] = FILTERED
            else:
                cleaned[key] = scrub_payload(item, _parent=lowered)
        return cleaned
    if isinstance(value, (list, tuple)):
        return [scrub_payload(item, _parent=_parent) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


class ScrubbingLogFilter(logging.Filter):
    """A logging filter that renders each record and scrubs it before any handler sees it.

    Attach it to handlers (or loggers) that may see PayTrace traffic, exceptions included.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not hide the record
            message = str(record.msg)
        record.msg = scrub_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
