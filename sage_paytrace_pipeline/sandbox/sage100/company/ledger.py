"""General ledger of the demo company: balanced GL_DetailPosting lines and General Journal entries.

Every journal update (cash receipts, sales, credit memos, refunds, general journal) posts through
`post_gl`, which refuses to write an unbalanced register. Source journal codes [?] (reference §2.5):
``CR`` cash receipts, ``SO`` S/O sales journal, ``SJ`` A/R sales journal, ``GJ`` general journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.sage100.documents import DocumentResult, JournalEntry
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import POST_JOURNAL_ENTRY, check_journal_balanced, total
from sage_paytrace_pipeline.sandbox.sage100.company.master import Ctx, resolve_account
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession

ZERO = Decimal("0.00")
GENERAL_JOURNAL = "GJ"


@dataclass(frozen=True)
class GLLine:
    account_key: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    comment: str = ""


def _next_sequence(session: DemoSession, journal: str, register_no: str) -> int:
    where = {"SourceJournal": journal, "JournalRegisterNo": register_no}
    return session.max_number("GL_DetailPosting", "SequenceNo", where)


def post_gl(
    session: DemoSession,
    *,
    journal: str,
    register_no: str,
    posting_date: date,
    lines: Sequence[GLLine],
    module: str,
    document_no: str = "",
) -> None:
    """Write one document's GL lines into a register; they must balance to the cent."""
    debits, credits = total(line.debit for line in lines), total(line.credit for line in lines)
    if debits != credits:  # a programming error, never a user error: builders always balance
        raise AssertionError(f"unbalanced GL posting {journal} {register_no}: Dr {debits} Cr {credits}")
    sequence = _next_sequence(session, journal, register_no)
    for line in lines:
        if line.debit == line.credit == ZERO:
            continue
        sequence += 1
        session.insert(
            "GL_DetailPosting",
            {
                "AccountKey": line.account_key,
                "PostingDate": posting_date,
                "SourceJournal": journal,
                "JournalRegisterNo": register_no,
                "SequenceNo": str(sequence).zfill(14),
                "DebitAmount": line.debit,
                "CreditAmount": line.credit,
                "PostingComment": line.comment,
                "SourceModule": module,
                "DocumentNo": document_no,
                "LineDate": posting_date,
            },
        )


# ---------------------------------------------------------------------------- general journal


def find_journal_entry(session: DemoSession, reference: str) -> DocumentResult | None:
    history = session.select_one("GL_GeneralJournalHistory", {UDF_PAYTRACE_REF: reference})
    if history is not None:
        documents = {"EntryNo": history["EntryNo"], "JournalRegisterNo": history["JournalRegisterNo"]}
    else:
        header = session.select_one("GL_GeneralJournalHeader", {UDF_PAYTRACE_REF: reference})
        if header is None:
            return None
        documents = {"EntryNo": header["EntryNo"]}
    return DocumentResult(operation=POST_JOURNAL_ENTRY, reference=reference, documents=documents, created=False)


def post_journal_entry(session: DemoSession, entry: JournalEntry, *, post: bool) -> DocumentResult:
    existing = find_journal_entry(session, entry.reference)
    if existing is not None:
        return existing
    ctx = Ctx(POST_JOURNAL_ENTRY, entry.reference)
    check_journal_balanced(entry)
    keys = [resolve_account(session, ctx, line.account, f"lines[{n}].account")["AccountKey"]
            for n, line in enumerate(entry.lines)]
    entry_no = next_number(session, "EntryNo")
    if post:
        _post_entry(session, entry, entry_no, keys)
    else:
        _enter_entry(session, entry, entry_no, keys)
    result = find_journal_entry(session, entry.reference)
    assert result is not None
    return result.model_copy(update={"created": True})


def _post_entry(session: DemoSession, entry: JournalEntry, entry_no: str, keys: list[str]) -> None:
    register_no = next_number(session, "JournalRegisterNo")
    lines = [
        GLLine(key, line.debit, line.credit, line.comment or entry.comment) for key, line in zip(keys, entry.lines)
    ]
    post_gl(session, journal=GENERAL_JOURNAL, register_no=register_no, posting_date=entry.posting_date,
            lines=lines, module="G/L", document_no=entry_no)
    session.insert(
        "GL_GeneralJournalHistory",
        {
            "SourceJournal": GENERAL_JOURNAL,
            "EntryNo": entry_no,
            "PostingDate": entry.posting_date,
            "JournalComment": entry.comment,
            "JournalRegisterNo": register_no,
            UDF_PAYTRACE_REF: entry.reference,
        },
    )


def _enter_entry(session: DemoSession, entry: JournalEntry, entry_no: str, keys: list[str]) -> None:
    session.insert(
        "GL_GeneralJournalHeader",
        {
            "SourceJournal": GENERAL_JOURNAL,
            "EntryNo": entry_no,
            "PostingDate": entry.posting_date,
            "JournalComment": entry.comment,
            "TransactionType": "A",
            "AcceptOutofBalance": "N",
            UDF_PAYTRACE_REF: entry.reference,
        },
    )
    for number, (key, line) in enumerate(zip(keys, entry.lines), start=1):
        session.insert(
            "GL_GeneralJournalDetail",
            {
                "SourceJournal": GENERAL_JOURNAL,
                "EntryNo": entry_no,
                "LineKey": str(number).zfill(6),
                "LineSeqNo": str(number).zfill(6),
                "AccountKey": key,
                "DebitAmount": line.debit,
                "CreditAmount": line.credit,
                "Comment": line.comment,
            },
        )
