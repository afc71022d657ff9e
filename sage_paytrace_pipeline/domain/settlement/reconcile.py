"""PayTrace settlement batches <-> the receipts posted in Sage <-> bank deposits.

One batch funds as one deposit per *funding group*: "CARDS" (Visa, Mastercard, Discover, ...) and,
when `amex_funds_separately`, "AMEX" (American Express funds its own sales). The expected deposit of
a group is its sales minus its refunds (the batch summary's numbers); under daily discount the
processor also keeps its fee: with a `fee_schedule` (the merchant's pricing per brand) that fee is
known to the cent and the expected deposit is exact (gross - scheduled fee); without one the deposit
may be below gross by up to `max_fee_bps` of the sales.

Refunds: without the refund flow the deposit entry expenses a batch's refunds (Dr refunds). With it
(`RefundFlow`), a refund the flow recorded in Sage as a card refund already took its money out of
card clearing (Dr AR / Cr clearing), so the entry debits clearing for it instead; a refund created
before the flow's start date keeps the old treatment; any other refund holds the batch's entry
(`batch_refunds_not_in_sage`) until the flow records it, so no refund is booked twice or not at all.

A short deposit whose description names a chargeback/adjustment is a netted adjustment. When the
description prints the amount ("CHGBK ADJ -25.00"), that amount is the adjustment and only the rest
of the shortfall can be a fee (or, with a schedule, rounding within tolerance); a printed amount that
does not account for the shortfall leaves the deposit short and held.

Matching is vectorized: every (expected deposit, bank line) pair in the date window is generated
with `searchsorted` over the sorted posting dates, classified into tiers (exact, within the fee
window or tolerance, netted adjustment, plain variance), and assigned one-to-one by a greedy pass
over the globally sorted pairs. The greedy pass runs in rounds of "mutually first" pairs, which gives
exactly the sequential greedy result with a handful of vector operations per round.

Order of preference (the greedy sort): tier; then the credit whose description fits the group
(an AMEX-looking credit for the AMEX group, any other for CARDS); then the earlier batch; then the
earlier credit; then the smaller difference (the smallest fee); then the larger expected amount.
Earlier batches take earlier credits because processors fund batches in order: taking the
smallest fee first would let Monday's batch take Tuesday's deposit and leave Tuesday's unmatched.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.domain.settlement.frames import (
    concat_exceptions,
    dates_text,
    empty_exceptions,
    exception_rows,
    join_text,
    limited_list,
    normalize_batches,
    normalize_deposits,
    normalize_receipts,
    normalize_transactions,
    numbers_text,
)
from sage_paytrace_pipeline.domain.settlement.policy import (
    PRINTED_AMOUNT_PATTERN,
    SettlementPolicy,
)
from sage_paytrace_pipeline.domain.text import choose

CARDS, AMEX = "CARDS", "AMEX"

# Exception kinds of the reconciliation (journal.py adds gl_account_unmapped).
DEPOSIT_MISSING = "deposit_missing"
DEPOSIT_PENDING = "deposit_pending"
DEPOSIT_VARIANCE = "deposit_variance"
DEPOSIT_MATCH_AMBIGUOUS = "deposit_match_ambiguous"
NOT_POSTED = "batch_transactions_not_posted"
RECEIPT_AMOUNT_MISMATCH = "receipt_amount_mismatch"
NO_BATCH = "transaction_in_no_batch"
UNKNOWN_TYPE = "unknown_transaction_type"
TOTALS_MISMATCH = "batch_totals_mismatch"
UNMATCHED_CREDIT = "unmatched_bank_credit"
CHARGEBACK_REVERSAL = "chargeback_reversal"  # a bank item: a processor credit giving a chargeback back
SHORT_PAID = "short_deposit_paid"  # a bank item: a processor credit paying the rest of a short deposit
UNMATCHED_DEBIT = "unmatched_processor_debit"
DUPLICATE_BANK_LINE = "duplicate_bank_line"
FEE_SCHEDULE_INCOMPLETE = "fee_schedule_missing_brand"
REFUNDS_NOT_IN_SAGE = "batch_refunds_not_in_sage"

# Match methods and statuses.
EXACT = "exact_gross"
NET_OF_FEES = "net_of_daily_fees"
NET_OF_SCHEDULED_FEES = "net_of_scheduled_fees"
WITHIN_TOLERANCE = "within_tolerance"
NETTED = "netted_adjustment"
OVER = "over_deposit"
SHORT = "short_deposit"
NOTHING = "nothing_to_deposit"
# The hold reason of a batch whose sales are not all confirmed receipts in Sage (journal.py may post it
# anyway, parking those sales in gl_accounts.unposted_sales).
UNPOSTED_REASON = "sales not confirmed in Sage"
NO_DEPOSIT_REASON = "no deposit matched"
DIFFERS_REASON = "deposit differs from the batch"
# The hold reason of a batch with a refund the refund flow has not recorded in Sage yet.
UNRECORDED_REFUNDS_REASON = "refunds not recorded in Sage"
# How the deposit entry books each refund of a batch: expensed (Dr refunds: no refund flow, or created
# before its start date), through clearing (Dr the brand's clearing: Sage holds it as a card refund
# that credited clearing), or not yet (the refund flow has not recorded it: the entry waits).
EXPENSED, THROUGH_CLEARING, NOT_IN_SAGE = "expensed", "through_clearing", "not_in_sage"
# Methods whose journal entry is produced (the others are held for the operator).
POSTABLE_METHODS = (EXACT, NET_OF_FEES, NET_OF_SCHEDULED_FEES, WITHIN_TOLERANCE, NETTED, NOTHING)

EXPECTED_COLUMNS = ("batch_number", "funding_group", "closed_date", "brands", "sales_count", "sales_cents",
                    "refund_count", "refund_cents", "gross_cents", "expected_fee_cents", "transaction_count",
                    "posted_count", "posted_cents", "unposted_count", "unposted_transaction_ids", "ties_out",
                    "window_end", "deposit_status", "hold_reason")
MATCH_COLUMNS = ("batch_number", "funding_group", "closed_date", "expected_cents", "source_file", "source_line",
                 "account_id", "bank_reference", "posted_date", "deposit_cents", "fee_cents", "adjustment_cents",
                 "rounding_cents", "variance_cents", "method", "status", "candidate_count", "description")
TIE_OUT_COLUMNS = ("batch_number", "closed_date", "brand", "summary_sales_count", "detail_sales_count",
                   "summary_sales_cents", "detail_sales_cents", "summary_refund_count", "detail_refund_count",
                   "summary_refund_cents", "detail_refund_cents", "ties")
BRAND_TOTAL_COLUMNS = ("batch_number", "funding_group", "brand", "sales_cents", "refund_cents")
SALE_COLUMNS = ("batch_number", "funding_group", "brand", "transaction_id", "amount_cents", "state")
REFUND_COLUMNS = ("batch_number", "funding_group", "brand", "transaction_id", "amount_cents", "treatment")
BANK_ITEM_COLUMNS = ("reference", "kind", "source_file", "source_line", "account_id", "posted_date",
                     "amount_cents", "type_code", "bank_reference", "description", "pays")

_KEY = ["batch_number", "funding_group"]


@dataclass(frozen=True)
class RefundFlow:
    """The refund flow is on (config `refunds`): how the deposit entries treat the batches' refunds.

    - recorded: the PayTrace refund ids Sage holds as card refunds (they credited card clearing);
      the entry debits clearing for them.
    - start_date: refunds created before this business day (the `created_date` column of the batch
      transactions) are expensed as before the flow existed; None: every refund goes through the flow.
      A recorded refund goes through clearing whatever its date: Sage already took it out of clearing.
    """

    recorded: frozenset[int] = frozenset()
    start_date: date | None = None


@dataclass(frozen=True)
class Reconciliation:
    """Everything `reconcile` decided, as frames (dates are `datetime.date`, money int64 cents).

    - expected: one row per expected deposit (batch x funding group), with its deposit status and
      why its journal entry is held ("" when it is not); expected_fee_cents is the fee of the
      settlement.fee_schedule (NA when no schedule applies: monthly discount, no schedule, a brand
      without a rate).
    - matches: expected deposit <-> bank line, with fee / adjustment / rounding / variance;
      expected_cents is what the bank line should have been (gross, or gross - scheduled fee).
    - exceptions: kind, severity, batch_number, source_ids, problem, action.
    - tie_out: per batch and brand, the summary against the sum of its transactions.
    - brand_totals: per expected deposit and brand, the sales and refunds of its transactions
      (what the receipts debited to each brand's clearing account).
    - sales: every counted sale with its brand and its receipt's state in the posting log ("confirmed"
      = a receipt in Sage; NA = no receipt).
    - refunds: every counted refund with its brand and treatment (EXPENSED, THROUGH_CLEARING,
      NOT_IN_SAGE; see `RefundFlow`).
    - bank_items: unmatched bank debits classified as merchant fees or chargebacks, and credits
      giving a chargeback back (`chargeback_reversal`), each with its journal reference.
    """

    policy: SettlementPolicy
    as_of: date
    expected: pd.DataFrame
    matches: pd.DataFrame
    exceptions: pd.DataFrame
    tie_out: pd.DataFrame
    brand_totals: pd.DataFrame
    bank_items: pd.DataFrame
    sales: pd.DataFrame
    refunds: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Row counts for run metadata."""
        by_status = self.expected["deposit_status"].value_counts()
        return {
            "expected_deposits": len(self.expected),
            **{f"deposits_{status}": int(by_status.get(status, 0))
               for status in ("matched", "short", "over", "pending", "missing")},
            "held_entries": int((self.expected["hold_reason"] != "").sum()),
            "exceptions": len(self.exceptions),
            "exceptions_error": int((self.exceptions["severity"] == "error").sum()),
            "bank_items": len(self.bank_items),
        }


