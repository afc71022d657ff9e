"""One business day's settlement: its batches against the posted receipts and the bank deposits,
the journal entries that clear the deposited ones, and posting those entries to Sage once.

A day's reconciliation looks at the batches of the lookback window too (`batch_window`), so a
deposit is assigned to exactly one batch the same way whichever day is run; the day keeps only its
own rows (`for_day`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.currency import PAYTRACE_AMOUNT, RateTable
from sage_paytrace_pipeline.domain.settlement import (
    GlAccountMap,
    JournalPlan,
    RefundFlow,
    SettlementPolicy,
    journal_entries,
    owed_by_processor,
    reconcile,
    to_journal_entries,
)
from sage_paytrace_pipeline.domain.settlement.currency import journal_in_sage_currency
from sage_paytrace_pipeline.sage100.models import GlAccount
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.settlement.frames import (
    EXCEPTION_COLUMNS,
    account_map,
    batch_input,
    batch_window,
    for_day,
    line_keys,
    with_created_dates,
)
from sage_paytrace_pipeline.settlement.ledger import missing_in_sage, parked_in_sage, short_owed_in_sage

POSTED_COLUMNS = ["reference", "posting_date", "entry_no", "created", "documents_json"]


@dataclass(frozen=True)
class DayInputs:
    """The window's batches, the transactions of the day's own batches, and the bank lines that may pay them."""

    batches: pd.DataFrame
    transactions: pd.DataFrame
    deposits: pd.DataFrame


@dataclass(frozen=True)
class DaySettlement:
    """The day's rows: expected deposits with their matches, journal lines, exceptions, and its
    batches' refunds with how their entries book them (expensed / through_clearing / not_in_sage)."""

    expected: pd.DataFrame
    matches: pd.DataFrame
    reconciliation: pd.DataFrame
    entries: pd.DataFrame
    lines: pd.DataFrame
    exceptions: pd.DataFrame
    refunds: pd.DataFrame


@dataclass(frozen=True)
class SageBooks:
    """What a settlement day reads back from Sage: the GL accounts (with each brand's clearing account)
    and, from the GL detail, the sales parked in unposted sales, the missing deposits booked to the
    processor receivable and the short deposits owed there. Read once for a run's days
    (`read_books`): Sage does not change while they are reconciled (entries post afterwards)."""

    chart: list[GlAccount]
    accounts: GlAccountMap
    parked: pd.DataFrame
    missing: pd.DataFrame
    short_owed: pd.DataFrame


def read_books(config: PipelineConfig, reader: Sage100Reader) -> SageBooks:
    chart = reader.gl_accounts()
    accounts = account_map(config, reader.payment_types(), chart)
    return SageBooks(chart, accounts, parked=parked_in_sage(reader, accounts, chart),
                     missing=missing_in_sage(reader, accounts, chart),
                     short_owed=short_owed_in_sage(reader, accounts, chart))


def range_window_inputs(days: list[date], policy: SettlementPolicy, batches: pd.DataFrame,
                        batch_transactions: pd.DataFrame, bank_deposits: pd.DataFrame, *,
                        short_owed: pd.DataFrame | None = None) -> list[DayInputs]:
    """Per day of the run: the batches closed within the day's window, the transactions of the day's own
    batches, and the bank lines that can change the day's rows (`_day_lines`). `short_owed`: the short
    deposits booked to the processor receivable, as `settle_day` reconciles with them (`SageBooks`).

    The other batches of the window compete for the bank lines by their summary totals alone (what a
    deposit is expected to be); their transactions only make rows of their own days (tie-out, sales
    in Sage, refunds, entries), which `settle_day` does not keep, so they are not read: a day's work
    does not grow with the window, nor with the range.

    The inputs' dates are converted once for the run, not once a day (the bank lines are every line
    ever loaded), and each batch's transactions are found once."""
    batches = batches.assign(business_date=pd.to_datetime(batches["business_date"]).dt.date)
    deposits = bank_deposits.assign(posted_date=pd.to_datetime(bank_deposits["posted_date"]).dt.date)
    posted = pd.to_datetime(bank_deposits["posted_date"]).to_numpy().astype("datetime64[D]")
    owed = short_owed["owed_cents"] if short_owed is not None else pd.Series(dtype="int64")
    may_pay_owed = bank_deposits["amount_cents"].isin(owed).to_numpy()
    rows_of_batch = pd.Series(np.arange(len(batch_transactions))).groupby(
        batch_transactions["batch_number"].to_numpy()).indices
    return [_day_window(day, policy, batches, batch_transactions.take(_rows_of(rows_of_batch, batches, day)),
                        deposits[_day_lines(day, policy, posted, may_pay_owed)]) for day in days]


