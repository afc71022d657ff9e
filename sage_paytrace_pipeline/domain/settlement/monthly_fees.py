"""A monthly-discount merchant's fee statement against the bank's one fee debit, and its journal entry.

Under monthly discount (reference card-accounting §3.1) the full batch is deposited and all of a
month's fees are debited in one lump early the next month. The processor's fee statement says what
the lump is made of; this module finds the lump on the bank statement and books it per brand:

    Dr merchant fees     each statement line (brand / description; a credit line is a credit)
    Dr merchant fees     a difference within settlement.variance_tolerance_cents ("rounding")
        Cr bank          the debit, as the bank shows it

reference `PT-FEESTMT-YYYYMM`, posted on the debit's date. With
`settlement.fee_debits_from_statement` the daily settlement does not book the same debit again.

Never guessed: a debit that differs from the statement's total (beyond the tolerance) is reported
and the entry is held; a missing debit is a warning until the `fee_day`-th business day of the next
month plus `grace_business_days` has passed, an error after; a missing or inactive GL account
quarantines the entry (same exception as the daily journal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.domain.settlement.frames import (
    concat_exceptions,
    empty_exceptions,
    exception_rows,
)
from sage_paytrace_pipeline.domain.settlement.journal import (
    ENTRY_COLUMNS,
    HELD_COLUMNS,
    LINE_COLUMNS,
    JournalPlan,
    _check,
    _finish_entries,
    _finish_lines,
    _lines,
    _resolve,
    _unmapped,
)
from sage_paytrace_pipeline.domain.settlement.policy import (
    GlAccountMap,
    SettlementPolicy,
)

FEE_DEBIT_MISSING = "fee_debit_missing"
FEE_STATEMENT_VARIANCE = "fee_statement_variance"
FEE_STATEMENT_MISSING = "fee_statement_missing"
FEE_STATEMENT_NOT_BOOKED = "fee_statement_not_booked"
KIND = "fee_statement"
GRACE_BUSINESS_DAYS = 5

STATEMENT_COLUMNS = ("source_file", "source_line", "brand", "description", "amount_cents")
BANK_COLUMNS = ("source_file", "source_line", "account_id", "posted_date", "amount_cents", "type_code",
                "bank_reference", "description")


@dataclass(frozen=True)
class FeeDebitMatch:
    """The bank line that is the month's fee debit (amount as on the statement: negative for a debit)."""

    source_file: str
    source_line: int
    posted_date: date
    amount_cents: int
    bank_reference: str
    description: str


@dataclass(frozen=True)
class FeeStatementResult:
    """What the month's reconciliation decided; `entries`/`lines` are shaped like `JournalPlan`'s."""

    month: date
    status: str  # matched, variance, debit_missing, no_statement, nothing_charged
    total_cents: int  # the statement's total (what should be debited)
    match: FeeDebitMatch | None  # the debit found (matched or variance)
    deadline: date  # the last day the debit may still arrive without being an error
    entries: pd.DataFrame
    lines: pd.DataFrame
    exceptions: pd.DataFrame
    held: pd.DataFrame

    @property
    def plan(self) -> JournalPlan:
        return JournalPlan(entries=self.entries, lines=self.lines, exceptions=self.exceptions, held=self.held)


def fee_statement_reference(month: date) -> str:
    return f"PT-FEESTMT-{month:%Y%m}"


def debit_deadline(month: date, policy: SettlementPolicy, *, fee_day: int = 3,
                   grace_business_days: int = GRACE_BUSINESS_DAYS) -> date:
    """The `fee_day`-th business day of the month after `month`, plus the grace business days."""
    following = _next_month(month)
    holidays = [np.datetime64(day, "D") for day in policy.holidays]
    day = np.busday_offset(np.datetime64(following, "D"), fee_day - 1 + grace_business_days, roll="forward",
                           holidays=holidays)
    return pd.Timestamp(day).date()


