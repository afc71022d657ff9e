"""Reading a processor's dispute report (CSV) into one row per case stage, or refusing the whole file.

The default layout (`DisputeReportFormat()`) is modelled on the processors' exports (disputes.md
§3): the Fiserv/TSYS case screen (case number, reason code, case vs transaction amount, merchant and
network due dates) and J.P. Morgan's DisputeDetails CSV (masked account number, authorization code,
merchant order number, ARN, M/D/YYYY dates). Every column name is configuration
(`disputes.csv.*_column`), like the bank CSV's. Optional columns are read when the header has them.

Tolerated around the table: a preamble (report title, ``Key=Value`` lines) before the header, found
as the first line naming the case-number and stage columns, and a trailer (totals, end marker)
after the last row: trailing lines shorter than the header with at most three filled fields.
Anything else wrong is a `DisputeReportError` naming the file, the line and the fix, and nothing of
the file is returned.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sage_paytrace_pipeline.domain.cards import mask_card_numbers_in_text
from sage_paytrace_pipeline.domain.disputes.stages import normalize_stage
from sage_paytrace_pipeline.domain.free_text import storable_text
from sage_paytrace_pipeline.domain.money import parse_amount_cents

SETTING = "disputes.csv"
_TRAILER_FIELDS = 3

REPORT_COLUMNS = {
    "source_file": "string",
    "source_line": "int64",
    "case_number": "string",
    "original_case_number": "string",  # "" unless a later case points back to its first chargeback
    "stage": "string",
    "activity_date": "object",  # business dates
    "card_type": "string",
    "reason_code": "string",
    "reason_text": "string",
    "amount_cents": "int64",  # the disputed amount, positive; which way it moves is the stage's
    "transaction_amount_cents": "Int64",
    "transaction_date": "object",
    "card_last4": "string",
    "authorization_code": "string",
    "reference": "string",  # the merchant's order reference (our PayTrace invoice_id)
    "arn": "string",
    "network_due_date": "object",
    "merchant_due_date": "object",
    "fee_cents": "Int64",  # the processor's case fee when the report prints one
}


class DisputeReportError(ValueError):
    """``file.csv:12: problem. Fix: ...``; the whole file is refused."""

    def __init__(self, path: str | Path, line: int, problem: str, fix: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = mask_card_numbers_in_text(str(problem).strip().splitlines()[0][:300] if str(problem).strip()
                                                 else "unreadable content") or ""
        self.fix = fix
        super().__init__(f"{self.path.name}:{line}: {self.problem}. Fix: {fix}")

    def __reduce__(self):  # picklable across processes (Dagster runs steps in subprocesses)
        return (DisputeReportError, (self.path, self.line, self.problem, self.fix))


class DisputeReportFormat(BaseModel):
    """Where the processor's dispute report keeps each field (header names)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_number_column: str = "Case Number"
    stage_column: str = "Stage"
    activity_date_column: str = "Activity Date"
    reason_code_column: str = "Reason Code"
    amount_column: str = "Case Amount"
    transaction_date_column: str = "Transaction Date"
    account_number_column: str = "Account Number"  # masked (402155XXXXXX0001): only the last 4 are kept
    # Optional: read when the header has them.
    original_case_column: str = "Original Case Number"
    card_type_column: str = "Card Type"
    reason_text_column: str = "Reason Text"
    transaction_amount_column: str = "Transaction Amount"
    authorization_code_column: str = "Authorization Code"
    reference_column: str = "Merchant Order Number"
    arn_column: str = "Acquirer Reference Number"
    network_due_date_column: str = "Network Due Date"
    merchant_due_date_column: str = "Merchant Due Date"
    fee_column: str = "Case Fee"
    date_format: str = "%m/%d/%Y"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    # How far down the header may be (preamble lines above it).
    header_search_lines: int = Field(default=50, ge=1, le=1000)

    @property
    def required_columns(self) -> list[str]:
        return [self.case_number_column, self.stage_column, self.activity_date_column, self.reason_code_column,
                self.amount_column, self.transaction_date_column, self.account_number_column]


@dataclass(frozen=True)
class DisputeReport:
    path: Path
    sha256: str
    rows: pd.DataFrame  # REPORT_COLUMNS, file order