def _rows_of(rows_of_batch: dict, batches: pd.DataFrame, day: date) -> np.ndarray:
    """The positions of the transactions of the batches closed on `day`, in their order."""
    own = batches.loc[batches["business_date"] == day, "batch_number"]
    found = [rows_of_batch[number] for number in set(own.tolist()) if number in rows_of_batch]
    return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype="int64")


def _day_lines(day: date, policy: SettlementPolicy, posted: np.ndarray, may_pay_owed: np.ndarray) -> np.ndarray:
    """Which bank lines a day's reconciliation reads: those posted after its window opened, up to the last
    day a deposit of the window's batches may arrive (the window's last closing day plus the deposit
    window: a later line is no batch's candidate, and the day keeps no row of it), and, later still, a
    credit of an amount owed for a short deposit (whether it pays one depends on every such credit
    after the booking: two of them pay nothing, `reconcile`'s `short_deposit_paid`)."""
    first, last = batch_window(day, policy.deposit_window_business_days)
    reach = np.busday_offset(np.datetime64(last, "D"), policy.deposit_window_business_days, roll="backward",
                             holidays=np.array(policy.holidays, dtype="datetime64[D]"))
    return (posted > np.datetime64(first, "D")) & ((posted <= reach) | may_pay_owed)


def _day_window(day: date, policy: SettlementPolicy, batches: pd.DataFrame, transactions: pd.DataFrame,
                deposits: pd.DataFrame) -> DayInputs:
    first, last = batch_window(day, policy.deposit_window_business_days)
    return DayInputs(batches[batches["business_date"].between(first, last)], transactions, deposits)


def settle_day(day: date, config: PipelineConfig, inputs: DayInputs, receipts: pd.DataFrame, *,
               reader: Sage100Reader, as_of: date, recorded_refunds: frozenset[int] = frozenset(),
               rates: RateTable | None = None, refund_cents: Mapping[int, tuple[int, str]] | None = None,
               books: SageBooks | None = None) -> DaySettlement:
    """Reconcile the window as of `as_of`, plan the journal entries (GL accounts and parked sales read
    from Sage), and keep the day's own batches, entries, lines and exceptions. Needs `settlement`
    configured: without it nothing is reconciled (the caller reports `not_configured_exception`).

    With `rates` (currency conversion on) the receipts carry `paytrace_amount_cents`: batches are
    reconciled in PayTrace's currency and the entries converted to Sage's (`journal_in_sage_currency`).

    With the refund flow on (`config.refunds`), `recorded_refunds` are the window's refunds Sage holds
    as card refunds (`settlement.refunds.refunds_recorded_in_sage`): their entries debit clearing;
    under a conversion by `refund_cents`, what those card refunds credited in Sage
    (`settlement.refunds.refunds_in_sage_currency`). `books`: what `read_books` read from Sage for the
    run's days (read now when not given)."""
    policy = config.settlement
    if policy is None:
        raise ValueError("settlement is not configured: there is no discount method to reconcile by")
    flow = refund_flow(config, recorded_refunds)
    transactions = inputs.transactions
    if flow is not None:
        transactions = with_created_dates(transactions, config.merchant.time_zone)
    in_sage_currency = receipts
    if rates is not None:  # reconciled in PayTrace's currency: each receipt's amount as PayTrace charged it
        receipts = receipts.assign(amount_cents=receipts[PAYTRACE_AMOUNT].fillna(receipts["amount_cents"])
                                   .astype("int64")).drop(columns=[PAYTRACE_AMOUNT])
    books = books or read_books(config, reader)
    accounts = books.accounts
    recon = reconcile(batch_input(inputs.batches), transactions, receipts,
                      inputs.deposits.drop(columns=["sha256", "currency"]), policy=policy, as_of=as_of,
                      refund_flow=flow, short_owed=books.short_owed)
    receipt_dates = receipts[["transaction_id", "posting_date"]] if "posting_date" in receipts else None
    plan = journal_entries(recon, accounts=accounts, parked=books.parked, receipt_dates=receipt_dates,
                           missing_booked=books.missing)
    if rates is not None:
        plan = _converted(plan, recon, config, inputs=inputs, receipts=in_sage_currency, rates=rates,
                          active_accounts=accounts.active_accounts, refund_cents=refund_cents or {})
    batches, deposits = inputs.batches, inputs.deposits
    own = for_day(recon, set(batches.loc[batches["business_date"] == day, "batch_number"]),
                  line_keys(deposits[deposits["posted_date"] == day]))
    entries = plan.entries[plan.entries["batch_number"].isin(own["expected"]["batch_number"])
                           | (plan.entries["batch_number"].isna() & (plan.entries["posting_date"] == day))]
    lines = plan.lines[plan.lines["reference"].isin(entries["reference"])].merge(
        entries.drop(columns=["debit_cents", "credit_cents"], errors="ignore"), on="reference", how="left")
    journal_problems = plan.exceptions[plan.exceptions["batch_number"].isin(own["expected"]["batch_number"])]
    reconciled = owed_by_processor(own["exceptions"], plan)  # short/missing deposits: what is booked, how to clear it
    exceptions = pd.concat([reconciled, journal_problems], ignore_index=True)[EXCEPTION_COLUMNS]
    reconciliation = own["expected"].merge(own["matches"], on=["batch_number", "funding_group"], how="left",
                                           suffixes=("", "_match"))
    refunds = recon.refunds[recon.refunds["batch_number"].isin(own["expected"]["batch_number"])]
    return DaySettlement(own["expected"], own["matches"], reconciliation, entries, lines, exceptions, refunds)