def reconcile(batches: pd.DataFrame, batch_transactions: pd.DataFrame, posted_receipts: pd.DataFrame,
              deposits: pd.DataFrame, *, policy: SettlementPolicy, as_of: date,
              refund_flow: RefundFlow | None = None, short_owed: pd.DataFrame | None = None) -> Reconciliation:
    """Reconcile settlement batches with the receipts in Sage and the bank's deposits, as of `as_of`.

    `batch_transactions` holds the settled transactions of the batches; a settled transaction with
    an empty batch_number is reported as `transaction_in_no_batch`; an optional `created_date`
    column (the business day each was created) dates refunds against `refund_flow.start_date`.
    `posted_receipts` is the posting log (state "confirmed" = read back from Sage). `deposits` are
    bank statement lines, credits positive and debits negative. `refund_flow` None: the refund flow
    is off and every refund is expensed by the deposit entry. `short_owed` (journal.short_deposits_booked:
    the short deposits booked to the processor receivable): a processor credit paying exactly one of
    them is a bank item (`short_deposit_paid`), not an unmatched credit.
    """
    if not isinstance(policy, SettlementPolicy):
        raise TypeError("policy must be a SettlementPolicy")
    as_of_day = pd.Timestamp(as_of).normalize()
    summary, transactions, counted = _batches_and_counted(batches, batch_transactions, policy)
    receipts = normalize_receipts(posted_receipts)
    lines = normalize_deposits(deposits)
    if policy.bank_account_id is not None:
        lines = lines[lines["account_id"] == policy.bank_account_id.strip()].reset_index(drop=True)
    lines, duplicate_exceptions = _drop_repeated_lines(lines)

    tie_out = _tie_out(summary, counted)
    refunds = _refunds(counted, refund_flow)
    expected, brand_totals, sales, posting_exceptions = _expected(summary, counted, receipts, tie_out, policy,
                                                                  refunds=refunds)
    pairs = _candidates(expected, lines, policy)
    accepted = _assign(pairs)
    matches = _matches(expected, lines, pairs, accepted)
    expected = _deposit_status(expected, matches, as_of_day)
    bank_items, bank_exceptions = _unmatched_lines(lines, matches, pairs, policy, short_owed)

    exceptions = concat_exceptions([
        _tie_out_exceptions(tie_out),
        _transaction_exceptions(transactions),
        posting_exceptions,
        _unrecorded_refund_exceptions(refunds, expected),
        _deposit_exceptions(expected, matches, policy),
        _schedule_exceptions(expected),
        _ambiguity_exceptions(expected, lines, pairs, accepted),
        bank_exceptions,
        duplicate_exceptions,
    ])
    return Reconciliation(
        policy=policy,
        as_of=as_of_day.date(),
        expected=_dated(expected.loc[:, list(EXPECTED_COLUMNS)], ("closed_date", "window_end")),
        matches=_dated(matches.loc[:, list(MATCH_COLUMNS)], ("closed_date", "posted_date")),
        exceptions=exceptions,
        tie_out=_dated(tie_out.loc[:, list(TIE_OUT_COLUMNS)], ("closed_date",)),
        brand_totals=brand_totals.loc[:, list(BRAND_TOTAL_COLUMNS)].reset_index(drop=True),
        bank_items=_dated(bank_items.loc[:, list(BANK_ITEM_COLUMNS)], ("posted_date",)),
        sales=sales.rename(columns={"card_brand": "brand"}).loc[:, list(SALE_COLUMNS)].reset_index(drop=True),
        refunds=refunds.rename(columns={"card_brand": "brand"}).loc[:, list(REFUND_COLUMNS)].reset_index(drop=True),
    )


def batch_tie_out(batches: pd.DataFrame, batch_transactions: pd.DataFrame, *,
                  policy: SettlementPolicy) -> pd.DataFrame:
    """`reconcile(...).tie_out` alone (no receipts, no deposits needed): per batch and brand, the
    summary's counts and amounts against the sum of its transactions."""
    if not isinstance(policy, SettlementPolicy):
        raise TypeError("policy must be a SettlementPolicy")
    summary, _, counted = _batches_and_counted(batches, batch_transactions, policy)
    return _dated(_tie_out(summary, counted).loc[:, list(TIE_OUT_COLUMNS)], ("closed_date",))


# ------------------------------------------------------------------------------ transactions


