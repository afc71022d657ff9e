"""The GL journal entries that clear each deposited batch, and the bank's fee and chargeback debits.

Card receipts debited each brand's clearing account in Sage (one receipt per sale). When the batch's
deposit lands the entry is (reference §3.4, gross method):

    Dr bank              the deposit
    Dr merchant fees     the daily discount kept by the processor (the settlement.fee_schedule's fee, or
                         the shortfall within max_fee_bps without one), and any tolerated rounding
    Dr chargebacks       a shortfall the deposit's description calls a chargeback/adjustment (the
                         amount it prints, when it prints one)
    Dr refunds           the group's refunds that nothing else booked (without the refund flow, or
                         created before its start date)
    Dr clearing          each brand's refunds the refund flow recorded in Sage: their card refunds
                         already credited the brand's clearing account (Dr AR / Cr clearing)
        Cr clearing      each brand's sales, to the brand's clearing account

so that every brand's clearing account returns to zero for the batch and no refund is booked twice.
A refund of the batch that the refund flow has not recorded yet holds the entry (the
reconciliation's `batch_refunds_not_in_sage` says which); it posts on a later run, once recorded.

A sale of the batch that is not a receipt in Sage yet (an open receivable exception) did not debit clearing; with
gl_accounts.unposted_sales set it is credited there instead (one line per sale, its transaction id in
the comment), so the deposit, the fees and clearing are booked on time. When its receipt posts, the
next run moves it: `PT-S<transaction id>` Dr unposted sales / Cr the brand's clearing. Which sales are
parked is read back from Sage (`parked_sales`), so a lost warehouse changes nothing.

A merchant fee debit on the
statement (monthly discount, or daily discount's month-end rest) is Dr merchant fees / Cr bank
(unless settlement.fee_debits_from_statement: the fee statement books it per brand); a chargeback
debit is Dr chargebacks / Cr bank. A credit the bank line calls a chargeback (the processor giving a
won case's money back) is `PT-CR…` Dr bank / Cr processor receivable, where the dispute flow's won
entry put what the processor owes (Cr chargebacks without a processor receivable).

With gl_accounts.processor_receivable set, a short deposit (not a netted chargeback) is not held:
Dr bank the cash that arrived, Dr processor receivable the difference; a deposit still missing after
its window is `PT-M…` Dr processor receivable / Cr clearing (its line names the group, so a deposit
matched later posts `PT-B…` Dr bank, fees / Cr processor receivable, never clearing twice). A short
deposit's receivable line names its group too; the rest arriving later as a processor credit of exactly
that amount (one credit for one short group, not before it was booked) is `PT-SP…` Dr bank / Cr
processor receivable instead of an unmatched credit.

Never guessed: an entry that needs an account that is not mapped or not active in Sage is not
produced (`gl_account_unmapped` says which role and which config key); an entry whose batch has an
open problem (sales not in Sage without an unposted-sales account, totals that do not tie out, a deposit
that differs) is held, and
the reconciliation's exception already says why. Every entry produced balances; that is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.ledger import JOURNAL_REFERENCE_LENGTH, JournalEntry, JournalLine
from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_cents
from sage_paytrace_pipeline.domain.settlement.frames import (
    concat_exceptions,
    dates_text,
    empty_exceptions,
    exception_rows,
    join_text,
    numbers_text,
)
from sage_paytrace_pipeline.domain.settlement.policy import CONFIG_KEYS, GlAccountMap
from sage_paytrace_pipeline.domain.settlement.reconcile import (
    CHARGEBACK_REVERSAL,
    DEPOSIT_MISSING,
    DEPOSIT_VARIANCE,
    DIFFERS_REASON,
    NETTED,
    NO_DEPOSIT_REASON,
    NOTHING,
    POSTABLE_METHODS,
    SHORT,
    SHORT_PAID,
    THROUGH_CLEARING,
    UNPOSTED_REASON,
    Reconciliation,
)

GL_ACCOUNT_UNMAPPED = "gl_account_unmapped"
POSTING_DATE_RULES = ("deposit_date", "closed_date")
REFERENCE_LENGTH = JOURNAL_REFERENCE_LENGTH

ENTRY_COLUMNS = ("reference", "kind", "posting_date", "description", "batch_number", "funding_group",
                 "source_ids", "debit_cents", "credit_cents", "line_count")
LINE_COLUMNS = ("reference", "line_no", "role", "brand", "account", "debit_cents", "credit_cents", "comment")
HELD_COLUMNS = ("reference", "kind", "batch_number", "funding_group", "reason")

_ROLE_ORDER = {"bank": 0, "processor_receivable": 1, "merchant_fees": 2, "chargebacks": 3, "refunds": 4,
               "clearing": 5, "unposted_sales": 6}
# A deposit that never arrived (after its window) is booked to the processor receivable whole.
MISSING = "missing_deposit"
_RECEIVABLE_METHODS = (SHORT, MISSING)
# A short deposit's receivable line names its group too ("Short batch 12 CARDS"; Sage keeps 30 characters
# of a line comment), so the rest arriving later as its own credit is recognized (`short_deposits_booked`).
_SHORT_PATTERN = re.compile(r"^Short batch (\d+) (\S+)$")
# The receivable line of a missing deposit's entry (`PT-M…`) names its group: Sage's GL detail is the
# record that it was booked, so a deposit matched later clears the receivable instead of clearing.
_MISSING_COMMENT = "Missing batch "
_MISSING_PATTERN = re.compile(r"^Missing batch (\d+) (\S+)$")
UNPOSTED_SALE_RECLASS = "unposted_sale_reclass"
# The comments of the unposted-sales lines end in the transaction id: Sage's GL detail is the record
# of which sales a posted deposit entry parked (30 characters hold any 10-digit id).
_PARKED_COMMENT = "Not yet in AR: sale "
_RELEASED_COMMENT = "Now in AR: sale "
_PARKED = re.compile(r"sale (\d+)$")
_KEY = ["batch_number", "funding_group"]


class UnbalancedPlanError(AssertionError):
    """An entry of the plan whose debits differ from its credits: a bug, never posted."""


@dataclass(frozen=True)
class JournalPlan:
    """Entries to post (one row each), their lines, the quarantined ones and the held ones.

    Lines carry signed roles resolved to accounts; amounts are positive int64 cents on one side.
    """

    entries: pd.DataFrame
    lines: pd.DataFrame
    exceptions: pd.DataFrame
    held: pd.DataFrame

    def lines_of(self, reference: str) -> pd.DataFrame:
        return self.lines[self.lines["reference"] == reference].reset_index(drop=True)


def deposit_reference(batch_number: int, closed_date: object, funding_group: str) -> str:
    """`PT-B{batch}-{yymmdd closed}-{group}`: PayTrace batch numbers wrap, the date tells them apart."""
    return f"PT-B{int(batch_number)}-{pd.Timestamp(closed_date):%y%m%d}-{funding_group}"


def journal_entries(reconciliation: Reconciliation, *, accounts: GlAccountMap,
                    posting_date_rule: str = "deposit_date", parked: pd.DataFrame | None = None,
                    receipt_dates: pd.DataFrame | None = None,
                    missing_booked: pd.DataFrame | None = None) -> JournalPlan:
    """The balanced entries for every deposited, postable batch and every fee/chargeback debit, and
    the reclass of each `parked` sale (transaction_id, amount_cents: `parked_sales`) now in Sage,
    dated its receipt's posting date (`receipt_dates`: transaction_id, posting_date; not before
    the policy's first_open_date; the reconciliation's as_of for a receipt without one).
    `missing_booked` (batch_number, funding_group: `missing_deposits_booked`): the groups whose missing
    deposit was booked to the processor receivable; their deposit, once matched, clears it."""
    if posting_date_rule not in POSTING_DATE_RULES:
        raise ValueError(f"posting_date_rule must be one of {POSTING_DATE_RULES}, got {posting_date_rule!r}")
    if not isinstance(accounts, GlAccountMap):
        raise TypeError("accounts must be a GlAccountMap")

    entries, lines, held = _deposit_entries(reconciliation, posting_date_rule, park=accounts.unposted_sales is not None,
                                            receivable=accounts.processor_receivable is not None,
                                            missing_booked=missing_booked)
    item_entries, item_lines = _bank_item_entries(reconciliation,
                                                  receivable=accounts.processor_receivable is not None)
    reclass_entries, reclass_lines = _reclass_entries(reconciliation, parked, receipt_dates)
    entries = pd.concat([entries, item_entries, reclass_entries], ignore_index=True)
    lines = pd.concat([lines, item_lines, reclass_lines], ignore_index=True)

    lines = lines[lines["amount"] != 0].copy()
    lines["account"] = _resolve(lines, accounts)
    unmapped, quarantined = _unmapped(lines, entries, accounts)
    lines = lines[~lines["reference"].isin(quarantined["reference"])]
    entries = entries[~entries["reference"].isin(quarantined["reference"])]
    held = pd.concat([held, quarantined], ignore_index=True)

    lines = _finish_lines(lines)
    entries = _finish_entries(entries, lines)
    _check(entries, lines)
    return JournalPlan(entries=entries, lines=lines, exceptions=unmapped,
                       held=held.loc[:, list(HELD_COLUMNS)].astype({"batch_number": "Int64"}).reset_index(drop=True))


# ---------------------------------------------------------------------------------- deposits


def _deposit_entries(reconciliation: Reconciliation, posting_date_rule: str, park: bool, receivable: bool,
                     missing_booked: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    expected = reconciliation.expected
    references = np.asarray(join_text(
        "PT-B", numbers_text(expected["batch_number"]), "-", _yymmdd(expected["closed_date"]), "-",
        expected["funding_group"]), dtype=object)
    expected = expected.assign(reference=references)
    if park:  # sales not in Sage yet no longer hold the entry: they are parked (only that reason)
        expected = expected.assign(hold_reason=expected["hold_reason"].where(
            expected["hold_reason"] != UNPOSTED_REASON, ""))
    if receivable:  # a short deposit, or one missing after its window, books what arrived (if any)
        expected = expected.assign(hold_reason=_owed_reasons_dropped(expected))

    held_rows = expected[expected["hold_reason"] != ""]
    held = pd.DataFrame({"reference": held_rows["reference"], "kind": "deposit",
                         "batch_number": held_rows["batch_number"], "funding_group": held_rows["funding_group"],
                         "reason": held_rows["hold_reason"]})

    postable = _postable(expected, reconciliation.matches)
    # A missing deposit's entry is `PT-M…`: a deposit matched later posts its own `PT-B…` entry
    missing = (postable["method"] == MISSING).to_numpy()
    postable["reference"] = np.where(missing, postable["reference"].str.replace("PT-B", "PT-M", n=1, regex=False),
                                     postable["reference"])

    deposit_day = pd.to_datetime(postable["posted_date"])
    closed_day = pd.to_datetime(postable["closed_date"])
    posting = closed_day if posting_date_rule == "closed_date" else deposit_day.fillna(closed_day)
    batch_text = numbers_text(postable["batch_number"])
    entries = pd.DataFrame({
        "reference": postable["reference"],
        "kind": np.where(missing, MISSING, "deposit"),
        "posting_date": posting.to_numpy(),
        "description": join_text("PayTrace batch ", batch_text, " ", postable["funding_group"]),
        "batch_number": postable["batch_number"],
        "funding_group": postable["funding_group"],
        "source_ids": join_text("batch ", batch_text, " ", postable["funding_group"], " / ", np.select(
            [postable["method"].to_numpy() == NOTHING, postable["method"].to_numpy() == MISSING],
            ["nothing to deposit", "no deposit"],
            np.array(join_text(postable["source_file"].fillna(""), ":",
                               numbers_text(postable["source_line"].fillna(0).astype("int64"))), dtype=object))),
    })

    reference = postable["reference"]
    # Refunds Sage holds as card refunds (they credited clearing): debited back to clearing, not expensed.
    recorded = reconciliation.refunds[reconciliation.refunds["treatment"] == THROUGH_CLEARING]
    recorded = recorded.groupby([*_KEY, "brand"], as_index=False, sort=True)["amount_cents"].sum()
    recorded = postable[[*_KEY, "reference"]].merge(recorded, on=_KEY, how="inner")
    recorded_by_group = recorded.groupby(_KEY, as_index=False)["amount_cents"].sum()
    recorded_cents = postable[_KEY].merge(recorded_by_group, on=_KEY, how="left")["amount_cents"]
    recorded_cents = recorded_cents.fillna(0).astype("int64").to_numpy()
    fee_comment = np.where(postable["fee_cents"].to_numpy() != 0, "Daily discount fees", "Deposit rounding")
    bank_reference = postable["bank_reference"].fillna("").astype(str)
    parts = [
        _lines(reference, "bank", None, postable["deposit_cents"],
               join_text("Deposit ", dates_text(deposit_day.fillna(closed_day)), " ", bank_reference)),
        _lines(reference, "merchant_fees", None, postable["fee_cents"] + postable["rounding_cents"], fee_comment),
        _lines(reference, "chargebacks", None, postable["adjustment_cents"],
               np.where(postable["method"].to_numpy() == NETTED, "Netted chargeback/adjustment", "")),
        _lines(reference, "refunds", None, postable["refund_cents"].to_numpy() - recorded_cents,
               join_text("Refunds batch ", batch_text)),
    ]
    unposted = _unposted_sales(reconciliation.sales).merge(postable[[*_KEY, "reference"]], on=_KEY, how="inner")
    parts.append(_lines(unposted["reference"], "unposted_sales", unposted["brand"], -unposted["amount_cents"],
                        join_text(_PARKED_COMMENT, numbers_text(unposted["transaction_id"]))))
    parked_by_brand = unposted.groupby([*_KEY, "brand"])["amount_cents"].sum().rename("parked_cents")
    brands = postable[[*_KEY, "reference"]].merge(reconciliation.brand_totals, on=_KEY, how="inner")
    brands = brands.join(parked_by_brand, on=[*_KEY, "brand"])
    receipts_cents = brands["sales_cents"] - brands["parked_cents"].fillna(0).astype("int64")
    parts.append(_lines(brands["reference"], "clearing", brands["brand"], -receipts_cents,
                        join_text(brands["brand"], " sales batch ", numbers_text(brands["batch_number"]))))
    parts.append(_lines(recorded["reference"], "clearing", recorded["brand"], recorded["amount_cents"],
                        join_text(recorded["brand"], " refunds batch ", numbers_text(recorded["batch_number"]))))
    lines = _late_deposits(postable, pd.concat(parts, ignore_index=True), missing_booked)
    return entries, pd.concat([lines, _owed_lines(postable, lines)], ignore_index=True), held


def missing_deposits_booked(comments: Iterable[str], debit_cents: Iterable[int]) -> pd.DataFrame:
    """batch_number, funding_group of the missing deposits posted entries booked to the processor
    receivable, from that account's GL detail lines (comment, debit in cents; other lines ignored)."""
    found = {(int(match.group(1)), match.group(2)) for comment, debit in zip(comments, debit_cents, strict=True)
             if int(debit) > 0 and (match := _MISSING_PATTERN.match(str(comment or "").strip()))}
    frame = pd.DataFrame(sorted(found), columns=["batch_number", "funding_group"])
    return frame.astype({"batch_number": "int64", "funding_group": object})


