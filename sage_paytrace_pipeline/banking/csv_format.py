"""CSV bank exports: every bank names its columns differently, so the layout is configuration."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.rows import check_currency, statement_row
from sage_paytrace_pipeline.domain.money import parse_amount_cents

# Optional sign, optional $, digits with correct thousands grouping (so a European "12,34" is refused,
# not read as 1234), at most two decimals. Parentheses (accounting negatives) are removed first.
# Where the layout lives in the config YAML: every fix text names the keys an operator sets there.
SETTING = "bank.csv"



class CsvFormat(BaseModel):
    """Where a bank's CSV keeps each field. Amounts: one signed column, or credit + debit columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_column: str
    date_format: str = "%Y-%m-%d"
    amount_column: str | None = None
    credit_column: str | None = None
    debit_column: str | None = None
    description_column: str
    reference_column: str | None = None
    type_column: str | None = None
    account_id: str | None = None
    account_column: str | None = None
    currency: str = "USD"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    skip_rows: int = Field(default=0, ge=0)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if not check_currency(value):
            raise ValueError(f"currency {value!r} is not an ISO 4217 code like USD")
        return value

    @model_validator(mode="after")
    def _complete(self) -> CsvFormat:
        single = self.amount_column is not None
        pair = self.credit_column is not None and self.debit_column is not None
        if single == pair or (single and (self.credit_column or self.debit_column)):
            raise ValueError("give either amount_column, or both credit_column and debit_column")
        if not (self.account_id or self.account_column):
            raise ValueError("give account_id (the account every row belongs to) or account_column")
        return self

    @property
    def required_columns(self) -> list[str]:
        columns = [self.date_column, self.amount_column, self.credit_column, self.debit_column,
                   self.description_column, self.reference_column, self.type_column, self.account_column]
        return [column for column in columns if column is not None]


def parse_csv(path: Path, data: bytes, layout: CsvFormat) -> list[dict]:
    text = decode_text(path, data, layout.encoding)
    skipped = layout.skip_rows
    stream = io.StringIO(text, newline="")
    for _ in range(skipped):  # physical lines above the header (bank name, account, period)
        stream.readline()
    reader = csv.reader(stream, delimiter=layout.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise StatementError(path, skipped + 1, "no header row (the file is empty after the skipped rows)",
                             f"check {SETTING}.skip_rows in the config and that this is the bank's CSV "
                             "export") from None
    except csv.Error as error:
        raise StatementError(path, skipped + 1, f"unreadable CSV header: {error}",
                             f"check {SETTING}.delimiter in the config and the file's quoting") from None
    header = [name.strip() for name in header]
    missing = [column for column in layout.required_columns if column not in header]
    if missing:
        raise StatementError(path, skipped + 1, f"column(s) {', '.join(map(repr, missing))} not in the header "
                             f"(found: {', '.join(header)})", f"set the {SETTING} *_column keys in the config to the "
                             f"header's names, or {SETTING}.skip_rows to the number of lines above the header")
    return [_row(path, line, record, layout)
            for line, record in csv_records(path, reader, header, delimiter=layout.delimiter, lines_above=skipped,
                                            setting=SETTING)]


def csv_records(path: Path, reader, header: list[str], *, delimiter: str, setting: str,
                lines_above: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
    """(file line, stripped fields by header name) of each non-blank row after the header; `setting`
    is the config key of the layout, named in the fixes.

    Lines are counted in the file (`lines_above` skipped before the header), so a quoted field
    spanning lines still points the error at the row's first line.
    """
    last_line = lines_above + reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise StatementError(path, last_line + 1, f"unreadable CSV row: {error}",
                                 "fix the quoting of this row") from None
        line, last_line = last_line + 1, lines_above + reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(header):
            raise StatementError(path, line, f"row has {len(fields)} fields, the header has {len(header)}",
                                 f"check {setting}.delimiter ({delimiter!r}) in the config and that fields "
                                 "holding it are quoted")
        yield line, dict(zip(header, (field.strip() for field in fields)))


def decode_text(path: Path, data: bytes, encoding: str, setting: str = f"{SETTING}.encoding") -> str:
    """The file's text; a wrong encoding names the byte's line and the `setting` that fixes it."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise StatementError(path, line, f"byte {data[error.start]:#04x} is not valid {encoding}",
                             f"set {setting} in the config to the file's encoding (e.g. cp1252)") from None
    except LookupError:
        raise StatementError(path, 1, f"unknown encoding {encoding!r}",
                             f"set {setting} in the config to e.g. utf-8-sig") from None


def _row(path: Path, line: int, record: dict[str, str], layout: CsvFormat) -> dict:
    def amount(column: str, *, required: bool) -> int:
        value = record[column]
        if not value:
            if required:
                raise StatementError(path, line, f"no amount in column {column!r}", "fill in the amount")
            return 0
        try:
            return parse_amount_cents(value)
        except ValueError as error:
            raise StatementError(path, line, f"column {column!r}: {error}", "correct the amount") from None

    if layout.amount_column:
        cents = amount(layout.amount_column, required=True)
    else:
        assert layout.credit_column is not None and layout.debit_column is not None  # CsvFormat._complete
        # Debit columns hold the size of the debit; some banks also sign it, so the sign is ignored.
        credit = abs(amount(layout.credit_column, required=False))
        debit = abs(amount(layout.debit_column, required=False))
        if not record[layout.credit_column] and not record[layout.debit_column]:
            raise StatementError(path, line, f"neither {layout.credit_column!r} nor {layout.debit_column!r} "
                                 "has an amount", "fill in the credit or the debit")
        cents = credit - debit
    account = (record[layout.account_column] if layout.account_column else "") or layout.account_id
    if not account:
        raise StatementError(path, line, f"no account in column {layout.account_column!r}",
                             f"fill in the account, or set {SETTING}.account_id in the config for rows without one")
    return statement_row(
        path, line,
        account_id=account,
        posted_date=_date(path, line, record[layout.date_column], layout),
        amount_cents=cents,
        type_code=record[layout.type_column] if layout.type_column else "",
        bank_reference=record[layout.reference_column] if layout.reference_column else "",
        description=record[layout.description_column],
        currency=layout.currency,
    )


def _date(path: Path, line: int, value: str, layout: CsvFormat) -> date:
    try:
        return datetime.strptime(value, layout.date_format).date()
    except ValueError:
        raise StatementError(path, line, f"date {value!r} in column {layout.date_column!r} does not match "
                             f"{layout.date_format!r}",
                             f"correct the date, or set {SETTING}.date_format in the config to the bank's "
                             "(e.g. \"%m/%d/%Y\")") from None
