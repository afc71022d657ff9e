"""The one shape every statement format is read into: a row per bank transaction, amounts in cents."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.domain.free_text import storable_text
from sage_paytrace_pipeline.domain.money import MAX_MONEY, cents_to_decimal, decimal_to_cents

_MAX_CENTS = decimal_to_cents(MAX_MONEY)

BANK_TRANSACTION_COLUMNS = {
    "source_file": "string",
    "source_line": "int64",
    "account_id": "string",
    "posted_date": "object",  # datetime.date: the bank's business date, no time or zone
    "amount_cents": "int64",  # credits positive, debits negative
    "type_code": "string",
    "bank_reference": "string",
    "description": "string",
    "currency": "string",
}


def check_currency(code: str) -> bool:
    """An ISO 4217 code (the list ofxtools validates OFX against, so all formats agree)."""
    # ofxtools is imported on first use: importing it costs seconds, and the config (which every run and
    # the code location load) imports this module
    from ofxtools.models.i18n import CURRENCY_CODES

    return code in CURRENCY_CODES


def statement_row(path: Path, line: int, *, account_id: str, posted_date: date, amount_cents: int, type_code: str,
                  bank_reference: str, description: str, currency: str) -> dict:
    if abs(amount_cents) > _MAX_CENTS:
        raise StatementError(path, line, f"amount {cents_to_decimal(amount_cents):,} is larger than {MAX_MONEY:,}, "
                             "the most a Sage 100 amount holds",
                             "check the file with the bank; a statement line this large is not a card deposit")
    return {
        "source_file": path.name,
        "source_line": line,
        "account_id": account_id,
        "posted_date": posted_date,
        "amount_cents": amount_cents,
        "type_code": type_code,
        "bank_reference": bank_reference,
        # One line of single spaces (BAI2 continuations and quoted CSV fields break lines), then any
        # free text typed by payers and processors: bidi and control characters go, card numbers masked
        "description": storable_text(description),
        "currency": currency,
    }


def transactions_frame(rows: list[dict]) -> pd.DataFrame:
    """Typed frame in file order; an empty statement still has every column."""
    frame = pd.DataFrame(rows, columns=list(BANK_TRANSACTION_COLUMNS))
    return frame.astype({name: dtype for name, dtype in BANK_TRANSACTION_COLUMNS.items() if dtype != "object"})
