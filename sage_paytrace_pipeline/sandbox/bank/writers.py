"""Statement files as a bank sends them, written with the same libraries that read them back.

BAI2 through the `bai2` package's models and writer (it computes the control totals and record
counts), OFX 2.2 XML through `ofxtools`' models (validated on construction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from pathlib import Path
from typing import TypeVar
from xml.etree import ElementTree

from bai2.constants import AsOfDateModifier, FundsType, GroupStatus, TypeCodes
from bai2.models import (
    Account,
    AccountIdentifier,
    Bai2File,
    Bai2FileHeader,
    Group,
    GroupHeader,
    Summary,
    TransactionDetail,
)
from bai2.writers import (
    AccountWriter,
    Bai2FileWriter,
    GroupWriter,
    TransactionDetailWriter,
)
from ofxtools.header import make_header
from ofxtools.models import (
    BANKACCTFROM,
    BANKMSGSRSV1,
    BANKTRANLIST,
    LEDGERBAL,
    OFX,
    SIGNONMSGSRSV1,
    SONRS,
    STATUS,
    STMTRS,
    STMTTRN,
    STMTTRNRS,
)

from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.sandbox.bank.funding import PAYEE, BankEntry

BANK_ROUTING = "121000248"  # the demo bank's ABA number (sender of the files)
MERCHANT_ID = "SAGEPAYTRACE"
CREDIT_CODE, DEBIT_CODE = "165", "455"  # Preauthorized ACH credit / debit: how processors fund and bill
_Key = TypeVar("_Key", str, date)  # what entries are grouped by: the account, the posting date
_TEXT_MAX = 77  # one 88 record of 80 characters; longer text would wrap, and wrapped text reads back altered


# The bai2 writer gives its options to the file level only; these carry "text on its own 88 record"
# down to the transaction level, so a description never wraps mid-word inside the 16 record.
class _DetailWriter(TransactionDetailWriter):
    def __init__(self, obj) -> None:
        super().__init__(obj, text_on_new_line=True)


class _AccountWriter(AccountWriter):
    child_writer_class = _DetailWriter


class _GroupWriter(GroupWriter):
    child_writer_class = _AccountWriter


class _FileWriter(Bai2FileWriter):
    child_writer_class = _GroupWriter


def _shown(entries: Sequence[BankEntry]) -> list[BankEntry]:
    """The entries on the statement (a planted missing deposit is not), in posting order."""
    return sorted((e for e in entries if e.amount_cents is not None), key=lambda e: e.posted_date)


def _cents(entry: BankEntry) -> int:
    """The amount the statement shows for an entry `_shown` kept."""
    if entry.amount_cents is None:
        raise ValueError(f"entry {entry.bank_reference} is missing from the statement: it has no amount")
    return entry.amount_cents


def write_bai2(entries: Sequence[BankEntry], path: Path) -> Path:
    """A prior-day BAI2 file: one group per posting date, one account per bank account."""
    shown = _shown(entries)
    if not shown:
        raise ValueError("no entries to write: a BAI2 file needs at least one group")
    last = max(entry.posted_date for entry in shown)
    groups = [Group(header=GroupHeader(ultimate_receiver_id=MERCHANT_ID, originator_id=BANK_ROUTING,
                                       group_status=GroupStatus.update, as_of_date=day, as_of_time=time.max,
                                       currency=day_entries[0].currency,
                                       as_of_date_modifier=AsOfDateModifier.final_previous_day),
                    children=[_bai2_account(account_entries)
                              for _, account_entries in _grouped(day_entries, lambda e: e.account_id)])
              for day, day_entries in _grouped(shown, lambda e: e.posted_date)]
    document = Bai2File(header=Bai2FileHeader(sender_id=BANK_ROUTING, receiver_id=MERCHANT_ID,
                                              creation_date=last + timedelta(days=1), creation_time=time(6, 0),
                                              file_id=last.strftime("%y%m%d01"), version_number=2),
                        children=groups)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(_FileWriter(document).write()) + "\n", encoding="ascii")
    return path


def _bai2_account(entries: list[BankEntry]) -> Account:
    details = []
    for entry in entries:
        if len(entry.description) > _TEXT_MAX:
            raise ValueError(f"description longer than {_TEXT_MAX} characters: {entry.description!r}")
        details.append(TransactionDetail(
            type_code=TypeCodes[CREDIT_CODE if _cents(entry) > 0 else DEBIT_CODE], amount=abs(_cents(entry)),
            funds_type=FundsType.immediate_availability, bank_reference=entry.bank_reference, customer_reference="",
            text=entry.description))
    credits = [_cents(e) for e in entries if _cents(e) > 0]
    debits = [-_cents(e) for e in entries if _cents(e) < 0]
    summaries = [Summary(type_code=TypeCodes["100"], amount=sum(credits), item_count=len(credits),
                         funds_type=FundsType.unknown_availability),
                 Summary(type_code=TypeCodes["400"], amount=sum(debits), item_count=len(debits),
                         funds_type=FundsType.unknown_availability)]
    return Account(header=AccountIdentifier(customer_account_number=entries[0].account_id, currency=entries[0].currency,
                                            summary_items=summaries),
                   children=details)


def write_ofx(entries: Sequence[BankEntry], path: Path) -> Path:
    """An OFX 2.2 download covering the entries' dates: one bank statement per account."""
    shown = _shown(entries)
    if not shown:
        raise ValueError("no entries to write")
    first, last = _noon(shown[0].posted_date), _noon(max(e.posted_date for e in shown))
    statements = [STMTTRNRS(trnuid=str(number), status=STATUS(code=0, severity="INFO"),
                            stmtrs=_ofx_statement(account, account_entries, first, last))
                  for number, (account, account_entries) in enumerate(_grouped(shown, lambda e: e.account_id), 1)]
    document = OFX(signonmsgsrsv1=SIGNONMSGSRSV1(sonrs=SONRS(status=STATUS(code=0, severity="INFO"), dtserver=last,
                                                             language="ENG")),
                   bankmsgsrsv1=BANKMSGSRSV1(*statements))
    root = document.to_etree()
    ElementTree.indent(root)  # one tag per line, so each transaction has its own line number
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(make_header(version=220)) + ElementTree.tostring(root, encoding="unicode") + "\n",
                    encoding="utf-8")
    return path


def _ofx_statement(account: str, entries: list[BankEntry], first: datetime, last: datetime) -> STMTRS:
    transactions = [STMTTRN(trntype="CREDIT" if _cents(e) > 0 else "DEBIT", dtposted=_noon(e.posted_date),
                            trnamt=cents_to_decimal(_cents(e)), fitid=e.bank_reference, name=PAYEE, memo=e.memo)
                    for e in entries]
    # The ledger balance is not known to the generator; the sum of the listed entries stands in.
    balance = cents_to_decimal(sum(_cents(e) for e in entries))
    return STMTRS(curdef=entries[0].currency,
                  bankacctfrom=BANKACCTFROM(bankid=BANK_ROUTING, acctid=account, accttype="CHECKING"),
                  banktranlist=BANKTRANLIST(*transactions, dtstart=first, dtend=last),
                  ledgerbal=LEDGERBAL(balamt=balance, dtasof=last))


def _noon(day: date) -> datetime:
    """Posting dates at noon UTC: the same calendar day in every US zone a reader might convert to."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _grouped(entries: list[BankEntry], key: Callable[[BankEntry], _Key]) -> list[tuple[_Key, list[BankEntry]]]:
    return [(value, list(items)) for value, items in groupby(sorted(entries, key=key), key=key)]