def _batches_and_counted(batches: pd.DataFrame, batch_transactions: pd.DataFrame,
                         policy: SettlementPolicy) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The batch summary and the classified transactions, checked, with the counted ones (sales and
    refunds in a batch, not of an ignored status), each row with its funding group."""
    summary = normalize_batches(batches)
    transactions = _classify(normalize_transactions(batch_transactions), policy)
    counted = transactions[transactions["counted"]].copy()
    counted["batch_number"] = counted["batch_number"].astype("int64")
    counted["funding_group"] = _funding_group(counted["card_brand"], policy)
    summary["funding_group"] = _funding_group(summary["brand"], policy)
    return summary, transactions, counted


def _classify(transactions: pd.DataFrame, policy: SettlementPolicy) -> pd.DataFrame:
    kinds = np.select(
        [transactions["transaction_type"].isin(policy.sale_types),
         transactions["transaction_type"].isin(policy.refund_types)],
        ["sale", "refund"], default="other")
    transactions["kind"] = kinds
    transactions["ignored"] = transactions["status"].isin(policy.ignored_statuses).to_numpy()
    in_batch = transactions["batch_number"].notna().to_numpy()
    transactions["in_batch"] = in_batch
    transactions["counted"] = in_batch & ~transactions["ignored"].to_numpy() & (kinds != "other")
    return transactions


def _funding_group(brands: pd.Series, policy: SettlementPolicy) -> np.ndarray:
    amex = (brands == AMEX).to_numpy() & policy.amex_funds_separately
    return choose(amex, AMEX, CARDS)


def _tie_out(summary: pd.DataFrame, counted: pd.DataFrame) -> pd.DataFrame:
    detail = _sales_and_refunds(counted, ["batch_number", "card_brand"]).rename(
        columns={"card_brand": "brand", "sales_count": "detail_sales_count", "sales_cents": "detail_sales_cents",
                 "refund_count": "detail_refund_count", "refund_cents": "detail_refund_cents"})
    summarized = summary.rename(columns={
        "sales_count": "summary_sales_count", "sales_cents": "summary_sales_cents",
        "refund_count": "summary_refund_count", "refund_cents": "summary_refund_cents"})
    tie = summarized.drop(columns=["closed_date", "funding_group"]).merge(
        detail, on=["batch_number", "brand"], how="outer")
    amounts = [c for c in tie.columns if c.startswith(("summary_", "detail_"))]
    tie[amounts] = tie[amounts].fillna(0).astype("int64")
    closed = summary.drop_duplicates("batch_number").set_index("batch_number")["closed_date"]
    tie["closed_date"] = tie["batch_number"].map(closed)
    tie["in_summary"] = tie["batch_number"].isin(closed.index)
    tie["ties"] = (
        (tie["summary_sales_count"] == tie["detail_sales_count"])
        & (tie["summary_sales_cents"] == tie["detail_sales_cents"])
        & (tie["summary_refund_count"] == tie["detail_refund_count"])
        & (tie["summary_refund_cents"] == tie["detail_refund_cents"]))
    return tie.sort_values(["batch_number", "brand"], ignore_index=True)


def _sales_and_refunds(transactions: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    sale = (transactions["kind"] == "sale").to_numpy()
    frame = transactions[keys].copy()
    amount = transactions["amount_cents"].to_numpy()
    frame["sales_count"] = sale.astype("int64")
    frame["sales_cents"] = np.where(sale, amount, 0)
    frame["refund_count"] = (~sale).astype("int64")
    frame["refund_cents"] = np.where(sale, 0, amount)
    return frame.groupby(keys, as_index=False, sort=True).sum()


def _refunds(counted: pd.DataFrame, flow: RefundFlow | None) -> pd.DataFrame:
    """The counted refunds with how the deposit entry books each (see `RefundFlow`)."""
    refunds = counted.loc[counted["kind"] == "refund", ["transaction_id", "batch_number", "funding_group",
                                                        "card_brand", "amount_cents"]].copy()
    if flow is None:
        refunds["treatment"] = EXPENSED
        return refunds
    recorded = refunds["transaction_id"].isin(list(flow.recorded)).to_numpy()
    before_start = np.zeros(len(refunds), dtype=bool)
    if flow.start_date is not None and "created_date" in counted:
        created = counted.loc[refunds.index, "created_date"]
        before_start = (created < pd.Timestamp(flow.start_date)).fillna(False).to_numpy(dtype=bool)
    refunds["treatment"] = np.select([recorded, before_start], [THROUGH_CLEARING, EXPENSED], NOT_IN_SAGE)
    return refunds


def _expected(summary: pd.DataFrame, counted: pd.DataFrame, receipts: pd.DataFrame, tie_out: pd.DataFrame,
              policy: SettlementPolicy, *,
              refunds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    amounts = ["sales_count", "sales_cents", "refund_count", "refund_cents"]
    by_group = summary.sort_values(["batch_number", "funding_group", "brand"]).groupby(_KEY, sort=True)
    expected = by_group[amounts].sum()
    expected["closed_date"] = by_group["closed_date"].first()
    expected["brands"] = by_group["brand"].agg(",".join)
    expected["gross_cents"] = expected["sales_cents"] - expected["refund_cents"]
    closed_days = expected["closed_date"].to_numpy().astype("datetime64[D]")
    window_end = np.busday_offset(closed_days, policy.deposit_window_business_days, roll="backward",
                                  holidays=np.array(policy.holidays, dtype="datetime64[D]"))
    expected["window_end"] = window_end.astype("datetime64[ns]")
    expected = expected.join(_scheduled_fees(summary, policy), how="left")
    # What the bank line should show: gross, less the scheduled fee when the schedule covers the group.
    expected["target_cents"] = expected["gross_cents"] - expected["scheduled_fee_cents"]
    expected["expected_fee_cents"] = pd.array(expected["scheduled_fee_cents"], dtype="Int64")
    expected.loc[~expected["scheduled"], "expected_fee_cents"] = pd.NA

    brand_totals = _sales_and_refunds(counted, ["batch_number", "funding_group", "card_brand"]).rename(
        columns={"card_brand": "brand"})

    # Receipts: every sale of the group must be a confirmed receipt in Sage, for the same amount.
    sales = counted.loc[counted["kind"] == "sale", ["transaction_id", "batch_number", "funding_group",
                                                    "card_brand", "amount_cents"]]
    sales = sales.merge(receipts.rename(columns={"amount_cents": "receipt_cents"}), on="transaction_id",
                        how="left")
    confirmed = (sales["state"] == "confirmed").to_numpy()
    sales["posted_count"] = confirmed.astype("int64")
    sales["posted_cents"] = np.where(confirmed, sales["receipt_cents"].fillna(0).astype("int64"), 0)
    sales["amount_differs"] = confirmed & (sales["posted_cents"].to_numpy() != sales["amount_cents"].to_numpy())
    sales["unposted_count"] = (~confirmed).astype("int64")
    sales["unposted_cents"] = np.where(confirmed, 0, sales["amount_cents"].to_numpy())
    per_group = sales.groupby(_KEY, sort=True)[["posted_count", "posted_cents", "amount_differs", "unposted_count",
                                                "unposted_cents"]].sum()
    per_group["transaction_count"] = counted.groupby(_KEY, sort=True).size()
    expected = expected.join(per_group, how="left")
    for column in per_group.columns:
        expected[column] = expected[column].fillna(0).astype("int64")

    expected["unposted_transaction_ids"] = ""
    expected["unposted_labels"] = None
    if (~confirmed).any():
        unposted = sales[~confirmed].sort_values(["batch_number", "funding_group", "transaction_id"])
        state = unposted["state"].where(unposted["state"].notna(), "no receipt")
        unposted = unposted.assign(
            id_text=numbers_text(unposted["transaction_id"]),
            label=join_text(numbers_text(unposted["transaction_id"]), " (", state.astype(str), " ",
                            format_cents(unposted["amount_cents"]), ")"))
        groups = unposted.groupby(_KEY, sort=True)
        ids = groups["id_text"].agg(", ".join)
        expected.loc[ids.index, "unposted_transaction_ids"] = ids
        expected.loc[ids.index, "unposted_labels"] = groups["label"].agg(list)

    tie_groups = tie_out[tie_out["in_summary"]]
    ties = tie_groups["ties"].groupby([tie_groups["batch_number"], _funding_group(tie_groups["brand"], policy)]).all()
    ties.index.names = _KEY
    expected["ties_out"] = ties.reindex(expected.index).fillna(True).astype(bool)

    waiting = refunds[refunds["treatment"] == NOT_IN_SAGE]
    unrecorded_count = (waiting.groupby(_KEY, sort=True).size().reindex(expected.index, fill_value=0).to_numpy()
                        if len(waiting) else np.zeros(len(expected), dtype="int64"))

    expected["hold_reason"] = _reasons([
        (expected["unposted_count"] > 0, UNPOSTED_REASON),
        (unrecorded_count > 0, UNRECORDED_REFUNDS_REASON),
        (expected["amount_differs"] > 0, "receipt amounts differ from PayTrace"),
        (~expected["ties_out"], "batch totals do not tie out"),
    ], len(expected))
    expected = expected.reset_index().sort_values(["closed_date", "batch_number", "funding_group"], ignore_index=True)
    return expected, brand_totals, sales, _posting_exceptions(expected, sales)


def _scheduled_fees(summary: pd.DataFrame, policy: SettlementPolicy) -> pd.DataFrame:
    """Per expected deposit, the fee of `policy.fee_schedule` (daily discount only).

    Per brand per batch: round_half_up(sales x rate_bps / 10,000) + per item x sales + per refund
    item x refunds (the processor's arithmetic, and the sandbox bank's). A group with a brand the
    schedule does not price (and no other_brand_fee) is not scheduled: it keeps the fee window.
    Columns: scheduled_fee_cents (0 when not scheduled), scheduled, unscheduled_brands.
    """
    keys = summary[_KEY].drop_duplicates()
    schedule = policy.fee_schedule
    if policy.discount_method != "daily" or schedule is None or summary.empty:
        return keys.assign(scheduled_fee_cents=np.zeros(len(keys), dtype="int64"), scheduled=False,
                           unscheduled_brands="").set_index(_KEY)
    rates = pd.DataFrame(
        [(brand, rate.rate_bps, rate.per_item_cents, rate.per_refund_item_cents) for brand, rate in schedule.items()],
        columns=["brand", "rate_bps", "item_cents", "refund_item_cents"])
    rows = summary[[*_KEY, "brand", "sales_count", "sales_cents", "refund_count", "refund_cents"]].merge(
        rates, on="brand", how="left")
    priced = rows["rate_bps"].notna().to_numpy()
    other = policy.other_brand_fee
    if other is not None:
        rows = rows.fillna({"rate_bps": other.rate_bps, "item_cents": other.per_item_cents,
                            "refund_item_cents": other.per_refund_item_cents})
        priced = np.ones(len(rows), dtype=bool)
    rate = rows["rate_bps"].fillna(0).to_numpy().astype("int64")
    item = rows["item_cents"].fillna(0).to_numpy().astype("int64")
    refund_item = rows["refund_item_cents"].fillna(0).to_numpy().astype("int64")
    sales = rows["sales_cents"].to_numpy().astype("int64")
    # Half-up to the cent on non-negative integers: exact, no float.
    discount = (sales * rate + 5_000) // 10_000
    rows["fee"] = discount + item * rows["sales_count"].to_numpy() + refund_item * rows["refund_count"].to_numpy()
    rows["priced"] = priced
    groups = rows.groupby(_KEY, sort=True)
    fees = pd.DataFrame({"scheduled_fee_cents": groups["fee"].sum().astype("int64"),
                         "scheduled": groups["priced"].all().astype(bool)})
    fees["unscheduled_brands"] = ""
    if not priced.all():
        missing = rows[~priced].sort_values([*_KEY, "brand"]).groupby(_KEY, sort=True)["brand"].agg(", ".join)
        fees.loc[missing.index, "unscheduled_brands"] = missing
    fees.loc[~fees["scheduled"], "scheduled_fee_cents"] = 0
    return fees


def _reasons(reasons: list[tuple[pd.Series | np.ndarray, str]], size: int,
             text: np.ndarray | None = None) -> np.ndarray:
    """'; '-joined reasons whose condition holds, per row (appended to `text` when given)."""
    text = np.full(size, "", dtype=object) if text is None else np.asarray(text, dtype=object).copy()
    for condition, reason in reasons:
        flag = np.asarray(condition, dtype=bool)
        text = np.where(flag, np.where(text == "", reason, text + "; " + reason), text)
    return text


# --------------------------------------------------------------------------------- bank lines


def _drop_repeated_lines(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same bank line reported in two statement files (intraday, then prior-day) counts once.

    Identical lines *within* one file are kept: a file does not repeat a line.
    """
    key = ["account_id", "posted_date", "amount_cents", "type_code", "bank_reference", "description"]
    lines = lines.sort_values(["source_file", "source_line"], ignore_index=True)
    lines["occurrence"] = lines.groupby([*key, "source_file"], sort=False).cumcount()
    repeated = lines.duplicated(subset=[*key, "occurrence"], keep="first")
    if not repeated.any():
        return lines, empty_exceptions()
    kept = lines[~repeated]
    dropped = lines[repeated].merge(kept[[*key, "occurrence", "source_file", "source_line"]],
                                    on=[*key, "occurrence"], suffixes=("", "_kept"))
    problem = join_text("bank line ", dropped["source_file"], ":", numbers_text(dropped["source_line"]), " (",
                        dates_text(dropped["posted_date"]), " ", format_cents(dropped["amount_cents"]),
                        ") repeats ", dropped["source_file_kept"], ":", numbers_text(dropped["source_line_kept"]),
                        "; it is counted once")
    source = join_text(dropped["source_file"], ":", numbers_text(dropped["source_line"]))
    exceptions = exception_rows(
        DUPLICATE_BANK_LINE, "info", None, size=len(dropped), source_ids=source, problem=problem,
        action="nothing to do if both files report the same bank transaction; if the bank really posted it "
               "twice, give the second line a bank reference so that it is told apart")
    return kept.reset_index(drop=True), exceptions