def short_deposits_booked(comments: Iterable[str], debit_cents: Iterable[int],
                          posting_dates: Iterable[object]) -> pd.DataFrame:
    """batch_number, funding_group, owed_cents, booked_date of the short deposits posted entries booked to
    the processor receivable, from that account's GL detail lines (other lines ignored). What is owed
    is the booked difference, paid or not: the entry paying it is posted once by its own reference."""
    found = {}
    for comment, debit, posted in zip(comments, debit_cents, posting_dates, strict=True):
        match = _SHORT_PATTERN.match(str(comment or "").strip())
        if int(debit) > 0 and match:
            found[(int(match.group(1)), match.group(2))] = (int(debit), pd.Timestamp(posted).date())
    frame = pd.DataFrame([(b, g, cents, on) for (b, g), (cents, on) in sorted(found.items())],
                         columns=["batch_number", "funding_group", "owed_cents", "booked_date"])
    return frame.astype({"batch_number": "int64", "funding_group": object, "owed_cents": "int64"})


def _late_deposits(postable: pd.DataFrame, lines: pd.DataFrame, missing_booked: pd.DataFrame | None) -> pd.DataFrame:
    """A deposit matched after its group was booked missing: the sales and refunds left clearing with
    the `PT-M…` entry, so its `PT-B…` entry books the cash, fees and adjustments against the receivable."""
    if missing_booked is None or missing_booked.empty:
        return lines
    groups = postable[postable["method"] != MISSING].merge(missing_booked, on=_KEY, how="inner")
    late = groups["reference"]
    if late.empty:
        return lines
    of_late = lines["reference"].isin(late).to_numpy()
    kept = lines[~of_late | lines["role"].isin(["bank", "merchant_fees", "chargebacks"]).to_numpy()]
    paid = kept[kept["reference"].isin(late)].groupby("reference")["amount"].sum().reindex(late).fillna(0)
    # the credit names its group: what the receivable still holds per batch is read back by it (write_offs.py)
    comment = join_text("Late deposit batch ", numbers_text(groups["batch_number"]), " ", groups["funding_group"])
    return pd.concat([kept, _lines(late, "processor_receivable", None, -paid.astype("int64").to_numpy(),
                                   comment)], ignore_index=True)