def _converted(plan: JournalPlan, recon, config: PipelineConfig, *, inputs: DayInputs, receipts: pd.DataFrame,
               rates: RateTable, active_accounts, refund_cents: Mapping[int, tuple[int, str]]) -> JournalPlan:
    """The plan in Sage's currency: receipts' Sage amounts, sale days from the transactions' creation."""
    created = with_created_dates(inputs.transactions, config.merchant.time_zone)
    sale_dates = dict(zip(created["transaction_id"].astype("int64"), created["created_date"], strict=True))
    receipt_cents = dict(zip(receipts["transaction_id"].astype("int64"), receipts["amount_cents"].astype("int64"),
                             strict=True))
    assert config.currency.exchange_difference_account is not None  # the config requires it with conversion
    return journal_in_sage_currency(plan, recon, receipt_cents=receipt_cents, sale_dates=sale_dates, rates=rates,
                                    exchange_account=config.currency.exchange_difference_account,
                                    active_accounts=active_accounts, refund_cents=refund_cents)


def refund_flow(config: PipelineConfig, recorded_refunds: frozenset[int]) -> RefundFlow | None:
    """How the deposit entries treat refunds: None (expensed, as before the flow) while `refunds` is not
    configured; else through clearing once recorded in Sage, expensed before `refunds.start_date`."""
    if config.refunds is None:
        return None
    start = config.refunds.start_date
    return RefundFlow(recorded=frozenset(recorded_refunds), start_date=date.fromisoformat(start) if start else None)


def post_journal_entries(writer: Sage100Writer, gl_journal_entries: pd.DataFrame) -> pd.DataFrame:
    """Post the day's journal lines to Sage's general ledger, each entry once (idempotent by
    reference); one row per entry: Sage's entry number and whether this call created it."""
    entries = gl_journal_entries.drop_duplicates("reference")
    plan = JournalPlan(entries=entries.assign(posting_date=pd.to_datetime(entries["posting_date"]).dt.date),
                       lines=gl_journal_entries, exceptions=pd.DataFrame(), held=pd.DataFrame())
    rows = []
    for document in to_journal_entries(plan):
        result = writer.post_journal_entry(document)
        rows.append({"reference": document.reference, "posting_date": document.posting_date,
                     "entry_no": result.documents.get("EntryNo", ""), "created": result.created,
                     "documents_json": json.dumps(result.documents, sort_keys=True)})
    flush = getattr(writer, "flush", None)
    if callable(flush):
        flush()
    posted = pd.DataFrame(rows, columns=POSTED_COLUMNS)
    return posted.merge(entries[["reference", "kind", "batch_number", "funding_group"]], on="reference", how="left")
