"""Materialization metadata shared by the assets: totals, counts by kind, previews.

Previews are Markdown (the UI renders them): tables for rows of short values, and a numbered list
for exceptions, whose problem and action are sentences a table would cut off.
"""

from __future__ import annotations

import re

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal

# Characters Markdown would read as formatting inside a sentence (`*_column`, `[FILTERED]`, `<tag>`).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|#])")
# How an exception's key reads in its list item ("transaction 1000", "batch 12")
_LABELS = {"transaction_id": "transaction", "batch_number": "batch"}


def money_total(cents: pd.Series) -> str:
    return format_decimal(cents_to_decimal(int(cents.sum()))) if len(cents) else "0.00"


def preview(frame: pd.DataFrame, columns: list[str], rows: int = 10) -> dg.MetadataValue:
    """A markdown table of the first rows (pipes in text escaped so the table holds)."""
    shown = frame[columns].head(rows).astype(str).apply(lambda column: column.str.replace("|", "\\|", regex=False))
    return dg.MetadataValue.md(_table(shown))


def markdown_text(value: object) -> str:
    """A value as literal Markdown text on one line: formatting characters escaped, line breaks joined."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(value).split()))


def exception_list(exceptions: pd.DataFrame, ids: list[str], rows: int = 10) -> dg.MetadataValue:
    """The first exceptions as a numbered Markdown list: kind, severity and the `ids` columns on the
    first line, then the whole problem and the whole action (the fix), each on its own line."""
    items = []
    for number, row in enumerate(exceptions.head(rows).to_dict("records"), 1):
        where = " · ".join(f"{_LABELS.get(name, name.replace('_', ' '))} {markdown_text(row[name])}" for name in ids
                           if name in row and pd.notna(row[name]) and str(row[name]) != "")
        severity = f" ({row['severity']})" if "severity" in row else ""
        kind = markdown_text(row.get("kind", "refused file"))
        items.append(f"{number}. **{kind}**{severity}{' · ' + where if where else ''}  \n"
                     f"   {markdown_text(row['problem'])}  \n"
                     f"   **Action:** {markdown_text(row['action'])}\n")
    if not items:
        return dg.MetadataValue.md("No exceptions.")
    more = len(exceptions) - len(items)
    return dg.MetadataValue.md("".join(items) + (f"\n... and {more} more in the asset's table.\n" if more > 0 else ""))


def exception_metadata(exceptions: pd.DataFrame) -> dict:
    return {
        "exceptions": len(exceptions),
        "errors": int((exceptions["severity"] == "error").sum()),
        "by_kind": dg.MetadataValue.json(exceptions["kind"].value_counts().sort_index().to_dict()),
        "preview": exception_list(exceptions, ["transaction_id"]),
    }


def _money_cells(cents: pd.Series) -> list[str]:
    """Each amount as 1,234.56 ("" where there is none, e.g. no deposit yet)."""
    return ["" if pd.isna(value) else f"{cents_to_decimal(int(value)):,}" for value in cents]


def batch_preview(reconciliation: pd.DataFrame, rows: int = 20) -> dg.MetadataValue:
    """Per expected deposit (batch x funding group): brands, batch gross, expected deposit, deposited,
    fee, variance, status and the bank file and line that funded it, as a Markdown table."""
    frame = reconciliation.head(rows)

    def column(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)

    bank_line = [f"{file}:{int(line)}" if pd.notna(file) and file and pd.notna(line) else ""
                 for file, line in zip(column("source_file"), column("source_line"))]
    table = pd.DataFrame({
        "batch": column("batch_number").astype(str).tolist(),
        "brand": [markdown_text(brands) if pd.notna(brands) and brands else markdown_text(group)
                  for brands, group in zip(column("brands"), column("funding_group"))],
        "batch gross": _money_cells(column("gross_cents")),
        "expected": _money_cells(column("expected_cents")),
        "deposited": _money_cells(column("deposit_cents")),
        "fee": _money_cells(column("fee_cents")),
        "variance": _money_cells(column("variance_cents")),
        "status": column("deposit_status").fillna("").astype(str).tolist(),
        "bank file:line": [markdown_text(text) for text in bank_line],
    })
    if table.empty:
        return dg.MetadataValue.md("No batches.")
    more = len(reconciliation) - len(frame)
    return dg.MetadataValue.md(_table(table) + (f"\n... and {more} more in the asset's table.\n" if more > 0 else ""))


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return header + "".join("| " + " | ".join(values) + " |\n" for values in frame.astype(str).itertuples(index=False))