def _owed_reasons_dropped(expected: pd.DataFrame) -> np.ndarray:
    """The hold reasons without the one the processor receivable answers: a short deposit's difference
    (not an over deposit), a deposit missing after its window (not one still pending) of a positive amount."""
    status = expected["deposit_status"].to_numpy()
    owed = (status == "short") | ((status == "missing") & (expected["gross_cents"].to_numpy() > 0))
    reasons = expected["hold_reason"].to_numpy(dtype=object)
    dropped = {DIFFERS_REASON, NO_DEPOSIT_REASON}
    return np.array(["; ".join(part for part in str(text).split("; ") if part and part not in dropped) if flag
                     else text for text, flag in zip(reasons, owed, strict=True)], dtype=object)


def _postable(expected: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """The groups whose entry is produced, with their match; a missing deposit (its hold reason dropped
    for the processor receivable) gets an empty match: nothing in the bank."""
    postable = expected[expected["hold_reason"] == ""].merge(
        matches.drop(columns=["closed_date"]), on=_KEY, how="left")
    missing = postable["method"].isna().to_numpy() & (postable["deposit_status"] == "missing").to_numpy()
    postable["method"] = np.where(missing, MISSING, postable["method"].fillna("").to_numpy(dtype=object))
    postable = postable[postable["method"].isin((*POSTABLE_METHODS, *_RECEIVABLE_METHODS))].reset_index(drop=True)
    for column in ("deposit_cents", "fee_cents", "adjustment_cents", "rounding_cents"):
        postable[column] = postable[column].fillna(0).astype("int64")
    postable["source_file"] = postable["source_file"].fillna("")
    return postable


def _owed_lines(postable: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Dr processor receivable: what the processor still owes the group, the amount that balances its
    entry (sales credited less the deposit, fees, adjustments and refunds debited)."""
    owed = postable[postable["method"].isin(_RECEIVABLE_METHODS)]
    balance = lines.groupby("reference")["amount"].sum().reindex(owed["reference"]).fillna(0).astype("int64")
    group = join_text(numbers_text(owed["batch_number"]), " ", owed["funding_group"])
    comment = np.where(owed["method"].to_numpy() == MISSING,
                       np.asarray(join_text(_MISSING_COMMENT, group), dtype=object),
                       np.asarray(join_text("Short batch ", group), dtype=object))
    return _lines(owed["reference"], "processor_receivable", None, -balance.to_numpy(), comment)


def owed_by_processor(exceptions: pd.DataFrame, plan: JournalPlan) -> pd.DataFrame:
    """The reconciliation's exceptions, where a short or missing deposit is booked to the processor
    receivable: the action says what is booked and how to clear it (not "the entry is held")."""
    owed = plan.lines[plan.lines["role"] == "processor_receivable"].merge(
        plan.entries[["reference", "batch_number"]], on="reference", how="inner")
    if owed.empty or exceptions.empty:
        return exceptions
    by_batch = owed.groupby("batch_number").agg(reference=("reference", "; ".join), cents=("debit_cents", "sum"))
    hit = (exceptions["kind"].isin([DEPOSIT_VARIANCE, DEPOSIT_MISSING]) & (exceptions["severity"] == "error")
           & exceptions["batch_number"].isin(by_batch.index)).to_numpy()
    if not hit.any():
        return exceptions
    found = by_batch.reindex(exceptions.loc[hit, "batch_number"].astype("int64"))
    action = join_text("the cash that arrived is booked; ", format_cents(found["cents"]), " is in the processor "
                       "receivable (entry ", found["reference"], "): find it on the processor statement (a chargeback "
                       "case, a fee adjustment, a late deposit) and clear the receivable with a journal entry "
                       "(Dr bank, chargebacks or merchant fees / Cr processor receivable), or write it off by a "
                       "recorded decision (sage-paytrace settlement write-off ", numbers_text(found.index),
                       " --account GL --reason TEXT)")
    exceptions = exceptions.copy()
    exceptions.loc[hit, "action"] = np.asarray(action, dtype=object)
    return exceptions


def _unposted_sales(sales: pd.DataFrame) -> pd.DataFrame:
    return sales[sales["state"].ne("confirmed").fillna(True)].sort_values("transaction_id")


def parked_sales(comments: Iterable[str], credit_cents: Iterable[int]) -> pd.DataFrame:
    """transaction_id, amount_cents of the sales that posted deposit entries parked, from the
    unposted-sales account's GL detail lines (comment, credit in cents; other lines are ignored)."""
    found = [(int(match.group(1)), int(credit)) for comment, credit in zip(comments, credit_cents, strict=True)
             if int(credit) > 0 and str(comment or "").startswith(_PARKED_COMMENT)
             and (match := _PARKED.search(str(comment).strip()))]
    frame = pd.DataFrame(found, columns=["transaction_id", "amount_cents"]).astype("int64")
    return frame.groupby("transaction_id", as_index=False, sort=True)["amount_cents"].sum()


def _reclass_entries(reconciliation: Reconciliation, parked: pd.DataFrame | None,
                     receipt_dates: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`PT-S<id>`: a parked sale whose receipt is now in Sage leaves unposted sales for its clearing
    account (the receipt debited clearing), so both are back to what they hold for posted sales.
    Dated with the receipt (so a month's clearing and unposted-sales balances read right), not the run."""
    sales = reconciliation.sales[reconciliation.sales["state"].eq("confirmed").fillna(False)]
    if parked is None:
        parked = pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "amount_cents": pd.Series(dtype="int64")})
    released = parked.merge(sales.drop(columns=["amount_cents"]), on="transaction_id", how="inner")
    ids = numbers_text(released["transaction_id"])
    reference = pd.Series(join_text("PT-S", ids), dtype=object)
    entries = pd.DataFrame({
        "reference": reference,
        "kind": UNPOSTED_SALE_RECLASS,
        "posting_date": _reclass_dates(released["transaction_id"], receipt_dates, reconciliation),
        "description": join_text("Sale ", ids, " now in Sage AR"),
        "batch_number": released["batch_number"],
        "funding_group": released["funding_group"],
        "source_ids": join_text("transaction ", ids, " batch ", numbers_text(released["batch_number"])),
    })
    lines = pd.concat([
        _lines(reference, "unposted_sales", released["brand"], released["amount_cents"],
               join_text(_RELEASED_COMMENT, ids)),
        _lines(reference, "clearing", released["brand"], -released["amount_cents"],
               join_text(released["brand"], " sale ", ids)),
    ], ignore_index=True)
    return entries, lines


def _reclass_dates(transaction_ids: pd.Series, receipt_dates: pd.DataFrame | None,
                   reconciliation: Reconciliation) -> np.ndarray:
    """Each receipt's posting date, moved to the first open day when it falls in a closed period."""
    as_of = pd.Timestamp(reconciliation.as_of)
    if receipt_dates is None or receipt_dates.empty:
        dates = pd.Series(as_of, index=transaction_ids.index)
    else:
        by_id = receipt_dates.drop_duplicates("transaction_id").astype({"transaction_id": "int64"}).set_index(
            "transaction_id")["posting_date"]
        dates = pd.to_datetime(transaction_ids.astype("int64").map(by_id)).fillna(as_of)
    first_open = reconciliation.policy.first_open_date
    if first_open is not None:
        dates = dates.clip(lower=pd.Timestamp(first_open))
    return dates.to_numpy()


def _bank_item_entries(reconciliation: Reconciliation, *, receivable: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    items = reconciliation.bank_items
    if reconciliation.policy.fee_debits_from_statement:  # the fee statement books them (monthly_fees.py)
        items = items[items["kind"] != "monthly_fees"].reset_index(drop=True)
    fee = (items["kind"] == "monthly_fees").to_numpy()
    given_back = (items["kind"] == CHARGEBACK_REVERSAL).to_numpy()
    rest_paid = (items["kind"] == SHORT_PAID).to_numpy()
    amount = -items["amount_cents"].to_numpy()  # debits are negative on the statement
    posted = pd.to_datetime(items["posted_date"])
    entries = pd.DataFrame({
        "reference": items["reference"],
        "kind": items["kind"],
        "posting_date": posted.to_numpy(),
        "description": join_text(np.select([fee, given_back, rest_paid],
                                           ["Merchant fees ", "Chargeback reversal ", "Short deposit paid "],
                                           "Chargeback "), dates_text(posted)),
        "batch_number": pd.array([pd.NA] * len(items), dtype="Int64"),
        "funding_group": "",
        "source_ids": join_text(items["source_file"], ":", numbers_text(items["source_line"]), " ref ",
                                items["bank_reference"]),
    })
    reference = items["reference"]
    offset_role = np.select([fee, (given_back & receivable) | rest_paid],
                            ["merchant_fees", "processor_receivable"], "chargebacks")
    # the rest of a short deposit names the group it pays (what the next run reads back from Sage)
    offset_comment = np.where(rest_paid, items["pays"].to_numpy(dtype=object), items["description"].to_numpy())
    lines = pd.concat([
        _lines(reference, offset_role, None, amount, offset_comment),
        _lines(reference, "bank", None, -amount, items["description"]),
    ], ignore_index=True)
    return entries, lines


def _lines(reference: pd.Series, role: str | np.ndarray, brand: pd.Series | None, amount: pd.Series | np.ndarray,
           comment: Iterable[str] | np.ndarray | str) -> pd.DataFrame:
    size = len(reference)
    return pd.DataFrame({
        "reference": np.asarray(reference, dtype=object),
        "role": np.asarray(role, dtype=object) if not isinstance(role, str) else np.full(size, role, dtype=object),
        "brand": np.asarray(brand, dtype=object) if brand is not None else np.full(size, "", dtype=object),
        "amount": np.asarray(amount, dtype="int64"),
        "comment": np.full(size, comment, dtype=object) if isinstance(comment, str)
        else np.asarray(list(comment), dtype=object),
    })


# ---------------------------------------------------------------------------------- accounts


def _resolve(lines: pd.DataFrame, accounts: GlAccountMap) -> np.ndarray:
    by_role = {role: accounts.account(role) for role in _ROLE_ORDER if role != "clearing"}
    account = lines["role"].map(by_role)
    clearing = (lines["role"] == "clearing").to_numpy()
    account = account.where(~clearing, lines["brand"].map(accounts.clearing_by_brand))
    return account.fillna("").astype(str).to_numpy(dtype=object)


def _unmapped(lines: pd.DataFrame, entries: pd.DataFrame,
              accounts: GlAccountMap) -> tuple[pd.DataFrame, pd.DataFrame]:
    account = lines["account"].to_numpy(dtype=object)
    missing = account == ""
    inactive = ~missing & ~np.isin(account, list(accounts.active_accounts))
    bad = lines[missing | inactive].drop_duplicates(["reference", "role", "brand"])
    if bad.empty:
        return empty_exceptions(), pd.DataFrame(columns=list(HELD_COLUMNS))
    bad = bad.merge(entries[["reference", "kind", "batch_number", "funding_group"]], on="reference", how="left")
    is_missing = (bad["account"] == "").to_numpy()
    clearing = (bad["role"] == "clearing").to_numpy()
    key = bad["role"].map(CONFIG_KEYS).to_numpy(dtype=object)
    what = np.where(clearing, join_text("the clearing account of ", bad["brand"], " receipts"),
                    join_text("the ", bad["role"], " account"))
    amount = format_cents(np.abs(bad["amount"].to_numpy()))
    problem = np.where(
        is_missing,
        join_text("entry ", bad["reference"], " needs ", what, " (", amount, ") but ", key, " is not set",
                  np.where(clearing, " for this brand", "")),
        join_text("entry ", bad["reference"], " needs ", what, " (", amount, "); account ", bad["account"],
                  " is not an active account in Sage"))
    action = np.where(
        is_missing,
        join_text("set ", key, np.where(clearing, join_text(" (or the clearing account of the Sage payment type "
                                                            "for ", bad["brand"], ")"), ""),
                  " to an active Sage account; the entry is produced on the next run, never with a guessed account"),
        join_text("activate ", bad["account"], " in Sage, or set ", key,
                  " to an active account; the entry is produced on the next run"))
    exceptions = exception_rows(GL_ACCOUNT_UNMAPPED, "error", bad["batch_number"],
                                source_ids=join_text(bad["reference"], " ", bad["role"],
                                                     np.where(clearing, join_text(" ", bad["brand"]), "")),
                                problem=problem, action=action)
    reasons = bad.assign(reason=join_text("GL account unmapped: ", bad["role"],
                                          np.where(clearing, join_text(" ", bad["brand"]), "")))
    quarantined = reasons.groupby("reference", as_index=False, sort=True).agg(
        kind=("kind", "first"), batch_number=("batch_number", "first"), funding_group=("funding_group", "first"),
        reason=("reason", "; ".join))
    return concat_exceptions([exceptions]), quarantined


# ----------------------------------------------------------------------------------- finish


def _finish_lines(lines: pd.DataFrame) -> pd.DataFrame:
    lines = lines.assign(order=lines["role"].map(_ROLE_ORDER)).sort_values(
        ["reference", "order", "brand"], kind="stable", ignore_index=True)
    amount = lines["amount"].to_numpy()
    return pd.DataFrame({
        "reference": lines["reference"],
        "line_no": (lines.groupby("reference", sort=False).cumcount() + 1).astype("int64"),
        "role": lines["role"],
        "brand": lines["brand"],
        "account": lines["account"],
        "debit_cents": np.where(amount > 0, amount, 0).astype("int64"),
        "credit_cents": np.where(amount < 0, -amount, 0).astype("int64"),
        "comment": lines["comment"],
    }, columns=list(LINE_COLUMNS))


def _finish_entries(entries: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    totals = lines.groupby("reference", as_index=False).agg(
        debit_cents=("debit_cents", "sum"), credit_cents=("credit_cents", "sum"), line_count=("line_no", "size"))
    entries = entries.merge(totals, on="reference", how="inner")
    entries = entries.sort_values(["posting_date", "reference"], ignore_index=True)
    posting = pd.to_datetime(entries["posting_date"])
    entries["posting_date"] = pd.Series(posting.dt.date.to_numpy(dtype=object), index=entries.index)
    entries["batch_number"] = entries["batch_number"].astype("Int64")
    for column in ("debit_cents", "credit_cents", "line_count"):
        entries[column] = entries[column].astype("int64")
    return entries.loc[:, list(ENTRY_COLUMNS)]


def _check(entries: pd.DataFrame, lines: pd.DataFrame) -> None:
    """Every entry balances, has two lines or more, a unique reference Sage can store."""
    unbalanced = entries[entries["debit_cents"] != entries["credit_cents"]]
    if len(unbalanced):
        row = unbalanced.iloc[0]
        raise UnbalancedPlanError(
            f"{len(unbalanced)} entr(ies) out of balance, e.g. {row['reference']}: debits {row['debit_cents']} "
            f"cents, credits {row['credit_cents']} cents")
    short = entries[entries["line_count"] < 2]
    if len(short):
        raise UnbalancedPlanError(f"entry {short['reference'].iloc[0]} has fewer than two lines")
    if entries["reference"].duplicated().any():
        duplicate = entries.loc[entries["reference"].duplicated(), "reference"].iloc[0]
        raise UnbalancedPlanError(f"duplicate journal reference {duplicate}")
    too_long = entries[entries["reference"].str.len() > REFERENCE_LENGTH]
    if len(too_long):
        raise ValueError(f"journal reference {too_long['reference'].iloc[0]!r} is longer than {REFERENCE_LENGTH} "
                         "characters (batch number too large for the reference format)")
    if ((lines["debit_cents"] > 0) == (lines["credit_cents"] > 0)).any():
        raise UnbalancedPlanError("a journal line with both or neither side")


def _yymmdd(dates: pd.Series) -> list[str]:
    return list(pd.DatetimeIndex(pd.to_datetime(dates)).strftime("%y%m%d"))


# --------------------------------------------------------------------------------- to Sage


def to_journal_entries(plan: JournalPlan) -> list[JournalEntry]:
    """The plan's entries as the ledger's `JournalEntry` documents (Decimal dollars), in the plan's order."""
    documents = []
    # not dict(groupby): a GroupBy has a .keys attribute, so dict() would take it for a mapping
    grouped = {reference: frame for reference, frame in plan.lines.groupby("reference", sort=False)}  # noqa: C416
    for entry in plan.entries.itertuples(index=False):
        rows = grouped[entry.reference].sort_values("line_no")
        lines = tuple(
            JournalLine(account=account, debit=cents_to_decimal(int(debit)), credit=cents_to_decimal(int(credit)),
                        comment=comment)
            for account, debit, credit, comment in zip(rows["account"], rows["debit_cents"], rows["credit_cents"],
                                                       rows["comment"]))
        documents.append(JournalEntry(reference=entry.reference, posting_date=entry.posting_date,
                                      comment=entry.description, lines=lines))
    return documents


__all__ = [
    "GL_ACCOUNT_UNMAPPED",
    "UNPOSTED_SALE_RECLASS",
    "JournalPlan",
    "UnbalancedPlanError",
    "deposit_reference",
    "journal_entries",
    "missing_deposits_booked",
    "owed_by_processor",
    "parked_sales",
    "to_journal_entries",
]
