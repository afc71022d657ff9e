"""Materialization metadata shared by the receivables assets: totals, counts by kind, previews."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal


def money_total(cents: pd.Series) -> str:
    return format_decimal(cents_to_decimal(int(cents.sum()))) if len(cents) else "0.00"


def preview(frame: pd.DataFrame, columns: list[str], rows: int = 10) -> dg.MetadataValue:
    """A markdown table of the first rows (pipes in text escaped so the table holds)."""
    shown = frame[columns].head(rows).astype(str).apply(lambda column: column.str.replace("|", "\\|", regex=False))
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(values) + " |\n" for values in shown.itertuples(index=False))
    return dg.MetadataValue.md(header + body)


def exception_metadata(exceptions: pd.DataFrame) -> dict:
    return {
        "exceptions": len(exceptions),
        "errors": int((exceptions["severity"] == "error").sum()),
        "by_kind": dg.MetadataValue.json(exceptions["kind"].value_counts().sort_index().to_dict()),
        "preview": preview(exceptions, ["kind", "severity", "transaction_id", "problem", "action"]),
    }
