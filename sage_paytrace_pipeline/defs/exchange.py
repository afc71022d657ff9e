"""The exchange rates a run converts with (currency.rates_file), read once per step, and each
sale's receipt as the receivables posting log recorded it (its rate and both amounts).

A file that cannot be used (missing, a bad row) is not a crash: every conversion it should have
given waits, each as an exception naming the file, the line and the fix (domain/currency.py).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig, rates_file
from sage_paytrace_pipeline.domain.currency import (
    FX_RATE,
    PAYTRACE_AMOUNT,
    RateFileError,
    RateTable,
    SaleExchange,
    exchange_of_log,
    parse_rates,
)
from sage_paytrace_pipeline.receivables.posting_log import TABLE as POSTING_LOG
from sage_paytrace_pipeline.receivables.posting_log import PostingLog


def exchange_rates(config: PipelineConfig, config_path: str) -> RateTable | None:
    """The configured rates, or None when PayTrace and Sage share a currency (nothing converts)."""
    path = rates_file(config, config_path)
    if path is None:
        return None
    age = config.currency.max_rate_age_days
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return RateTable.unusable(f"{path}: file not found (currency.rates_file)", age, str(path))
    except (OSError, UnicodeDecodeError) as error:
        return RateTable.unusable(f"{path}: cannot be read ({error})", age, str(path))
    try:
        return RateTable.from_rows(parse_rates(text, str(path)), age, str(path))
    except RateFileError as error:
        return RateTable.unusable(str(error), age, str(path))


def receipt_exchange(connection: duckdb.DuckDBPyConnection, run_id: str
                     ) -> Callable[[list[int]], dict[int, SaleExchange]]:
    """Sale id -> its confirmed receipt as the receivables posting log recorded it: the rate (None when
    it was posted before the conversion and recorded none) and both amounts. A sale whose receipt Sage
    does not hold (yet) is absent."""
    PostingLog(connection, run_id)  # the table exists, even before the first receipt

    def exchange_of(sale_ids: list[int]) -> dict[int, SaleExchange]:
        # a plain parameter, not a registered frame: the step's connection holds other registrations
        logged = connection.execute(f"SELECT transaction_id, amount_cents, applications_json FROM {POSTING_LOG} "
                                    "WHERE state = 'confirmed' AND transaction_id IN (SELECT unnest(?::BIGINT[]))",
                                    [[int(sale) for sale in sale_ids]]).df()
        recorded = exchange_of_log(logged["applications_json"])
        found = {}
        for sale, sage_cents, paytrace, rate in zip(logged["transaction_id"], logged["amount_cents"],
                                                    recorded[PAYTRACE_AMOUNT], recorded[FX_RATE], strict=True):
            usable = bool(rate) and "/" not in rate and not pd.isna(paytrace)
            found[int(sale)] = SaleExchange(Decimal(rate) if usable else None, int(sage_cents),
                                            int(paytrace) if usable else int(sage_cents))
        return found

    return exchange_of
