"""The exchange rates a run converts with (currency.rates_file), read once per step.

A file that cannot be used (missing, a bad row) is not a crash: every conversion it should have
given waits, each as an exception naming the file, the line and the fix (domain/currency.py).
"""

from __future__ import annotations

from sage_paytrace_pipeline.config import PipelineConfig, rates_file
from sage_paytrace_pipeline.domain.currency import RateFileError, RateTable, parse_rates


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
