"""The card processor's monthly fee statement (CSV): what a monthly-discount merchant was charged.

Under monthly discount (reference card-accounting §3.1) the full batch is deposited and the month's
fees are debited in one lump early the next month; the processor's statement says what that lump
is made of (per brand: discount fees, item fees, credits). One file is one month: every row must
name the same month. Amounts are positive for a fee charged, negative for a credit.

Malformed input raises `StatementError` naming the file, the line and the fix; nothing partial is
returned.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sage_paytrace_pipeline.banking.csv_format import csv_records, decode_text, parse_amount_cents
from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text

# The layout's key in the config YAML, named in the fixes.
SETTING = "bank.fee_statement_csv"

FEE_STATEMENT_COLUMNS = {
    "source_file": "string",
    "source_line": "int64",
    "month": "object",  # datetime.date, first of the month
    "brand": "string",  # "" when the statement has no brand column or the cell is empty
    "description": "string",
    "amount_cents": "int64",  # positive: fee charged; negative: credit
}


class FeeStatementFormat(BaseModel):
    """Where the processor's fee statement CSV keeps each field (defaults: the sandbox's layout)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month_column: str = "Month"
    # strptime formats tried in order; the day, when given, is ignored (the month is what counts).
    month_formats: tuple[str, ...] = ("%Y-%m", "%Y-%m-%d", "%m/%Y", "%m/%d/%Y")
    description_column: str = "Description"
    amount_column: str = "Amount"
    brand_column: str | None = "Card Brand"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"

    @property
    def required_columns(self) -> list[str]:
        columns = [self.month_column, self.description_column, self.amount_column, self.brand_column]
        return [column for column in columns if column is not None]


@dataclass(frozen=True, eq=False)
class FeeStatement:
    path: Path
    sha256: str  # of the file's bytes
    month: date  # first of the month the fees are for
    lines: pd.DataFrame  # FEE_STATEMENT_COLUMNS, in file order
    total_cents: int  # what the processor debits for the month (negative: it credits)


def read_fee_statement(path: str | Path, fmt: FeeStatementFormat | None = None) -> FeeStatement:
    path = Path(path)
    return parse_fee_statement(path, path.read_bytes(), fmt or FeeStatementFormat())


def parse_fee_statement(path: Path, data: bytes, fmt: FeeStatementFormat) -> FeeStatement:
    text = decode_text(path, data, fmt.encoding, f"{SETTING}.encoding")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise StatementError(path, 1, "the file is empty", "export the processor's monthly fee statement as CSV "
                             "with a header row") from None
    except csv.Error as error:
        raise StatementError(path, 1, f"unreadable CSV header: {error}",
                             f"check {SETTING}.delimiter in the config and the file's quoting") from None
    missing = [column for column in fmt.required_columns if column not in header]
    if missing:
        raise StatementError(path, 1, f"column(s) {', '.join(map(repr, missing))} not in the header "
                             f"(found: {', '.join(header)})",
                             f"set the {SETTING} *_column keys in the config to the header's names")
    rows: list[dict] = []
    for line, record in csv_records(path, reader, header, delimiter=fmt.delimiter, setting=SETTING):
        row = _row(path, line, record, fmt)
        if rows and row["month"] != rows[0]["month"]:
            raise StatementError(path, line, f"month {row['month']:%Y-%m} differs from the file's first row "
                                 f"({rows[0]['month']:%Y-%m})", "one fee statement file per month: split the file")
        rows.append(row)
    if not rows:
        raise StatementError(path, reader.line_num, "no fee lines (only a header)",
                             "export the month's statement with its fee lines")
    frame = pd.DataFrame(rows, columns=list(FEE_STATEMENT_COLUMNS))
    frame = frame.astype({name: dtype for name, dtype in FEE_STATEMENT_COLUMNS.items() if dtype != "object"})
    return FeeStatement(path=path, sha256=hashlib.sha256(data).hexdigest(), month=rows[0]["month"],
                        lines=frame, total_cents=int(frame["amount_cents"].sum()))


def empty_fee_lines() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in FEE_STATEMENT_COLUMNS.items()})


def _row(path: Path, line: int, record: dict[str, str], fmt: FeeStatementFormat) -> dict:
    amount_text = record[fmt.amount_column]
    if not amount_text:
        raise StatementError(path, line, f"no amount in column {fmt.amount_column!r}", "fill in the amount")
    try:
        cents = parse_amount_cents(amount_text)
    except ValueError as error:
        raise StatementError(path, line, f"column {fmt.amount_column!r}: {error}", "correct the amount") from None
    description = mask_card_numbers_in_text(" ".join(record[fmt.description_column].split())) or ""
    brand = " ".join(record[fmt.brand_column].split()).upper() if fmt.brand_column else ""
    return {"source_file": path.name, "source_line": line, "month": _month(path, line, record[fmt.month_column], fmt),
            "brand": mask_card_numbers_in_text(brand) or "", "description": description, "amount_cents": cents}


def _month(path: Path, line: int, value: str, fmt: FeeStatementFormat) -> date:
    for pattern in fmt.month_formats:
        try:
            return datetime.strptime(value, pattern).date().replace(day=1)
        except ValueError:
            continue
    raise StatementError(path, line, f"month {value!r} in column {fmt.month_column!r} matches none of "
                         f"{', '.join(fmt.month_formats)}",
                         f"correct the month, or set {SETTING}.month_formats in the config")


__all__ = ["FEE_STATEMENT_COLUMNS", "FeeStatement", "FeeStatementFormat", "empty_fee_lines", "parse_fee_statement",
           "read_fee_statement"]