def read_report(path: Path, data: bytes, layout: DisputeReportFormat) -> DisputeReport:
    """The report's rows, or `DisputeReportError` (nothing returned) naming the line and the fix."""
    try:
        text = data.decode(layout.encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DisputeReportError(path, line, f"byte {data[error.start]:#04x} is not valid {layout.encoding}",
                                 f"set {SETTING}.encoding in the config to the file's encoding (e.g. cp1252)") from None
    except LookupError:
        raise DisputeReportError(path, 1, f"unknown encoding {layout.encoding!r}",
                                 f"set {SETTING}.encoding in the config to e.g. utf-8-sig") from None
    records = _records(path, text, layout)
    header_line, header = _header(path, records, layout)
    body = _without_trailer([r for r in records if r[0] > header_line], len(header))
    for line, fields in body:
        if len(fields) != len(header):
            raise DisputeReportError(path, line, f"row has {len(fields)} fields, the header has {len(header)}",
                                     f"check {SETTING}.delimiter ({layout.delimiter!r}) and that fields holding "
                                     "it are quoted; a trailer line may hold at most three filled fields")
    raw = pd.DataFrame([fields for _, fields in body], columns=header, dtype=object)
    raw = raw.loc[:, ~raw.columns.duplicated()].apply(lambda column: column.str.strip())
    frame = _columns(path, pd.Series([line for line, _ in body], dtype="int64"), raw, layout)
    return DisputeReport(path, hashlib.sha256(data).hexdigest(), frame)


def _records(path: Path, text: str, layout: DisputeReportFormat) -> list[tuple[int, list[str]]]:
    """(first physical line, fields) of every non-blank CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    records: list[tuple[int, list[str]]] = []
    last_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return records
        except csv.Error as error:
            raise DisputeReportError(path, last_line + 1, f"unreadable CSV row: {error}",
                                     "fix the quoting of this row") from None
        line, last_line = last_line + 1, reader.line_num
        if any(field.strip() for field in fields):
            records.append((line, fields))


def _header(path: Path, records: list[tuple[int, list[str]]],
            layout: DisputeReportFormat) -> tuple[int, list[str]]:
    for line, fields in records:
        if line > layout.header_search_lines:
            break
        names = [name.strip() for name in fields]
        if layout.case_number_column in names and layout.stage_column in names:
            missing = [column for column in layout.required_columns if column not in names]
            if missing:
                raise DisputeReportError(
                    path, line, f"column(s) {', '.join(map(repr, missing))} not in the header "
                    f"(found: {', '.join(names)})",
                    f"set the {SETTING} *_column keys in the config to the header's names")
            return line, names
    raise DisputeReportError(
        path, 1, f"no header naming {layout.case_number_column!r} and {layout.stage_column!r} in the first "
        f"{layout.header_search_lines} lines", f"check this is the processor's dispute report; set "
        f"{SETTING}.case_number_column / stage_column to its header's names (or raise header_search_lines)")


def _without_trailer(records: list[tuple[int, list[str]]], width: int) -> list[tuple[int, list[str]]]:
    end = len(records)
    while end and len(records[end - 1][1]) != width and \
            sum(1 for field in records[end - 1][1] if field.strip()) <= _TRAILER_FIELDS:
        end -= 1
    return records[:end]


def _columns(path: Path, lines: pd.Series, raw: pd.DataFrame, layout: DisputeReportFormat) -> pd.DataFrame:
    """The typed rows, column by column; the first bad cell (lowest line) refuses the file."""
    problems: list[tuple[int, int, str, str]] = []  # (line, check order, problem, fix): the first one is raised

    def text(column: str) -> pd.Series:
        values = raw[column] if column in raw else pd.Series("", index=raw.index, dtype=object)
        return values.fillna("").astype(object)

    def flag(bad: pd.Series, order: int, problem: Callable[[str], str], fix: str, column: str) -> None:
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            problems.append((int(lines.iloc[first]), order, problem(text(column).iloc[first]), fix))

    case_number = text(layout.case_number_column)
    flag(case_number == "", 0, lambda _: f"no case number in column {layout.case_number_column!r}",
         "fill in the processor's case number", layout.case_number_column)
    stage_text = text(layout.stage_column)
    stage = stage_text.map({value: normalize_stage(value) for value in stage_text.unique()})
    flag(stage.isna(), 1, lambda value: f"stage {value[:40]!r} in column {layout.stage_column!r} is not one this "
         "pipeline knows", "use retrieval, chargeback, representment, pre-arbitration, arbitration, won, lost or "
         "accepted", layout.stage_column)
    digits = text(layout.account_number_column).str.replace(r"\D", "", regex=True)
    flag(digits.str.len() < 4, 2, lambda _: f"column {layout.account_number_column!r} holds no card's last 4 digits",
         "the report must show the masked card number (e.g. 402155XXXXXX0001)", layout.account_number_column)
    dates = {column: _dates(text(column), column, layout, flag, order=3 + i,
                            required=column in (layout.activity_date_column, layout.transaction_date_column))
             for i, column in enumerate((layout.activity_date_column, layout.transaction_date_column,
                                         layout.network_due_date_column, layout.merchant_due_date_column))}
    amounts = {column: _amounts(text(column), column, flag, order=7 + i, required=column == layout.amount_column)
               for i, column in enumerate((layout.amount_column, layout.transaction_amount_column, layout.fee_column))}
    if problems:
        line, _, problem, fix = min(problems)
        raise DisputeReportError(path, line, problem, fix)
    frame = pd.DataFrame({
        "source_file": path.name,
        "source_line": lines.to_numpy(),
        "case_number": _storable(case_number),
        "original_case_number": _storable(text(layout.original_case_column)),
        "stage": stage.to_numpy(),
        "activity_date": dates[layout.activity_date_column],
        "card_type": _storable(text(layout.card_type_column)),
        "reason_code": _storable(text(layout.reason_code_column)).str.upper(),
        "reason_text": _storable(text(layout.reason_text_column)),
        "amount_cents": amounts[layout.amount_column].abs(),
        "transaction_amount_cents": amounts[layout.transaction_amount_column].abs(),
        "transaction_date": dates[layout.transaction_date_column],
        "card_last4": digits.str[-4:].to_numpy(),
        "authorization_code": _storable(text(layout.authorization_code_column)).str.upper(),
        "reference": _storable(text(layout.reference_column)),
        "arn": _storable(text(layout.arn_column)),
        "network_due_date": dates[layout.network_due_date_column],
        "merchant_due_date": dates[layout.merchant_due_date_column],
        "fee_cents": amounts[layout.fee_column].abs(),
    }, index=raw.index)
    return frame.astype({name: dtype for name, dtype in REPORT_COLUMNS.items() if dtype != "object"})


def _storable(values: pd.Series) -> pd.Series:
    """Free text as the project stores it (controls out, card numbers masked), once per distinct value."""
    return values.map({value: storable_text(value) for value in values.unique()}).astype(object)


def _dates(values: pd.Series, column: str, layout: DisputeReportFormat, flag: Callable, *, order: int,
           required: bool) -> np.ndarray:
    parsed = pd.to_datetime(values.where(values != ""), format=layout.date_format, errors="coerce")
    flag((values == "") if required else pd.Series(False, index=values.index), order,
         lambda _: f"no date in column {column!r}", "fill in the date", column)
    flag((values != "") & parsed.isna(), order, lambda value: f"date {value[:40]!r} in column {column!r} does not "
         f"match {layout.date_format!r}", f"correct the date, or set {SETTING}.date_format in the config to the "
         "report's (e.g. \"%Y-%m-%d\")", column)
    return np.array([None if pd.isna(day) else day.date() for day in parsed], dtype=object)


def _amounts(values: pd.Series, column: str, flag: Callable, *, order: int, required: bool) -> pd.Series:
    flag((values == "") if required else pd.Series(False, index=values.index), order,
         lambda _: f"no amount in column {column!r}", "fill in the case amount", column)
    cents: dict[str, int | None] = {"": None}
    errors: dict[str, str] = {}
    for value in values.unique():  # distinct amounts only: a report repeats them
        if value and value not in cents:
            try:
                cents[value] = parse_amount_cents(value)
            except ValueError as error:
                errors[value] = str(error)
    flag(values.isin(list(errors)), order, lambda value: f"column {column!r}: {errors[value]}", "correct the amount",
         column)
    return pd.Series(pd.array([cents.get(value) for value in values], dtype="Int64"), index=values.index)
