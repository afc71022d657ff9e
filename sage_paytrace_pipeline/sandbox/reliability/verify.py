"""Judge the books after the campaign, from Sage's own tables, PayTrace's records and the plan.

Nothing here asks the pipeline what it did: approved sales come from PayTrace (the sandbox, read
through its API once the faults are off), postings from AR_CashReceiptsHistory / Header, balances
from AR_OpenInvoice, journals from GL_DetailPosting, and what each payment was meant to pay from
the generator's plan. The warehouse is read only for the exception list (where an approved sale
that is not posted must be explained).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from sage_paytrace_pipeline.domain.money import CENT
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.models import Transaction, TransactionStatus
from sage_paytrace_pipeline.sandbox.reliability.world import (
    PlannedPayment,
    open_invoice_balances,
)

ZERO = Decimal("0.00")
_MONEY_IN_TYPES = ("SALE", "AUTHORIZATION")  # an authorization moved money once captured (PENDING/SETTLED)
_MONEY_MOVED = (TransactionStatus.PENDING, TransactionStatus.SETTLED)


@dataclass(frozen=True)
class ApprovedSale:
    transaction_id: int
    amount: Decimal
    invoice_id: str
    business_date: date | None


@dataclass
class Verdict:
    approved_sales: int = 0
    posted_once: int = 0
    excepted: int = 0  # not posted, listed as an exception (the pipeline's explanation)
    duplicates: list[int] = field(default_factory=list)  # in Sage more than once
    missing: list[int] = field(default_factory=list)  # neither in Sage nor an exception: a loss
    posted_not_approved: list[int] = field(default_factory=list)  # a receipt for a voided/unknown payment
    amount_mismatches: list[int] = field(default_factory=list)  # receipt amount != PayTrace amount
    applied_as_planned: int = 0
    applied_otherwise: list[int] = field(default_factory=list)  # posted, but not to the planned invoices
    invoices_checked: int = 0
    invoice_balance_errors: list[str] = field(default_factory=list)
    journals_checked: int = 0
    unbalanced_journals: list[str] = field(default_factory=list)
    duplicate_journal_entries: list[str] = field(default_factory=list)
    double_charges: list[str] = field(default_factory=list)  # a web-store payment charged twice in PayTrace

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.missing or self.posted_not_approved or self.amount_mismatches
                    or self.invoice_balance_errors or self.unbalanced_journals or self.duplicate_journal_entries
                    or self.double_charges)

    def as_dict(self) -> dict:
        figures = dict(vars(self))
        return {"ok": self.ok, **figures}


def approved_sales(client: PayTraceClient, first: date, last: date) -> list[ApprovedSale]:
    """Sales and captured authorizations created in [first, last] that PayTrace holds as money moved."""
    records = client.export_transactions(first, last, include_bin=False)
    return [ApprovedSale(r.transaction_id, r.amount, r.invoice_id, _local_day(r))
            for r in records if r.transaction_type.upper() in _MONEY_IN_TYPES and r.status in _MONEY_MOVED]


def _local_day(record: Transaction) -> date | None:
    return record.created_at.date() if record.created_at else None


def verify_books(sage_db: Path, warehouse: Path, sales: list[ApprovedSale], planned: dict[int, PlannedPayment],
                 opening_balances: dict[str, Decimal], *,
                 web_invoice_ids: Collection[str] = frozenset()) -> Verdict:
    verdict = Verdict(approved_sales=len(sales))
    receipts = card_receipts(sage_db)
    excepted = exception_transaction_ids(warehouse)
    _check_each_sale(verdict, sales, receipts, excepted)
    _check_applications(verdict, receipts, planned)
    _check_invoice_balances(verdict, sage_db, receipts, planned, opening_balances)
    _check_journals(verdict, sage_db)
    _check_single_charges(verdict, sales, web_invoice_ids)
    return verdict


# ------------------------------------------------------------------------------ receipts


@dataclass
class SageReceipt:
    documents: set[tuple[str, str]] = field(default_factory=set)  # (DepositNo, CreditCardEntryNo)
    applied: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    @property
    def total(self) -> Decimal:
        return sum(self.applied.values(), ZERO)


def card_receipts(sage_db: Path) -> dict[int, SageReceipt]:
    """Card receipts by PayTrace transaction id: posted (history) and entered but not yet posted."""
    found: dict[int, SageReceipt] = defaultdict(SageReceipt)
    with sqlite3.connect(sage_db) as connection:
        posted = connection.execute(
            "SELECT CreditCardTransactionID, DepositNo, CreditCardEntryNo, InvoiceNo, InvoiceType, CashAmountApplied "
            "FROM AR_CashReceiptsHistory WHERE CreditCardTransactionID <> ''").fetchall()
        entered = connection.execute(
            "SELECT h.CreditCardTransactionID, h.DepositNo, h.CreditCardEntryNo, d.InvoiceNo, d.InvoiceType, "
            "d.AmountPosted FROM AR_CashReceiptsHeader h JOIN AR_CashReceiptsDetail d ON d.DepositNo = h.DepositNo "
            "AND d.CreditCardEntryNo = h.CreditCardEntryNo WHERE h.CreditCardTransactionID <> ''").fetchall()
    for transaction_id, deposit_no, entry_no, invoice_no, invoice_type, amount in [*posted, *entered]:
        if not str(transaction_id).isdigit():
            continue
        receipt = found[int(transaction_id)]
        receipt.documents.add((deposit_no, entry_no))
        receipt.applied[(invoice_no, invoice_type)] += Decimal(str(amount)).quantize(CENT)
    return dict(found)


def exception_transaction_ids(warehouse: Path) -> set[int]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("SELECT DISTINCT transaction_id FROM pipeline.receivable_exceptions "
                                  "WHERE transaction_id IS NOT NULL").fetchall()
    return {int(row[0]) for row in rows}


def _check_each_sale(verdict: Verdict, sales: list[ApprovedSale], receipts: dict[int, SageReceipt],
                     excepted: set[int]) -> None:
    for sale in sales:
        receipt = receipts.get(sale.transaction_id)
        if receipt is None:
            if sale.transaction_id in excepted:
                verdict.excepted += 1
            else:
                verdict.missing.append(sale.transaction_id)
            continue
        if len(receipt.documents) > 1:
            verdict.duplicates.append(sale.transaction_id)
        else:
            verdict.posted_once += 1
        if receipt.total != sale.amount * len(receipt.documents):
            verdict.amount_mismatches.append(sale.transaction_id)
    approved = {sale.transaction_id for sale in sales}
    verdict.posted_not_approved = sorted(set(receipts) - approved)


def _check_applications(verdict: Verdict, receipts: dict[int, SageReceipt], planned: dict[int, PlannedPayment]) -> None:
    """Posted to the invoices the payer meant, to the cent (otherwise: a prepayment or another invoice)."""
    for transaction_id, receipt in receipts.items():
        plan = planned.get(transaction_id)
        if plan is None or len(receipt.documents) != 1:
            continue
        applied = {invoice_no: amount for (invoice_no, kind), amount in receipt.applied.items() if kind == "IN"}
        meant = {invoice_no: amount for invoice_no, amount in plan.allocations.items() if amount > 0}
        if applied == meant:
            verdict.applied_as_planned += 1
        else:
            verdict.applied_otherwise.append(transaction_id)


# ------------------------------------------------------------------------------ balances


def _check_invoice_balances(verdict: Verdict, sage_db: Path, receipts: dict[int, SageReceipt],
                            planned: dict[int, PlannedPayment], opening: dict[str, Decimal]) -> None:
    """Every invoice that was open at the start: balance now = balance then - the card receipts applied
    to it, to the cent; and where every planned payer was posted as planned, also = then - the plan."""
    now = open_invoice_balances(sage_db)
    applied: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for receipt in receipts.values():
        for (invoice_no, kind), amount in receipt.applied.items():
            if kind == "IN":
                applied[invoice_no] += amount
    meant, as_planned = _planned_by_invoice(receipts, planned)
    for invoice_no, before in sorted(opening.items()):
        verdict.invoices_checked += 1
        after = now.get(invoice_no, ZERO)
        if after != before - applied[invoice_no]:
            verdict.invoice_balance_errors.append(
                f"{invoice_no}: balance {after}, expected {before} - receipts {applied[invoice_no]}")
        elif as_planned.get(invoice_no, True) and invoice_no in meant and after != before - meant[invoice_no]:
            verdict.invoice_balance_errors.append(
                f"{invoice_no}: balance {after}, planned {before} - {meant[invoice_no]}")


def _planned_by_invoice(receipts: dict[int, SageReceipt], planned: dict[int, PlannedPayment]
                        ) -> tuple[dict[str, Decimal], dict[str, bool]]:
    """Per invoice: what its posted payers meant to pay on it, and whether all its payers posted as planned."""
    meant: dict[str, Decimal] = defaultdict(lambda: ZERO)
    as_planned: dict[str, bool] = {}
    for transaction_id, plan in planned.items():
        receipt = receipts.get(transaction_id)
        exact = receipt is not None and len(receipt.documents) == 1 and {
            number: amount for (number, kind), amount in receipt.applied.items() if kind == "IN"} == {
            number: amount for number, amount in plan.allocations.items() if amount > 0}
        for invoice_no, amount in plan.allocations.items():
            as_planned[invoice_no] = as_planned.get(invoice_no, True) and exact
            if receipt is not None:
                meant[invoice_no] += amount
    return meant, as_planned


# ------------------------------------------------------------------------------ journals


def _check_journals(verdict: Verdict, sage_db: Path) -> None:
    """Each GL register balances (debits = credits), and no PayTrace journal entry is there twice."""
    with sqlite3.connect(sage_db) as connection:
        registers = connection.execute(
            "SELECT SourceJournal, JournalRegisterNo, DebitAmount, CreditAmount FROM GL_DetailPosting").fetchall()
        entries = connection.execute(
            "SELECT UDF_PAYTRACE_REF, count(DISTINCT EntryNo) FROM GL_GeneralJournalHistory "
            "WHERE UDF_PAYTRACE_REF <> '' GROUP BY UDF_PAYTRACE_REF").fetchall()
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for journal, register, debit, credit in registers:
        totals[(journal, register)] += Decimal(str(debit or 0)) - Decimal(str(credit or 0))
    verdict.journals_checked = len(totals)
    verdict.unbalanced_journals = [f"{journal} {register}: off by {difference}"
                                   for (journal, register), difference in sorted(totals.items()) if difference != 0]
    verdict.duplicate_journal_entries = [reference for reference, count in entries if count > 1]


def _check_single_charges(verdict: Verdict, sales: list[ApprovedSale], web_invoice_ids: Collection[str]) -> None:
    """A web-store payment whose answer was lost is charged once: at most one approved sale per invoice_id."""
    charges: dict[str, int] = defaultdict(int)
    for sale in sales:
        charges[sale.invoice_id] += 1
    verdict.double_charges = sorted(invoice_id for invoice_id in web_invoice_ids if charges[invoice_id] > 1)
