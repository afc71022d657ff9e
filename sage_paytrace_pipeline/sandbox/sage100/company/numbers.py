"""Next-number service of the demo company, Sage style (zero-padded document numbers).

Real Sage hands numbers out through its business objects (``nGetNextCustomerNo``,
``nGetNextSalesOrderNo``, the "Next Deposit Number" of AR Options...). The demo company keeps the
next number of each series in the demo-only table ``SY_NextNumber`` (schema key
``next_numbers``: ModuleCode, NumberType, NextNumber). A number is never handed out twice: the
next one is the larger of the stored counter and one past the highest number already used in the
series' tables (so a company built by the generator, or by hand, stays consistent). That highest
number is read through an index on the number's value (indexes.py), never by scanning the table.

Widths follow Sage: InvoiceNo / SalesOrderNo / CustomerNo 7, DepositNo 5, CreditCardEntryNo /
EntryNo / JournalRegisterNo 6.
"""

from __future__ import annotations

from dataclasses import dataclass

from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row


@dataclass(frozen=True)
class Series:
    module: str  # SY_NextNumber.ModuleCode
    width: int
    used_in: tuple[tuple[str, str], ...]  # (table key, column key) holding numbers of this series


SERIES: dict[str, Series] = {
    "CustomerNo": Series("A/R", 7, (("AR_Customer", "CustomerNo"),)),
    "DepositNo": Series("A/R", 5, (("AR_CashReceiptsDeposit", "DepositNo"), ("AR_CashReceiptsHistory", "DepositNo"))),
    "CreditCardEntryNo": Series(
        "A/R",
        6,
        (
            ("AR_CashReceiptsHeader", "CreditCardEntryNo"),
            ("AR_CashReceiptsHistory", "CreditCardEntryNo"),
            ("AR_TransactionPaymentHistory", "CreditCardEntryNo"),
        ),
    ),
    "InvoiceNo": Series("A/R", 7, (("AR_InvoiceHistoryHeader", "InvoiceNo"),)),
    "SalesOrderNo": Series(
        "S/O", 7, (("SO_SalesOrderHeader", "SalesOrderNo"), ("AR_InvoiceHistoryHeader", "SalesOrderNo"))
    ),
    "EntryNo": Series(
        "G/L", 6, (("GL_GeneralJournalHeader", "EntryNo"), ("GL_GeneralJournalHistory", "EntryNo"))
    ),
    "JournalRegisterNo": Series("G/L", 6, (("GL_DetailPosting", "JournalRegisterNo"),)),
}
# Open items carry invoice numbers too, but PP rows may hold any reference; only real documents count.
_INVOICE_TYPES = ("IN", "CM", "DM", "FC")


def number_columns() -> list[tuple[str, str, tuple[str, ...]]]:
    """(table key, column key, equality prefix) of every "highest number used" look-up, for the
    indexes that make each one a seek (indexes.py)."""
    columns = [(table, column, ()) for series in SERIES.values() for table, column in series.used_in]
    return [*dict.fromkeys(columns), ("AR_OpenInvoice", "InvoiceNo", ("InvoiceType",))]


def _highest_used(session: DemoSession, number_type: str) -> int:
    highest = max(session.max_number(table, column) for table, column in SERIES[number_type].used_in)
    if number_type == "InvoiceNo":
        for invoice_type in _INVOICE_TYPES:
            highest = max(highest, session.max_number("AR_OpenInvoice", "InvoiceNo", {"InvoiceType": invoice_type}))
    return highest


def counter_key(number_type: str) -> dict[str, str]:
    """The series' row in SY_NextNumber."""
    return {"ModuleCode": SERIES[number_type].module, "NumberType": number_type}


def peek_next(session: DemoSession, number_type: str) -> tuple[Row | None, int]:
    """The series' counter row (None when there is none yet) and the number `next_number` would
    hand out now, without handing it out."""
    stored = session.select_one("next_numbers", counter_key(number_type))
    counter = int(stored["NextNumber"]) if stored and stored["NextNumber"].isdigit() else 0
    return stored, max(counter, _highest_used(session, number_type) + 1, 1)


def check_width(number_type: str, number: int) -> str:
    """`number` zero-padded to the series' width; past the width the series is exhausted."""
    width = SERIES[number_type].width
    if number >= 10**width:
        raise OverflowError(f"{number_type} series is exhausted at {width} digits")
    return str(number).zfill(width)


def next_number(session: DemoSession, number_type: str) -> str:
    """Hand out the next number of a series inside the caller's transaction."""
    series = SERIES[number_type]
    key = counter_key(number_type)
    stored, number = peek_next(session, number_type)
    check_width(number_type, number)
    following = str(number + 1).zfill(series.width)
    if stored:
        session.update("next_numbers", key, {"NextNumber": following})
    else:
        session.insert("next_numbers", {**key, "NextNumber": following})
    return str(number).zfill(series.width)