def _candidates(expected: pd.DataFrame, lines: pd.DataFrame, policy: SettlementPolicy) -> pd.DataFrame:
    """Every (expected deposit, bank line) pair in the window, with its tier, method and sort keys."""
    target = expected["target_cents"].to_numpy()
    parts = []
    for sign in (1, -1):  # credits for positive batches, debits where refunds (and scheduled fees) exceed sales
        wanted = np.flatnonzero(np.sign(target) == sign)
        side = np.flatnonzero(np.sign(lines["amount_cents"].to_numpy()) == sign)
        if not len(wanted) or not len(side):
            continue
        side = side[np.argsort(lines["posted_date"].to_numpy()[side], kind="stable")]
        dates = lines["posted_date"].to_numpy()[side]
        lo = np.searchsorted(dates, expected["closed_date"].to_numpy()[wanted], side="right")
        hi = np.searchsorted(dates, expected["window_end"].to_numpy()[wanted], side="right")
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        offsets = np.arange(total) - np.repeat(starts, counts)
        parts.append(pd.DataFrame({"e": np.repeat(wanted, counts), "b": side[np.repeat(lo, counts) + offsets]}))
    if not parts:
        return _classify_pairs(pd.DataFrame({"e": pd.Series(dtype="int64"), "b": pd.Series(dtype="int64")}),
                               expected, lines, policy)
    return _classify_pairs(pd.concat(parts, ignore_index=True), expected, lines, policy)


def printed_adjustments(descriptions: pd.Series, policy: SettlementPolicy) -> np.ndarray:
    """The amount (int64 cents, -1: none) a bank line prints after its adjustment words.

    "CHGBK ADJ -25.00" -> 2500, "CHARGEBACK $1,125.40" -> 112540; "CHGBK CASE 8812" -> -1 (a number
    without two decimals is a case or batch number, not money). Parsed as integers, never floats.
    """
    found = re.compile(f"(?:{policy.adjustment_pattern}).*?{PRINTED_AMOUNT_PATTERN}", re.IGNORECASE)

    def amount(text: object) -> int:
        match = found.search(str(text)) if isinstance(text, str) else None
        if match is None:
            return -1
        return int(match["dollars"].replace(",", "")) * 100 + int(match["cents"])

    values = np.full(len(descriptions), -1, dtype="int64")
    named = descriptions.str.contains(policy.adjustment_pattern, case=False, regex=True).fillna(False).to_numpy(bool)
    if named.any():
        codes, uniques = pd.factorize(descriptions[named], use_na_sentinel=True)
        values[named] = np.array([amount(text) for text in uniques] + [-1], dtype="int64")[codes]
    return values


