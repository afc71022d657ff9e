"""OFX / QFX statements (1.x SGML and 2.x XML), parsed and validated by `ofxtools`.

ofxtools keeps no positions, so each STMTTRN element is paired with the line of its start tag
(both are in document order), and a conversion error is traced to the transaction that causes it.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.rows import statement_row
from sage_paytrace_pipeline.domain.money import MoneyError, decimal_to_cents, parse_money

_REDOWNLOAD = "download the statement from the bank again (OFX/QFX files are machine-made)"
_STATEMENTS = ("STMTRS", "CCSTMTRS")  # bank and credit-card statements; investment ones are not bank cash


def parse_ofx(path: Path, data: bytes) -> list[dict]:
    from ofxtools.models.base import Aggregate  # on first use: seconds to import, and rarely needed (see rows.py)

    root, text = _element_tree(path, data)
    tag_lines = [_line(text, match.start()) for match in re.finditer(r"<STMTTRN>", text)]
    line_of = dict(zip(root.iter("STMTTRN"), tag_lines, strict=False))
    try:
        Aggregate.from_etree(root)  # the whole document against the OFX spec
    except Exception as error:
        raise _located(path, error, line_of, _line(text, max(text.find("<OFX>"), 0))) from None
    rows = []
    for element in root.iter():
        if element.tag in _STATEMENTS:
            rows += _statement_rows(path, element, line_of)
    return rows


def _element_tree(path: Path, data: bytes) -> tuple[ElementTree.Element, str]:
    from ofxtools.header import parse_header
    from ofxtools.Parser import TreeBuilder

    try:
        header, body = parse_header(io.BytesIO(data))
    except Exception as error:
        raise StatementError(path, 1, f"no valid OFX header: {_describe(error)}",
                             "the file must start with OFXHEADER:100 (1.x) or <?OFX OFXHEADER=\"200\" ...?> (2.x); "
                             + _REDOWNLOAD) from None
    text = data.decode(header.codec, errors="replace")
    if "</OFX>" not in body:
        raise StatementError(path, _line(text, len(text.rstrip())), "the file ends before </OFX> (truncated)",
                             _REDOWNLOAD)
    builder = TreeBuilder()
    try:
        builder.feed(body)
        return builder.close(), text
    except Exception as error:
        # ofxtools reports the position within the body (the text after the header) for most errors.
        position = re.search(r"position=\[(\d+):", str(error))
        offset = text.find(body[:200]) + (int(position.group(1)) if position else 0)
        reason = re.split(r" in | - position", _describe(error), maxsplit=1)[0]
        raise StatementError(path, _line(text, offset), f"malformed OFX markup: {reason}", _REDOWNLOAD) from None


def _located(path: Path, error: Exception, line_of: dict, fallback_line: int) -> StatementError:
    """The first transaction that fails on its own names the line; otherwise the document does."""
    from ofxtools.models.base import Aggregate

    for element, line in line_of.items():
        try:
            Aggregate.from_etree(element)
        except Exception as own:
            return StatementError(path, line, f"STMTTRN: {_describe(own)}", _REDOWNLOAD)
    return StatementError(path, fallback_line, _describe(error), _REDOWNLOAD)


def _describe(error: Exception) -> str:
    if isinstance(error, ArithmeticError):  # decimal.InvalidOperation says only "[ConversionSyntax]"
        return "a number field holds something that is not a number"
    return f"{type(error).__name__}: {error}"


def _statement_rows(path: Path, element: ElementTree.Element, line_of: dict) -> list[dict]:
    from ofxtools.models.base import Aggregate

    statement = Aggregate.from_etree(element)
    transactions = statement.banktranlist or []
    rows = []
    for trn_element, transaction in zip(element.iter("STMTTRN"), transactions, strict=True):
        line = line_of.get(trn_element, 1)
        try:
            cents = decimal_to_cents(parse_money(transaction.trnamt, field="TRNAMT", allow_negative=True))
        except MoneyError as error:
            raise StatementError(path, line, str(error), _REDOWNLOAD) from None
        name = transaction.name or (transaction.payee.name if transaction.payee else "")
        rows.append(statement_row(
            path, line,
            account_id=statement.account.acctid,
            # The date as the bank wrote it: ofxtools moves times to UTC, which can change the day.
            posted_date=datetime.strptime(trn_element.findtext("DTPOSTED", "")[:8], "%Y%m%d").date(),
            amount_cents=cents,
            type_code=transaction.trntype,
            bank_reference=transaction.fitid,
            description=" ".join(part for part in (name, transaction.memo) if part),
            # CURRENCY in a transaction means its amount is in that currency (ORIGCURRENCY: already converted).
            currency=transaction.currency.cursym if transaction.currency else statement.curdef,
        ))
    return rows


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