def reconcile_fee_statement(statement_lines: pd.DataFrame, bank_lines: pd.DataFrame, *, month: date,
                            policy: SettlementPolicy, accounts: GlAccountMap, as_of: date, fee_day: int = 3,
                            grace_business_days: int = GRACE_BUSINESS_DAYS,
                            statement_name: str = "") -> FeeStatementResult:
    """Match the month's fee statement (`statement_lines`, all of one month) to its bank debit.

    `bank_lines` are bank statement lines (`BANK_COLUMNS`, any dates: only the next month's are
    candidates). `as_of` is today in the merchant's zone (when a missing debit becomes an error).
    """
    month = date(month.year, month.month, 1)
    reference = fee_statement_reference(month)
    deadline = debit_deadline(month, policy, fee_day=fee_day, grace_business_days=grace_business_days)
    statement = _statement(statement_lines)
    name = statement_name or ", ".join(dict.fromkeys(statement["source_file"].astype(str))) or "fee statement"
    total = int(statement["amount_cents"].sum())
    late = as_of > deadline

    def result(status: str, exceptions: pd.DataFrame, match: FeeDebitMatch | None = None,
               plan: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
               held_reason: str = "") -> FeeStatementResult:
        entries, lines, held = plan or (_empty_entries(), _empty_lines(), _empty_held())
        if held_reason:
            held = pd.concat([held, _held(reference, held_reason)], ignore_index=True)
        return FeeStatementResult(month=month, status=status, total_cents=total, match=match, deadline=deadline,
                                  entries=entries, lines=lines, exceptions=concat_exceptions([exceptions]),
                                  held=held.loc[:, list(HELD_COLUMNS)].astype({"batch_number": "Int64"})
                                  .reset_index(drop=True))

    if statement.empty:
        exceptions = _exception(
            FEE_STATEMENT_MISSING, "error" if late else "warning", f"fee statement {month:%Y-%m}",
            f"no fee statement for {month:%Y-%m} in the fee statement folder",
            "download the processor's monthly fee statement (CSV) into bank.fee_statement_folder; the month's "
            "fee debit is booked from it")
        return result("no_statement", exceptions)
    if total == 0:
        return result("nothing_charged", empty_exceptions())

    candidates = _candidates(bank_lines, month, policy, total)
    exact = candidates[candidates["difference"].abs() <= policy.variance_tolerance_cents]
    if exact.empty:
        near = candidates[candidates["difference"].abs() * 10_000 <= abs(total) * policy.variance_match_bps]
        if len(near):
            best = _match(near.iloc[0])
            exceptions = _exception(
                FEE_STATEMENT_VARIANCE, "error", f"{name} / {best.source_file}:{best.source_line} ref "
                f"{best.bank_reference}",
                f"the {month:%Y-%m} fee statement totals {format_cents([total])[0]} but the bank's fee debit on "
                f"{best.posted_date:%Y-%m-%d} ('{best.description}') is {format_cents([-best.amount_cents])[0]} "
                f"(difference {format_cents([-best.amount_cents - total])[0]})",
                "ask the processor which statement is right; book the difference by hand or load the corrected "
                f"statement; entry {reference} is held until the amounts agree")
            return result("variance", exceptions, best, held_reason="fee debit differs from the fee statement")
        exceptions = _exception(
            FEE_DEBIT_MISSING, "error" if late else "warning", name,
            f"no bank debit of {format_cents([total])[0]} for the {month:%Y-%m} fee statement in "
            f"{_next_month(month):%Y-%m} (description matching settlement.fee_pattern and processor_pattern)",
            (f"expected by {deadline:%Y-%m-%d}: check that the bank statements of {_next_month(month):%Y-%m} are "
             "loaded and that the fee debit's description matches settlement.fee_pattern / processor_pattern"
             if late else f"nothing to do yet: the debit is expected by {deadline:%Y-%m-%d}"))
        return result("debit_missing", exceptions)

    match = _match(exact.iloc[0])
    plan, unmapped, quarantined = _entry(statement, match, month, reference=reference, total=total, name=name,
                                         accounts=accounts)
    if not policy.fee_debits_from_statement:
        not_booked = _exception(
            FEE_STATEMENT_NOT_BOOKED, "warning", f"{name} / {match.source_file}:{match.source_line}",
            f"the {month:%Y-%m} fee statement matches the bank's fee debit, but settlement.fee_debits_from_statement "
            "is false: the daily settlement books that debit (PT-FEE-...) as one merchant fees line",
            "set settlement.fee_debits_from_statement: true to book fee debits per brand from the fee statement "
            "(before the debit's day is settled, so it is not booked twice)")
        return result("matched", not_booked, match, held_reason="settlement.fee_debits_from_statement is false")
    if len(quarantined):
        return result("matched", unmapped, match, plan=(_empty_entries(), _empty_lines(), quarantined))
    return result("matched", unmapped, match, plan=plan)


# ------------------------------------------------------------------------------------ helpers