def _classify_pairs(pairs: pd.DataFrame, expected: pd.DataFrame, lines: pd.DataFrame,
                    policy: SettlementPolicy) -> pd.DataFrame:
    e = pairs["e"].to_numpy()
    b = pairs["b"].to_numpy()
    gross = expected["gross_cents"].to_numpy()[e]
    sales = expected["sales_cents"].to_numpy()[e]
    scheduled = expected["scheduled"].to_numpy(dtype=bool)[e]
    scheduled_fee = expected["scheduled_fee_cents"].to_numpy()[e]
    target = expected["target_cents"].to_numpy()[e]  # gross, or gross - scheduled fee
    deposit = lines["amount_cents"].to_numpy()[b]
    description = lines["description"]
    diff = deposit - target
    shortfall = -diff
    tolerance = policy.variance_tolerance_cents
    daily = policy.discount_method == "daily"
    # The max_fee_bps window: daily discount without a schedule for the group. Fees are charged on
    # sales volume, so a batch whose refunds exceed its sales is still debited its fees: the window
    # depends on the sales, not on the sign of the net.
    window = daily & ~scheduled
    cap = np.where(window & (sales > 0), sales * policy.max_fee_bps // 10_000, 0)
    says_adjustment = description.str.contains(policy.adjustment_pattern, case=False, regex=True).to_numpy()[b]
    printed = printed_adjustments(description, policy)[b]
    has_printed = printed > 0
    netted_limit = np.where(target > 0, target * policy.netted_adjustment_max_bps // 10_000, 0)

    exact = diff == 0
    fee_window = window & (sales > 0) & (diff < 0) & (-diff <= cap)
    # Without a schedule a printed adjustment splits the shortfall: the printed amount is the
    # adjustment, the rest must be a fee within the window (daily) or rounding within tolerance.
    rest = shortfall - printed
    split = (~scheduled & has_printed & (gross > 0) & (deposit > 0) & (deposit < gross) & (printed <= netted_limit)
             & ((window & (sales > 0) & (rest >= 0) & (rest <= cap)) | (np.abs(rest) <= tolerance)))
    split_fee = np.where(window & (rest >= 0), rest, 0)
    fee_window &= ~split
    tolerated = ~exact & ~fee_window & ~split & (np.abs(diff) <= tolerance) & (
        ~window | (diff > 0) | (gross < 0))
    lower = np.where(window & (sales > 0), gross - cap, target - tolerance)  # lowest deposit not short
    shortfall_ok = (target > 0) & (deposit > 0) & (deposit < lower) & says_adjustment & (shortfall <= netted_limit)
    # With a schedule the whole shortfall below the expected net is the adjustment (a printed amount
    # must agree with it within tolerance); without one, only an adjustment that prints no amount.
    netted_scheduled = scheduled & shortfall_ok & (~has_printed | (np.abs(shortfall - printed) <= tolerance))
    netted_plain = ~scheduled & shortfall_ok & ~has_printed & ~split
    netted = netted_scheduled | netted_plain
    limit = np.abs(target) * policy.variance_match_bps // 10_000
    variance = ~(exact | fee_window | tolerated | split | netted) & (np.abs(diff) <= limit) & (
        (diff > tolerance) | (deposit < lower))

    rank = np.select([exact, fee_window | tolerated | split, netted, variance], [0, 1, 2, 3], default=-1)
    method = np.select(
        [exact & (scheduled_fee != 0), exact, fee_window, tolerated, split | netted, variance & (diff > 0), variance],
        [NET_OF_SCHEDULED_FEES, EXACT, NET_OF_FEES, WITHIN_TOLERANCE, NETTED, OVER, SHORT], default="")
    booked = exact | tolerated | netted_scheduled  # a scheduled group's matched entry books the scheduled fee
    fee = np.select([fee_window, split, scheduled & booked], [shortfall, split_fee, scheduled_fee], default=0)
    scheduled_adjustment = np.where(has_printed, printed, shortfall)
    adjustment = np.select([netted_scheduled, split, netted_plain], [scheduled_adjustment, printed, shortfall],
                           default=0)
    rounding = np.select([tolerated, netted_scheduled, split], [shortfall, shortfall - scheduled_adjustment,
                                                                rest - split_fee], default=0)
    # Monthly or scheduled: deposit - expected. The fee window: 0 inside [gross - max fee, gross], else
    # how far outside it. A printed split: the printed adjustment.
    outside = np.where(deposit > gross, deposit - gross, np.where(deposit < lower, deposit - lower, 0))
    variance_cents = np.select([split, window], [-printed, outside], default=diff)

    if policy.amex_funds_separately:
        amex_line = description.str.contains(policy.amex_pattern, case=False, regex=True).to_numpy()[b]
        affinity = (amex_line != (expected["funding_group"].to_numpy()[e] == AMEX)).astype("int64")
    else:
        affinity = np.zeros(len(pairs), dtype="int64")
    classified = pd.DataFrame({
        "e": e, "b": b, "rank": rank, "method": method.astype(object), "affinity": affinity,
        "closed": expected["closed_date"].to_numpy()[e], "posted": lines["posted_date"].to_numpy()[b],
        "difference": np.abs(diff), "expected_cents": target, "deposit_cents": deposit,
        "fee_cents": fee, "adjustment_cents": adjustment, "rounding_cents": rounding,
        "variance_cents": variance_cents, "printed_cents": np.where(has_printed, printed, 0),
        "batch_number": expected["batch_number"].to_numpy()[e],
        "funding_group": expected["funding_group"].to_numpy()[e],
        "source_file": lines["source_file"].to_numpy()[b], "source_line": lines["source_line"].to_numpy()[b],
    })
    classified = classified[classified["rank"] >= 0]
    return classified.sort_values(
        ["rank", "affinity", "closed", "posted", "difference", "expected_cents", "batch_number", "funding_group",
         "source_file", "source_line"],
        ascending=[True, True, True, True, True, False, True, True, True, True], ignore_index=True, kind="stable")


def _assign(pairs: pd.DataFrame, vector_rounds: int = 8) -> pd.DataFrame:
    """One-to-one greedy over the sorted pairs: the first pair wins, then the first of what is left...

    Vector rounds accept every pair that is the first remaining one for both its expected deposit and
    its bank line (each such pair is one the sequential greedy accepts too). Chains of look-alike
    batches (steady daily volume under daily discount) resolve one link per round, so after a few
    rounds the rest is finished by the plain sequential pass over the remaining pairs, which by
    then are few; both give exactly the sequential greedy result.
    """
    if pairs.empty:
        return pairs
    e = pairs["e"].to_numpy()
    b = pairs["b"].to_numpy()
    e_used = np.zeros(int(e.max()) + 1, dtype=bool)
    b_used = np.zeros(int(b.max()) + 1, dtype=bool)
    remaining = np.arange(len(pairs))
    accepted = []
    for _ in range(vector_rounds):
        if not len(remaining):
            break
        first_e = ~pd.Series(e[remaining]).duplicated().to_numpy()
        first_b = ~pd.Series(b[remaining]).duplicated().to_numpy()
        chosen = remaining[first_e & first_b]  # the globally first remaining pair is always chosen
        accepted.append(chosen)
        e_used[e[chosen]] = True
        b_used[b[chosen]] = True
        remaining = remaining[~e_used[e[remaining]] & ~b_used[b[remaining]]]
    rest = []
    for position, expected_id, line_id in zip(remaining.tolist(), e[remaining].tolist(), b[remaining].tolist()):
        if not e_used[expected_id] and not b_used[line_id]:
            e_used[expected_id] = b_used[line_id] = True
            rest.append(position)
    accepted.append(np.asarray(rest, dtype="int64"))
    return pairs.iloc[np.sort(np.concatenate(accepted))].reset_index(drop=True)


def _matches(expected: pd.DataFrame, lines: pd.DataFrame, pairs: pd.DataFrame,
             accepted: pd.DataFrame) -> pd.DataFrame:
    e = accepted["e"].to_numpy()
    b = accepted["b"].to_numpy()
    method = accepted["method"].to_numpy()
    matches = pd.DataFrame({
        "e": e,
        "b": b,
        "batch_number": expected["batch_number"].to_numpy()[e],
        "funding_group": expected["funding_group"].to_numpy()[e],
        "closed_date": expected["closed_date"].to_numpy()[e],
        "expected_cents": accepted["expected_cents"].to_numpy(),
        "source_file": lines["source_file"].to_numpy()[b],
        "source_line": lines["source_line"].to_numpy()[b],
        "account_id": lines["account_id"].to_numpy()[b],
        "bank_reference": lines["bank_reference"].to_numpy()[b],
        "posted_date": lines["posted_date"].to_numpy()[b],
        "deposit_cents": accepted["deposit_cents"].to_numpy(),
        "fee_cents": accepted["fee_cents"].to_numpy(),
        "adjustment_cents": accepted["adjustment_cents"].to_numpy(),
        "rounding_cents": accepted["rounding_cents"].to_numpy(),
        "variance_cents": accepted["variance_cents"].to_numpy(),
        "printed_cents": accepted["printed_cents"].to_numpy(),
        "method": method,
        "status": np.select([method == OVER, np.isin(method, [SHORT, NETTED])], ["over", "short"],
                            default="matched"),
        "description": lines["description"].to_numpy()[b],
    })
    candidate_counts = pairs.groupby("e").size()
    matches["candidate_count"] = matches["e"].map(candidate_counts).fillna(0).astype("int64")

    # Groups with nothing to deposit (refunds equal sales, or with a schedule refunds plus fees equal
    # sales): matched without a bank line; a scheduled fee is still booked.
    nothing = np.flatnonzero(expected["target_cents"].to_numpy() == 0)
    if len(nothing):
        zero = pd.DataFrame({
            "e": nothing, "b": -1, "batch_number": expected["batch_number"].to_numpy()[nothing],
            "funding_group": expected["funding_group"].to_numpy()[nothing],
            "closed_date": expected["closed_date"].to_numpy()[nothing], "expected_cents": 0,
            "source_file": "", "source_line": pd.NA, "account_id": "", "bank_reference": "",
            "posted_date": pd.NaT, "deposit_cents": 0,
            "fee_cents": expected["scheduled_fee_cents"].to_numpy()[nothing], "adjustment_cents": 0,
            "rounding_cents": 0, "variance_cents": 0, "printed_cents": 0, "method": NOTHING, "status": "matched",
            "description": "", "candidate_count": 0})
        matches = pd.concat([matches, zero], ignore_index=True) if len(matches) else zero
    integers = ["expected_cents", "deposit_cents", "fee_cents", "adjustment_cents", "rounding_cents",
                "variance_cents", "printed_cents", "candidate_count"]
    matches[integers] = matches[integers].astype("int64")
    matches["source_line"] = matches["source_line"].astype("Int64")
    matches["posted_date"] = pd.to_datetime(matches["posted_date"])
    matches["closed_date"] = pd.to_datetime(matches["closed_date"])
    return matches.sort_values(["closed_date", "batch_number", "funding_group"], ignore_index=True)


def _deposit_status(expected: pd.DataFrame, matches: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    # Each group's first match, looked up in plain Python: a day's frames hold a few dozen groups, where
    # pandas' index machinery costs more than the lookups themselves.
    first: dict[tuple, tuple[str, str]] = {}
    for key, state, how in zip(zip(matches["batch_number"].tolist(), matches["funding_group"].tolist()),
                               matches["status"].tolist(), matches["method"].tolist()):
        first.setdefault(key, (state, how))
    found = [first.get(key) for key in zip(expected["batch_number"].tolist(), expected["funding_group"].tolist())]
    waiting = choose(expected["window_end"].to_numpy() >= np.datetime64(as_of), "pending", "missing")
    status = np.array([match[0] if match is not None else wait for match, wait in zip(found, waiting)],
                      dtype=object)
    expected["deposit_status"] = status
    method = np.array([match[1] if match is not None else None for match in found], dtype=object)
    expected["hold_reason"] = _reasons([
        (np.isin(status, ["pending", "missing"]), NO_DEPOSIT_REASON),
        (np.isin(status, ["over", "short"]) & (method != NETTED), DIFFERS_REASON),
    ], len(expected), expected["hold_reason"].to_numpy())
    return expected


# ------------------------------------------------------------------------------ bank leftovers


def _unmatched_lines(lines: pd.DataFrame, matches: pd.DataFrame, pairs: pd.DataFrame, policy: SettlementPolicy,
                     short_owed: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    is_used = np.isin(np.arange(len(lines)), matches["b"].to_numpy())
    leftover = lines[~is_used]  # lines has a RangeIndex: the index is the line's position `b`
    description = leftover["description"]
    processor = description.str.contains(policy.processor_pattern, case=False, regex=True).to_numpy()
    chargeback = description.str.contains(policy.chargeback_pattern, case=False, regex=True).to_numpy()
    adjustment = description.str.contains(policy.adjustment_pattern, case=False, regex=True).to_numpy()
    fee = (description.str.contains(policy.fee_pattern, case=False, regex=True).to_numpy() & processor) | \
        leftover["type_code"].isin(policy.fee_type_codes).to_numpy()
    amount = leftover["amount_cents"].to_numpy()
    debit = amount < 0
    credit = amount > 0

    # A credit saying chargeback/dispute is the processor giving a chargeback back (a case won).
    kind = np.select([debit & chargeback, debit & fee, credit & chargeback],
                     ["chargeback", "monthly_fees", CHARGEBACK_REVERSAL], default="")
    pays = _short_rest_paid(leftover, credit & (processor | adjustment) & (kind == ""), short_owed)
    kind = np.where(pays != "", SHORT_PAID, kind)
    items = leftover[kind != ""].assign(kind=kind[kind != ""], pays=pays[kind != ""])
    items = items.assign(reference=_bank_item_references(items))

    # Credits nobody explains (with the batches they could have been, when they were candidates).
    credit = credit & (kind == "")
    credits = leftover[credit]
    candidate_text = np.full(len(credits), "", dtype=object)
    if len(credits) and len(pairs):
        labelled = pairs.assign(label=_label(pairs))
        per_line = labelled.groupby("b")["label"].agg(lambda labels: ", ".join(dict.fromkeys(labels)))
        candidate_text = per_line.reindex(credits.index).fillna("").to_numpy(dtype=object)
    looks_like_cards = (processor | adjustment)[credit]
    hint = np.where(candidate_text != "", "; it was a candidate for " + candidate_text
                    + " but another credit matched better", "")
    source = join_text(credits["source_file"], ":", numbers_text(credits["source_line"]), " ref ",
                       credits["bank_reference"])
    problem = join_text("bank credit ", format_cents(credits["amount_cents"]), " on ",
                        dates_text(credits["posted_date"]), " ('", credits["description"],
                        "') matches no settlement batch", hint.astype(str))
    action = choose(looks_like_cards,
                    "it looks like a card deposit: check that every PayTrace batch of the days before it was "
                    "loaded (batches/export) and its window (settlement.deposit_window_business_days); "
                    "otherwise book it by hand",
                    "nothing to do if it is not a card deposit (a check or wire); otherwise load the batch it funds")
    credit_exceptions = concat_exceptions([
        exception_rows(UNMATCHED_CREDIT, severity, None, size=int(mask.sum()),
                       source_ids=np.asarray(source, dtype=object)[mask],
                       problem=np.asarray(problem, dtype=object)[mask], action=action[mask])
        for severity, mask in (("warning", looks_like_cards), ("info", ~looks_like_cards))])

    # Processor debits that are neither a fee nor a chargeback: someone must say what they are.
    odd = debit & processor & (kind == "")
    odd_lines = leftover[odd]
    debit_exceptions = exception_rows(
        UNMATCHED_DEBIT, "warning", None, size=len(odd_lines),
        source_ids=join_text(odd_lines["source_file"], ":", numbers_text(odd_lines["source_line"]), " ref ",
                             odd_lines["bank_reference"]),
        problem=join_text("bank debit ", format_cents(odd_lines["amount_cents"]), " on ",
                          dates_text(odd_lines["posted_date"]), " ('", odd_lines["description"],
                          "') looks like the card processor's but is neither a fee nor a chargeback"),
        action="find it on the processor statement and book it by hand, or widen settlement.fee_pattern / "
               "settlement.chargeback_pattern if it is one of those")
    return items.reset_index(drop=True), concat_exceptions([credit_exceptions, debit_exceptions])


def _short_rest_paid(leftover: pd.DataFrame, candidate: np.ndarray, short_owed: pd.DataFrame | None) -> np.ndarray:
    """Per leftover line, "Short batch <n> <group> paid" where it is the one processor credit of exactly the
    amount one short group was booked as owed (on or after the day it was booked); "" elsewhere. Two
    credits for one group, or one credit fitting two groups, pair nothing: the credits stay exceptions."""
    pays = np.full(len(leftover), "", dtype=object)
    if short_owed is None or short_owed.empty or not candidate.any():
        return pays
    credits = pd.DataFrame({"position": np.flatnonzero(candidate),
                            "amount_cents": leftover["amount_cents"].to_numpy()[candidate],
                            "posted_date": pd.to_datetime(leftover["posted_date"]).to_numpy()[candidate]})
    owed = short_owed.assign(booked_date=pd.to_datetime(short_owed["booked_date"]))
    pairs = credits.merge(owed, left_on="amount_cents", right_on="owed_cents")
    pairs = pairs[pairs["posted_date"] >= pairs["booked_date"]]
    pairs = pairs[~pairs.duplicated("position", keep=False) & ~pairs.duplicated(_KEY, keep=False)]
    pays[pairs["position"].to_numpy()] = np.asarray(join_text(
        "Short batch ", numbers_text(pairs["batch_number"]), " ", pairs["funding_group"], " paid"), dtype=object)
    return pays


def _bank_item_references(items: pd.DataFrame) -> list[str]:
    """Stable idempotency keys: what the bank says about the line, not which file carried it."""
    prefix = {"monthly_fees": "PT-FEE-", "chargeback": "PT-CB-", CHARGEBACK_REVERSAL: "PT-CR-", SHORT_PAID: "PT-SP-"}
    key = ["account_id", "posted_date", "amount_cents", "type_code", "bank_reference", "description"]
    occurrence = items.groupby(key, sort=False).cumcount().to_numpy() if len(items) else np.zeros(0, dtype=int)
    references = []
    for row, nth in zip(items[[*key, "kind"]].itertuples(index=False), occurrence.tolist()):
        text = "|".join([row.account_id, pd.Timestamp(row.posted_date).strftime("%Y-%m-%d"),
                         str(row.amount_cents), row.type_code, row.bank_reference,
                         " ".join(row.description.upper().split()), str(nth)])
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8].upper()
        references.append(f"{prefix[row.kind]}{pd.Timestamp(row.posted_date):%y%m%d}-{digest}")
    return references


# -------------------------------------------------------------------------------- exceptions


def _label(frame: pd.DataFrame) -> list[str]:
    return join_text("batch ", numbers_text(frame["batch_number"]), " ", frame["funding_group"])


def _tie_out_exceptions(tie_out: pd.DataFrame) -> pd.DataFrame:
    bad = tie_out[~tie_out["ties"]]
    if bad.empty:
        return empty_exceptions()
    summary_text = join_text(numbers_text(bad["summary_sales_count"]), " sales ",
                             format_cents(bad["summary_sales_cents"]), " / ", numbers_text(bad["summary_refund_count"]),
                             " refunds ", format_cents(bad["summary_refund_cents"]))
    detail_text = join_text(numbers_text(bad["detail_sales_count"]), " sales ", format_cents(bad["detail_sales_cents"]),
                            " / ", numbers_text(bad["detail_refund_count"]), " refunds ",
                            format_cents(bad["detail_refund_cents"]))
    missing = ~bad["in_summary"].to_numpy()
    what = choose(missing, "no batch summary was loaded for this batch; its transactions add up to ", "")
    said = np.where(missing, "", np.array(join_text("the batch summary says ", summary_text,
                                                     ", its transactions add up to "), dtype=object))
    problem = join_text("batch ", numbers_text(bad["batch_number"]), " ", bad["brand"], ": ", what, said,
                        detail_text)
    action = join_text("re-load batch ", numbers_text(bad["batch_number"]),
                       " (batches/export_one and batches/transaction_list); if PayTrace's summary is right a "
                       "transaction is missing from the list, if the list is right ask PayTrace about the summary; "
                       "the settlement entry of this batch is held until they tie out")
    return exception_rows(TOTALS_MISMATCH, "error", bad["batch_number"],
                          source_ids=join_text("batch ", numbers_text(bad["batch_number"]), " ", bad["brand"]),
                          problem=problem, action=action)


def _transaction_exceptions(transactions: pd.DataFrame) -> pd.DataFrame:
    relevant = ~transactions["ignored"] & (transactions["kind"] != "other")
    loose = transactions[relevant & ~transactions["in_batch"]]
    odd = transactions[~transactions["ignored"] & (transactions["kind"] == "other") & transactions["in_batch"]]
    return concat_exceptions([
        exception_rows(
            NO_BATCH, "warning", None, size=len(loose),
            source_ids=join_text("transaction ", numbers_text(loose["transaction_id"])),
            problem=join_text("settled ", loose["kind"], " ", numbers_text(loose["transaction_id"]), " (",
                              loose["card_brand"], " ", format_cents(loose["amount_cents"]),
                              ") is in no settlement batch, so no deposit can clear it"),
            action="load the batch it settled in (export/by_id shows status GB<batch>); if PayTrace shows no batch, "
                   "ask PayTrace support which batch funded it"),
        exception_rows(
            UNKNOWN_TYPE, "warning", odd["batch_number"],
            source_ids=join_text("transaction ", numbers_text(odd["transaction_id"])),
            problem=join_text("transaction ", numbers_text(odd["transaction_id"]), " in batch ",
                              numbers_text(odd["batch_number"]), " has type '", odd["transaction_type"],
                              "', neither a sale nor a refund type; it is left out of the batch totals"),
            action="add the type to settlement.sale_types or settlement.refund_types if it moves money"),
    ])


def _posting_exceptions(expected: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    unposted = expected[expected["unposted_count"] > 0]
    labels = [limited_list(items) for items in unposted["unposted_labels"]]
    not_posted = exception_rows(
        NOT_POSTED, "error", unposted["batch_number"],
        source_ids=[limited_list(ids.split(", ")) for ids in unposted["unposted_transaction_ids"]],
        problem=join_text(_label(unposted), " closed ", dates_text(unposted["closed_date"]), ": ",
                          numbers_text(unposted["unposted_count"]), " of ", numbers_text(unposted["sales_count"]),
                          " sales (", format_cents(unposted["unposted_cents"]),
                          ") are not confirmed receipts in Sage: ", labels),
        action=join_text("post them (or resolve their receivable exceptions) so that Sage's clearing account holds "
                         "them. Until then the deposit entry of ", _label(unposted), " parks them in "
                         "gl_accounts.unposted_sales and the next settlement run after they post moves them to "
                         "clearing; without that account the entry waits until every sale is in Sage"))
    differing = sales[sales["amount_differs"]]
    mismatch = exception_rows(
        RECEIPT_AMOUNT_MISMATCH, "error", differing["batch_number"],
        source_ids=join_text("transaction ", numbers_text(differing["transaction_id"])),
        problem=join_text("transaction ", numbers_text(differing["transaction_id"]), " settled for ",
                          format_cents(differing["amount_cents"]), " but its Sage receipt is ",
                          format_cents(differing["posted_cents"])),
        action=join_text("correct the Sage receipt to the settled amount; the settlement entry of batch ",
                         numbers_text(differing["batch_number"]), " is held until they agree"))
    return concat_exceptions([not_posted, mismatch])


def _unrecorded_refund_exceptions(refunds: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """One per refund the refund flow has not recorded in Sage yet: its batch's entry waits for it."""
    waiting = refunds[refunds["treatment"] == NOT_IN_SAGE].sort_values(["batch_number", "funding_group",
                                                                          "transaction_id"])
    if waiting.empty:
        return empty_exceptions()
    waiting = waiting.merge(expected[[*_KEY, "closed_date"]], on=_KEY, how="left")
    ids = numbers_text(waiting["transaction_id"])
    return exception_rows(
        REFUNDS_NOT_IN_SAGE, "warning", waiting["batch_number"],
        source_ids=join_text("transaction ", ids),
        problem=join_text(_label(waiting), " closed ", dates_text(waiting["closed_date"]), ": refund ", ids, " (",
                          waiting["card_brand"], " ", format_cents(waiting["amount_cents"]),
                          ") is not recorded in Sage yet; the batch's deposit entry posts once the refunds flow "
                          "records it"),
        action=join_text("nothing to do while the refunds flow runs: it records refund ", ids, " in Sage (a card "
                         "refund that takes it out of card clearing) and the next settlement run posts the entry of ",
                         _label(waiting), "; if refund ", ids, " is in refund_exceptions, resolve that first"))


def _deposit_exceptions(expected: pd.DataFrame, matches: pd.DataFrame, policy: SettlementPolicy) -> pd.DataFrame:
    window = join_text(" (posted after ", dates_text(expected["closed_date"]), " and by ",
                       dates_text(expected["window_end"]), ")")
    daily = policy.discount_method == "daily"
    scheduled = expected["scheduled"].to_numpy(dtype=bool)
    cap = expected["sales_cents"].to_numpy() * policy.max_fee_bps // 10_000 if daily else np.zeros(len(expected))
    fee_text = (np.array(join_text(", or up to ", format_cents(cap), " less net of daily discount"), dtype=object)
                if daily and len(expected) else np.full(len(expected), "", dtype=object))
    fee_text = np.where((expected["gross_cents"].to_numpy() > 0) & ~scheduled, fee_text, "")
    scheduled_text = np.where(scheduled, np.array(join_text(
        " - scheduled fees ", format_cents(expected["scheduled_fee_cents"])), dtype=object), "")
    expectation = join_text(_label(expected), " closed ", dates_text(expected["closed_date"]), ": expected ",
                            format_cents(expected["target_cents"]), " (sales ", format_cents(expected["sales_cents"]),
                            " - refunds ", format_cents(expected["refund_cents"]), scheduled_text.astype(str), ")",
                            fee_text.astype(str))
    source = join_text("batch ", numbers_text(expected["batch_number"]), " ", expected["funding_group"])
    status = expected["deposit_status"].to_numpy()
    frames = []
    for kind, severity, state, tail, action in (
        (DEPOSIT_MISSING, "error", "missing", ": no bank line matched in the deposit window",
         ("check that the bank statements of the window are loaded and the batch was funded (processor "
          "statement); a deposit outside the window can be matched by widening "
          "settlement.deposit_window_business_days")),
        (DEPOSIT_PENDING, "info", "pending", ": not deposited yet, still within the deposit window",
         "nothing to do yet; it becomes deposit_missing when the window has passed"),
    ):
        rows = np.flatnonzero(status == state)
        frames.append(exception_rows(
            kind, severity, expected["batch_number"].to_numpy()[rows],
            source_ids=np.asarray(source, dtype=object)[rows],
            problem=np.array(join_text(np.asarray(expectation, dtype=object)[rows],
                                       np.asarray(window, dtype=object)[rows], tail),
                             dtype=object) if len(rows) else [],
            action=action))

    off = matches[matches["status"].isin(["short", "over"])]
    if len(off):
        found = off.merge(expected.assign(expectation=expectation)[[*_KEY, "expectation"]], on=_KEY, how="left")
        got = join_text(found["expectation"].astype(str), "; got ", format_cents(found["deposit_cents"]), " on ",
                        dates_text(found["posted_date"]), " (", found["source_file"], ":",
                        numbers_text(found["source_line"].astype("int64")), ", '", found["description"], "'), ",
                        format_cents(found["variance_cents"]), " outside what was expected")
        netted = (found["method"] == NETTED).to_numpy()
        fee = found["fee_cents"].to_numpy()
        rounding = found["rounding_cents"].to_numpy()
        printed = found["printed_cents"].to_numpy()
        fee_part = np.where(fee != 0, np.array(join_text(", the fee ", format_cents(fee)), dtype=object), "")
        rounding_part = np.where(rounding != 0, np.array(join_text(", rounding ", format_cents(rounding)),
                                                         dtype=object), "")
        booked = join_text("; the description names an adjustment, so ", format_cents(found["adjustment_cents"]),
                           np.where(printed > 0, " (the amount it prints)", " (the shortfall)"),
                           " is booked to chargebacks",
                           np.where((fee != 0) | (rounding != 0), join_text(" (and to merchant fees",
                                                                            fee_part.astype(str),
                                                                            rounding_part.astype(str), ")"),
                                    "").astype(str))
        unexplained = np.where((printed > 0) & ~netted, np.array(join_text(
            "; the description prints an adjustment of ", format_cents(printed),
            ", which does not account for the difference"), dtype=object), "")
        got = join_text(got, unexplained.astype(str))
        frames.append(exception_rows(
            DEPOSIT_VARIANCE, "warning", found.loc[netted, "batch_number"],
            source_ids=np.asarray(join_text(_label(found), " / ", found["source_file"], ":",
                                            numbers_text(found["source_line"].astype("int64"))), dtype=object)[netted],
            problem=np.array(join_text(got, booked), dtype=object)[netted],
            action="match the shortfall to the processor's chargeback/adjustment notice (case number) and "
                   "reclassify any part that is a fee or reserve"))
        frames.append(exception_rows(
            DEPOSIT_VARIANCE, "error", found.loc[~netted, "batch_number"],
            source_ids=np.asarray(join_text(_label(found), " / ", found["source_file"], ":",
                                            numbers_text(found["source_line"].astype("int64"))), dtype=object)[~netted],
            problem=np.asarray(got, dtype=object)[~netted],
            action="find the difference on the processor statement (chargeback, reserve, fee, a missing "
                   "transaction) and book it by hand or correct the batch; the settlement entry is held"))
    return concat_exceptions(frames)


def _schedule_exceptions(expected: pd.DataFrame) -> pd.DataFrame:
    """A daily-discount group with a brand the fee schedule does not price: checked by the fee window."""
    rows = expected[expected["unscheduled_brands"] != ""]
    if rows.empty:
        return empty_exceptions()
    return exception_rows(
        FEE_SCHEDULE_INCOMPLETE, "warning", rows["batch_number"],
        source_ids=join_text("batch ", numbers_text(rows["batch_number"]), " ", rows["funding_group"]),
        problem=join_text(_label(rows), " closed ", dates_text(rows["closed_date"]), ": settlement.fee_schedule has "
                          "no rate for ", rows["unscheduled_brands"], " and settlement.other_brand_fee is not set, so "
                          "its deposit is only checked against the max_fee_bps window, not an exact expected amount"),
        action="add the brand's rate to settlement.fee_schedule (or set settlement.other_brand_fee)")


def _ambiguity_exceptions(expected: pd.DataFrame, lines: pd.DataFrame, pairs: pd.DataFrame,
                          accepted: pd.DataFrame) -> pd.DataFrame:
    """Two matched deposits that could as well be swapped (same tier and fit) but differ in amount."""
    if len(accepted) < 2 or not _has_rival(accepted, pairs):
        return empty_exceptions()
    chosen = accepted[["e", "b", "rank", "affinity"]]
    amount = lines["amount_cents"].to_numpy()
    # (e1, b1) matched; (e1, b2) a candidate of the same tier and fit; b2 matched to e2 in the same tier...
    other = chosen.merge(pairs[["e", "b", "rank", "affinity"]], on=["e", "rank", "affinity"], suffixes=("", "2"))
    other = other[other["b"] != other["b2"]]
    other = other.merge(chosen.rename(columns={"e": "e2", "b": "b2", "affinity": "affinity_2"}),
                        on=["b2", "rank"])
    # ... and (e2, b1) a candidate of that tier and fit as well.
    swap = other.merge(pairs[["e", "b", "rank", "affinity"]].rename(
        columns={"e": "e2", "b": "b", "affinity": "affinity_2"}), on=["e2", "b", "rank", "affinity_2"])
    swap = swap[(amount[swap["b"].to_numpy()] != amount[swap["b2"].to_numpy()]) & (swap["e"] < swap["e2"])]
    swap = swap.drop_duplicates(["e", "e2"])  # one exception per swappable pair
    if swap.empty:
        return empty_exceptions()
    e1 = swap["e"].to_numpy()
    e2 = swap["e2"].to_numpy()
    first = expected.iloc[e1]
    second = expected.iloc[e2]
    return exception_rows(
        DEPOSIT_MATCH_AMBIGUOUS, "warning", first["batch_number"],
        source_ids=join_text(_label(first), " / ", _label(second)),
        problem=join_text(_label(first), " and ", _label(second),
                          " could each have taken the other's deposit (", format_cents(amount[swap["b"].to_numpy()]),
                          " / ", format_cents(amount[swap["b2"].to_numpy()]),
                          "); the earlier batch took the earlier credit, so their fees may be swapped"),
        action="check the processor's funding report for which deposit funded which batch; if swapped, "
               "correct the two fee amounts by hand")


def _has_rival(accepted: pd.DataFrame, pairs: pd.DataFrame) -> bool:
    """Whether a matched batch has a second candidate line of its match's tier and fit: without one no
    swap is possible (the usual day, checked on plain tuples rather than by three merges)."""
    tier = ["e", "rank", "affinity"]
    lines_per_tier: dict[tuple, set] = {}
    for *key, line in zip(*(pairs[column].tolist() for column in (*tier, "b")), strict=True):
        lines_per_tier.setdefault(tuple(key), set()).add(line)
    return any(len(lines_per_tier.get(key, ())) > 1
               for key in zip(*(accepted[column].tolist() for column in tier), strict=True))


# -------------------------------------------------------------------------------------- output


def _dated(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    for column in columns:
        values = pd.to_datetime(frame[column])
        days = values.dt.date.to_numpy(dtype=object)
        days[values.isna().to_numpy()] = None
        frame[column] = days
    return frame


__all__ = ["Reconciliation", "RefundFlow", "batch_tie_out", "reconcile"]
