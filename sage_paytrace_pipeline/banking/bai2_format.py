"""BAI2 cash-management files, parsed and total-checked by the `bai2` package.

The library keeps no line numbers, so they are counted alongside it: every physical line that is
not a continuation (``88``) starts one record, and the library consumes records in file order.
"""

from __future__ import annotations

from pathlib import Path

from bai2.constants import TypeCodeTransaction
from bai2.exceptions import IntegrityException
from bai2.helpers import IteratorHelper
from bai2.parsers import Bai2FileParser

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.rows import check_currency, statement_row

RECORD_NAMES = {"01": "file header", "02": "group header", "03": "account identifier", "16": "transaction detail",
                "49": "account trailer", "88": "continuation", "98": "group trailer", "99": "file trailer"}
_RESEND = "ask the bank to resend the file (BAI2 files are machine-made; do not edit them by hand)"
_SIGNS = {TypeCodeTransaction.credit: 1, TypeCodeTransaction.debit: -1}


class _CountingRecords(IteratorHelper):
    """The library's record iterator, counting records so that its errors can name a line."""

    def __init__(self, lines) -> None:
        self.position = -1  # the record being parsed
        self.completed = -1  # the last record parsed in full: the trailer whose totals are checked
        super().__init__(lines)

    def advance(self) -> None:
        self.completed = self.position
        self.current_record = next(self._generator)
        self.position += 1


def parse_bai2(path: Path, text: str) -> list[dict]:
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    for number, line in lines:
        if line[:2] not in RECORD_NAMES or line[2:3] != ",":
            raise StatementError(path, number, f"{line[:12]!r} does not start with a BAI2 record code "
                                 f"({', '.join(RECORD_NAMES)}) and a comma", _RESEND)
    if not lines[-1][1].startswith("99,"):
        raise StatementError(path, lines[-1][0], "the last record is not the 99 file trailer (truncated file?)",
                             _RESEND)
    record_starts = [(number, line[:2]) for number, line in lines if not line.startswith("88,")]
    records = _CountingRecords(line for _, line in lines)
    try:
        parsed = Bai2FileParser(records).parse()
    except Exception as error:  # the library raises ValueError, KeyError, its own exceptions...
        index = records.completed if isinstance(error, IntegrityException) else records.position
        number, code = record_starts[index]
        raise StatementError(path, number, f"{code} {RECORD_NAMES[code]}: {type(error).__name__}: {error}",
                             _RESEND) from None
    if records.position != len(record_starts) - 1:
        raise StatementError(path, record_starts[records.position][0], "records after the 99 file trailer", _RESEND)
    return _rows(path, parsed, lines)


def _rows(path: Path, parsed, lines: list[tuple[int, str]]) -> list[dict]:
    group_lines = iter(number for number, line in lines if line.startswith("02,"))
    account_lines = iter(number for number, line in lines if line.startswith("03,"))
    detail_lines = iter(number for number, line in lines if line.startswith("16,"))
    rows = []
    for group in parsed.children:
        group_line = next(group_lines)
        if group.header.as_of_date is None:
            raise StatementError(path, group_line, "the 02 group header has no as-of date", _RESEND)
        for account in group.children:
            account_line = next(account_lines)
            currency = account.header.currency or group.header.currency
            if not check_currency(currency):
                raise StatementError(path, account_line, f"unknown currency {currency!r}", _RESEND)
            for detail in account.children:
                rows.append(_detail_row(path, next(detail_lines), detail, account=account.header, group=group.header,
                                        currency=currency))
    return rows


def _detail_row(path: Path, line: int, detail, *, account, group, currency: str) -> dict:
    if detail.amount is None:
        raise StatementError(path, line, "the 16 transaction record has no amount", _RESEND)
    if detail.type_code is None:
        raise StatementError(path, line, "the 16 transaction record has no type code", _RESEND)
    sign = _SIGNS.get(detail.type_code.transaction)
    if sign is None and detail.amount:
        raise StatementError(path, line, f"type code {detail.type_code.code} ({detail.type_code.description}) "
                             "is neither a credit nor a debit but carries an amount", _RESEND)
    return statement_row(
        path, line,
        account_id=account.customer_account_number or "",
        # A 16 record has no date of its own: it belongs to its group's as-of date.
        posted_date=group.as_of_date,
        amount_cents=(sign or 0) * detail.amount,  # BAI2 amounts are unsigned cents; the type code says which way
        type_code=detail.type_code.code,
        bank_reference=detail.bank_reference or "",
        description=detail.text or "",
        currency=currency,
    )