def _columns_of(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """`columns` of an input frame, in order, indexed 0..n-1; a missing one is named."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}")
    return frame.loc[:, list(columns)].reset_index(drop=True)


def _statement(lines: pd.DataFrame) -> pd.DataFrame:
    frame = _columns_of(lines, "statement_lines", STATEMENT_COLUMNS)
    return frame.assign(amount_cents=frame["amount_cents"].astype("int64"),
                        brand=frame["brand"].fillna("").astype(str),
                        description=frame["description"].fillna("").astype(str))


def _candidates(bank_lines: pd.DataFrame, month: date, policy: SettlementPolicy, total: int) -> pd.DataFrame:
    """The next month's processor fee lines on the side of the total, closest first, then earliest."""
    lines = _columns_of(bank_lines, "bank_lines", BANK_COLUMNS)
    if lines.empty:
        return lines.assign(difference=pd.Series(dtype="int64"))
    posted = pd.to_datetime(lines["posted_date"]).dt.date
    following = _next_month(month)
    description = lines["description"].fillna("").astype(str)
    fee = description.str.contains(policy.fee_pattern, flags=re.IGNORECASE, regex=True) & \
        description.str.contains(policy.processor_pattern, flags=re.IGNORECASE, regex=True)
    fee |= lines["type_code"].fillna("").astype(str).str.upper().isin(policy.fee_type_codes)
    amount = lines["amount_cents"].astype("int64")
    keep = fee & posted.map(lambda day: (day.year, day.month) == (following.year, following.month)) & \
        (np.sign(amount) == -np.sign(total))
    if policy.bank_account_id is not None:
        keep &= lines["account_id"].astype(str) == policy.bank_account_id
    found = lines[keep].assign(posted_date=posted[keep], amount_cents=amount[keep])
    found = found.assign(difference=-found["amount_cents"] - total)
    found = found.assign(distance=found["difference"].abs())
    return found.sort_values(["distance", "posted_date", "source_file", "source_line"], kind="stable",
                             ignore_index=True).drop(columns=["distance"])


def _match(row: pd.Series) -> FeeDebitMatch:
    return FeeDebitMatch(source_file=str(row["source_file"]), source_line=int(row["source_line"]),
                         posted_date=row["posted_date"], amount_cents=int(row["amount_cents"]),
                         bank_reference="" if pd.isna(row["bank_reference"]) else str(row["bank_reference"]),
                         description="" if pd.isna(row["description"]) else str(row["description"]))


def _entry(statement: pd.DataFrame, match: FeeDebitMatch, month: date, *, reference: str, total: int, name: str,
           accounts: GlAccountMap):
    debit = -match.amount_cents  # what left the bank (positive for a debit)
    entries = pd.DataFrame({
        "reference": [reference], "kind": [KIND], "posting_date": [pd.Timestamp(match.posted_date)],
        "description": [f"Merchant fees {month:%Y-%m}"],
        "batch_number": pd.array([pd.NA], dtype="Int64"), "funding_group": [""],
        "source_ids": [f"{name} / {match.source_file}:{match.source_line} ref {match.bank_reference}"],
    })
    size = len(statement)
    brand = statement["brand"].to_numpy(dtype=object)
    comment = np.where(brand != "", brand + " " + statement["description"].to_numpy(dtype=object),
                       statement["description"].to_numpy(dtype=object))
    parts = [
        _lines(pd.Series([reference] * size), "merchant_fees", statement["brand"], statement["amount_cents"], comment),
        _lines(pd.Series([reference]), "merchant_fees", None, np.array([debit - total]), "Fee statement rounding"),
        _lines(pd.Series([reference]), "bank", None, np.array([-debit]),
               f"Fee debit {match.posted_date:%Y-%m-%d} {match.bank_reference}".strip()),
    ]
    lines = pd.concat(parts, ignore_index=True)
    lines = lines[lines["amount"] != 0].copy()
    # Accounts by role only: a brand on a fee line is a comment, not a clearing account.
    lines["account"] = _resolve(lines.assign(brand=""), accounts)
    unmapped, quarantined = _unmapped(lines.assign(brand=""), entries, accounts)
    if len(quarantined):
        return (_empty_entries(), _empty_lines(), _empty_held()), unmapped, quarantined.loc[:, list(HELD_COLUMNS)]
    # Keep statement order (brand, discount then items) under the role order of the daily journal.
    lines = _finish_lines(lines.assign(brand=""))
    lines["brand"] = _brands_in_order(lines, statement)
    entries = _finish_entries(entries, lines)
    _check(entries, lines)
    return (entries, lines, _empty_held()), unmapped, _empty_held()


def _brands_in_order(lines: pd.DataFrame, statement: pd.DataFrame) -> list[str]:
    """The brand of each fee line (the lines kept file order within their role)."""
    brands = iter([b for b, a in zip(statement["brand"], statement["amount_cents"]) if a != 0])
    out = []
    for role, comment in zip(lines["role"], lines["comment"]):
        out.append(next(brands, "") if role == "merchant_fees" and comment != "Fee statement rounding" else "")
    return out


def _exception(kind: str, severity: str, source: str, problem: str, action: str) -> pd.DataFrame:
    return exception_rows(kind, severity, None, size=1, source_ids=[source], problem=[problem], action=[action])


def _held(reference: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"reference": [reference], "kind": [KIND], "batch_number": pd.array([pd.NA], dtype="Int64"),
                         "funding_group": [""], "reason": [reason]})


def _empty_held() -> pd.DataFrame:
    return pd.DataFrame({"reference": pd.Series(dtype=object), "kind": pd.Series(dtype=object),
                         "batch_number": pd.Series(dtype="Int64"), "funding_group": pd.Series(dtype=object),
                         "reason": pd.Series(dtype=object)})


def _empty_entries() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in ENTRY_COLUMNS})
    return frame.astype({"batch_number": "Int64", "debit_cents": "int64", "credit_cents": "int64",
                         "line_count": "int64"})


def _empty_lines() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in LINE_COLUMNS})
    return frame.astype({"line_no": "int64", "debit_cents": "int64", "credit_cents": "int64"})


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


__all__ = ["FEE_DEBIT_MISSING", "FEE_STATEMENT_MISSING", "FEE_STATEMENT_NOT_BOOKED", "FEE_STATEMENT_VARIANCE",
           "FeeDebitMatch", "FeeStatementResult", "debit_deadline", "fee_statement_reference",
           "reconcile_fee_statement"]
