"""The settlement journal in the Sage company's currency, with the realized exchange difference.

Batches, deposits and fees are reconciled in PayTrace's currency (the processor's and the bank
account's); Sage books in its own. Each line of a planned entry is converted:

- clearing credits of a batch's sales: the Sage amounts its receipts debited (converted at each
  sale's business day when it was posted), so each brand's clearing account nets to zero;
- clearing debits of the refunds Sage holds as card refunds: the Sage amounts those card refunds
  credited (`refund_cents`: converted at their sale's rate by the refund flow), so clearing nets to
  zero; a refund without a recorded amount at the posting date's rate;
- a sale parked in unposted sales: converted at its sale day's rate, as its receipt will be;
- a `PT-S` reclass: read back from Sage's GL, already in Sage's currency;
- everything else (bank, fees, chargebacks, refunds, processor receivable): at the rate of the
  entry's posting date (the deposit day).

What is left between the converted debits and credits is the realized exchange difference, one
line on `currency.exchange_difference_account` (a credit is a gain), so every entry balances to the
cent. An entry needing a rate that is missing is held with a `missing_exchange_rate` exception; it
is produced on a later run once the rate is in the file. Every line keeps its rate and both amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.currency import FX_RATE, MISSING_EXCHANGE_RATE, RateTable, convert_many
from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.domain.settlement.frames import concat_exceptions, exception_rows, join_text
from sage_paytrace_pipeline.domain.settlement.journal import (
    ENTRY_COLUMNS,
    GL_ACCOUNT_UNMAPPED,
    HELD_COLUMNS,
    LINE_COLUMNS,
    UNPOSTED_SALE_RECLASS,
    JournalPlan,
    UnbalancedPlanError,
)
from sage_paytrace_pipeline.domain.settlement.reconcile import THROUGH_CLEARING, Reconciliation

EXCHANGE_DIFFERENCE = "exchange_difference"
PAYTRACE_DEBIT = "paytrace_debit_cents"
PAYTRACE_CREDIT = "paytrace_credit_cents"
CONVERTED_LINE_COLUMNS = (*LINE_COLUMNS, PAYTRACE_DEBIT, PAYTRACE_CREDIT, FX_RATE)
_SALE_ENTRIES = ("deposit", "missing_deposit")
_KEY = ["batch_number", "funding_group", "brand"]


def journal_in_sage_currency(plan: JournalPlan, reconciliation: Reconciliation, *, receipt_cents: Mapping[int, int],
                             sale_dates: Mapping[int, date], rates: RateTable, exchange_account: str,
                             active_accounts: frozenset[str] | set[str],
                             refund_cents: Mapping[int, tuple[int, str]] | None = None) -> JournalPlan:
    """The plan's entries in Sage's currency (see the module docstring). `receipt_cents`: each
    posted sale's receipt amount in Sage (transaction id -> cents); `sale_dates`: each sale's
    business day (its receipt's rate day); `refund_cents`: each recorded refund's card refund
    amount in Sage and its rate (refund id -> (cents, rate))."""
    entries, lines = plan.entries, plan.lines
    kind = lines["reference"].map(entries.set_index("reference")["kind"]).to_numpy(dtype=object)
    day = lines["reference"].map(entries.set_index("reference")["posting_date"])
    amount = (lines["debit_cents"] - lines["credit_cents"]).to_numpy(dtype="int64")
    sage = np.zeros(len(lines), dtype="int64")
    rate_texts = np.full(len(lines), "", dtype=object)
    missing_day = np.full(len(lines), None, dtype=object)

    sales = _sales_in_sage(reconciliation, receipt_cents, sale_dates, rates)
    # Sales credited to clearing: what their receipts debited.
    clearing = (lines["role"].to_numpy() == "clearing") & np.isin(kind, _SALE_ENTRIES) & (amount < 0)
    if clearing.any():
        posted = sales[sales["posted"]].groupby(_KEY, sort=False).agg(
            sage_cents=("sage_cents", "sum"), rates=("rate", _rates_text))
        keys = lines.loc[clearing, ["reference"]].merge(entries[["reference", "batch_number", "funding_group"]],
                                                        on="reference", how="left")
        keys["brand"] = lines.loc[clearing, "brand"].to_numpy()
        found = posted.reindex(pd.MultiIndex.from_frame(keys[_KEY].astype({"batch_number": "int64"})))
        sage[clearing] = -found["sage_cents"].fillna(0).astype("int64").to_numpy()
        rate_texts[clearing] = found["rates"].fillna("").to_numpy(dtype=object)
    # Refunds debited back to clearing: what their card refunds credited in Sage.
    refunded = (lines["role"].to_numpy() == "clearing") & np.isin(kind, _SALE_ENTRIES) & (amount > 0)
    if refunded.any():
        _refunds_in_sage(lines, entries, refunded, reconciliation=reconciliation, refund_cents=refund_cents or {},
                         day=day, rates=rates, sage=sage, rate_texts=rate_texts, missing_day=missing_day)
    # Sales parked in unposted sales, and the reclass of a parked sale (its amounts come from Sage's GL).
    by_sale = sales.set_index("transaction_id")
    sale_id = pd.to_numeric(lines["comment"].astype(str).str.extract(r"sale (\d+)$")[0], errors="coerce")
    parked = (lines["role"].to_numpy() == "unposted_sales") & np.isin(kind, _SALE_ENTRIES)
    if parked.any():
        ids = sale_id[parked].astype("int64")
        converted = ids.map(by_sale["unposted_sage_cents"])
        sage[parked] = np.where(converted.isna(), 0, -converted.fillna(0).astype("int64"))
        rate_texts[parked] = ids.map(by_sale["rate"]).fillna("").astype(str).to_numpy(dtype=object)
        missing_day[parked] = np.where(converted.isna(), ids.map(by_sale["sale_date"]).to_numpy(dtype=object), None)
    reclass = kind == UNPOSTED_SALE_RECLASS
    sage[reclass] = amount[reclass]
    paytrace = amount.copy()
    if reclass.any():
        ids = lines.loc[reclass, "reference"].str.slice(4).astype("int64")
        paytrace[reclass] = np.sign(amount[reclass]) * ids.map(by_sale["amount_cents"]).fillna(0).astype("int64")
        rate_texts[reclass] = ids.map(by_sale["rate"]).fillna("").astype(str).to_numpy(dtype=object)
    # Everything else at the posting date's rate.
    other = ~(clearing | refunded | parked | reclass)
    if other.any():
        days = [pd.Timestamp(value).date() for value in day[other]]
        day_rates = rates.rates_on(days)
        known = np.array([rate is not None for rate in day_rates], dtype=bool)
        positions = np.flatnonzero(other)
        sage[positions[known]] = convert_many(amount[positions[known]], [r for r in day_rates if r is not None])
        rate_texts[positions[known]] = [str(r) for r in day_rates if r is not None]
        missing_day[positions[~known]] = np.array(days, dtype=object)[~known]

    converted = lines.assign(amount=sage, paytrace=paytrace, **{FX_RATE: rate_texts})
    held_refs = sorted(set(lines.loc[pd.notna(missing_day), "reference"]))
    held, problems = _missing_rates(entries, lines, missing_day, held_refs, rates)
    converted = converted[~converted["reference"].isin(held_refs)]
    entries = entries[~entries["reference"].isin(held_refs)]

    converted = _with_exchange_differences(converted, exchange_account)
    bad_account = exchange_account not in active_accounts
    unmapped_refs = sorted(set(converted.loc[converted["role"] == EXCHANGE_DIFFERENCE, "reference"])) \
        if bad_account else []
    unmapped_held, unmapped = _account_inactive(entries, converted, unmapped_refs, exchange_account)
    converted = converted[~converted["reference"].isin(unmapped_refs)]
    entries = entries[~entries["reference"].isin(unmapped_refs)]

    lines_out = _finish(converted)
    entries_out = _totals(entries, lines_out)
    return JournalPlan(entries=entries_out, lines=lines_out,
                       exceptions=concat_exceptions([plan.exceptions, problems, unmapped]),
                       held=_held([plan.held, held, unmapped_held]))


def _refunds_in_sage(lines: pd.DataFrame, entries: pd.DataFrame, refunded: np.ndarray, *,
                     reconciliation: Reconciliation, refund_cents: Mapping[int, tuple[int, str]], day: pd.Series,
                     rates: RateTable, sage: np.ndarray, rate_texts: np.ndarray, missing_day: np.ndarray) -> None:
    """Fill the refund clearing debits: recorded Sage amounts, the rest at the posting date's rate."""
    recorded = reconciliation.refunds[reconciliation.refunds["treatment"] == THROUGH_CLEARING].copy()
    if "brand" not in recorded:
        recorded["brand"] = recorded["card_brand"]
    ids = recorded["transaction_id"].astype("int64")
    known = ids.isin(list(refund_cents)).to_numpy()
    recorded["sage_cents"] = [refund_cents[i][0] if i in refund_cents else 0 for i in ids.tolist()]
    recorded["rate"] = [refund_cents[i][1] if i in refund_cents else "" for i in ids.tolist()]
    recorded["unknown_cents"] = np.where(known, 0, recorded["amount_cents"].astype("int64"))
    by_key = recorded.groupby(_KEY, sort=False).agg(sage_cents=("sage_cents", "sum"), rates=("rate", _rates_text),
                                                     unknown_cents=("unknown_cents", "sum"))
    keys = lines.loc[refunded, ["reference"]].merge(entries[["reference", "batch_number", "funding_group"]],
                                                    on="reference", how="left")
    keys["brand"] = lines.loc[refunded, "brand"].to_numpy()
    found = by_key.reindex(pd.MultiIndex.from_frame(keys[_KEY].astype({"batch_number": "int64"})))
    found = found.fillna({"sage_cents": 0, "unknown_cents": 0, "rates": ""})
    positions = np.flatnonzero(refunded)
    days = [pd.Timestamp(value).date() for value in day[refunded]]
    day_rates = rates.rates_on(days)
    unknown = found["unknown_cents"].astype("int64").to_numpy()
    for position, sage_part, rest, recorded_rates, rate, on in zip(
            positions, found["sage_cents"].astype("int64").to_numpy(), unknown, found["rates"].to_numpy(dtype=object),
            day_rates, days, strict=True):
        if not rest:
            sage[position], rate_texts[position] = int(sage_part), recorded_rates
        elif rate is None:
            missing_day[position] = on
        else:
            sage[position] = int(sage_part) + int(convert_many([int(rest)], [rate])[0])
            rate_texts[position] = _rates_text(pd.Series([recorded_rates, str(rate)]))


def _held(frames: list[pd.DataFrame]) -> pd.DataFrame:
    present = [frame for frame in frames if len(frame)] or frames[:1]
    return pd.concat(present, ignore_index=True).loc[:, list(HELD_COLUMNS)].astype({"batch_number": "Int64"})


def _sales_in_sage(reconciliation: Reconciliation, receipt_cents: Mapping[int, int],
                   sale_dates: Mapping[int, date], rates: RateTable) -> pd.DataFrame:
    """Every counted sale with its Sage amount: the receipt's when posted, else converted at its day's rate."""
    sales = reconciliation.sales.copy()
    ids = sales["transaction_id"].astype("int64")
    sales["posted"] = sales["state"].eq("confirmed").fillna(False).astype(bool).to_numpy()
    sales["sale_date"] = ids.map(sale_dates).to_numpy(dtype=object)
    sale_rates = rates.rates_on([value if value is not None and not pd.isna(value) else date.min
                                 for value in sales["sale_date"]])
    sales["rate"] = [str(rate) if rate is not None else "" for rate in sale_rates]
    known = np.array([rate is not None for rate in sale_rates], dtype=bool)
    unposted = pd.array([pd.NA] * len(sales), dtype="Int64")
    if known.any():
        unposted[known] = convert_many(sales.loc[known, "amount_cents"].astype("int64"),
                                       [rate for rate in sale_rates if rate is not None])
    sales["unposted_sage_cents"] = unposted
    sales["sage_cents"] = ids.map(receipt_cents).fillna(0).astype("int64").to_numpy()
    return sales


def _rates_text(rates: pd.Series) -> str:
    """The distinct rates behind an aggregated line, as published (several: joined by '/')."""
    return "/".join(sorted({str(rate) for rate in rates if rate}))


def _missing_rates(entries: pd.DataFrame, lines: pd.DataFrame, missing_day: np.ndarray, references: list[str],
                   rates: RateTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not references:
        return pd.DataFrame(columns=list(HELD_COLUMNS)), concat_exceptions([])
    gaps = pd.DataFrame({"reference": lines["reference"], "day": missing_day}).dropna()
    days = gaps.groupby("reference")["day"].agg(lambda values: ", ".join(sorted({str(v) for v in values})))
    held = entries[entries["reference"].isin(references)].assign(
        reason=lambda frame: "exchange rate missing: " + frame["reference"].map(days))
    problem = join_text("entry ", held["reference"], " needs the exchange rate of ", held["reference"].map(days),
                        " and ", rates.source, " has none usable; the entry is not posted")
    action = join_text("Add the rate of ", held["reference"].map(days), " to ", rates.source,
                       " (`date,rate`); the next settlement run posts the entry")
    exceptions = exception_rows(MISSING_EXCHANGE_RATE, "error", held["batch_number"],
                                source_ids=held["reference"].astype(str), problem=problem, action=action)
    return held.loc[:, list(HELD_COLUMNS)], exceptions


def _with_exchange_differences(lines: pd.DataFrame, account: str) -> pd.DataFrame:
    """One line per entry that does not balance after conversion: the realized difference."""
    net = lines.groupby("reference", sort=False)["amount"].sum()
    net = net[net != 0]
    difference = pd.DataFrame({
        "reference": net.index.to_numpy(dtype=object), "role": EXCHANGE_DIFFERENCE, "brand": "",
        "account": account, "amount": -net.to_numpy(dtype="int64"), "paytrace": 0, FX_RATE: "",
        "comment": np.where(net.to_numpy() > 0, "Realized exchange gain", "Realized exchange loss"),
        "line_no": 10_000})
    return pd.concat([lines, difference], ignore_index=True)


def _account_inactive(entries: pd.DataFrame, lines: pd.DataFrame, references: list[str],
                      account: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not references:
        return pd.DataFrame(columns=list(HELD_COLUMNS)), concat_exceptions([])
    held = entries[entries["reference"].isin(references)].assign(
        reason="GL account unmapped: exchange_difference")
    amounts = lines[lines["role"] == EXCHANGE_DIFFERENCE].set_index("reference")["amount"].abs()
    exceptions = exception_rows(
        GL_ACCOUNT_UNMAPPED, "error", held["batch_number"],
        source_ids=join_text(held["reference"], " exchange_difference"),
        problem=join_text("entry ", held["reference"], " needs the exchange difference account (",
                          format_cents(held["reference"].map(amounts).fillna(0).astype("int64")), "); account ",
                          account, " is not an active account in Sage"),
        action=f"activate {account} in Sage, or set currency.exchange_difference_account to an active account; "
               "the entry is produced on the next run")
    return held.loc[:, list(HELD_COLUMNS)], exceptions


def _finish(lines: pd.DataFrame) -> pd.DataFrame:
    # a line converted to nothing (a cent that rounds away) is no line
    lines = lines[lines["amount"] != 0].sort_values(["reference", "line_no"], kind="stable", ignore_index=True)
    amount, paytrace = lines["amount"].to_numpy(dtype="int64"), lines["paytrace"].to_numpy(dtype="int64")
    finished = pd.DataFrame({
        "reference": lines["reference"],
        "line_no": (lines.groupby("reference", sort=False).cumcount() + 1).astype("int64"),
        "role": lines["role"], "brand": lines["brand"], "account": lines["account"],
        "debit_cents": np.where(amount > 0, amount, 0).astype("int64"),
        "credit_cents": np.where(amount < 0, -amount, 0).astype("int64"),
        "comment": lines["comment"],
        PAYTRACE_DEBIT: np.where(paytrace > 0, paytrace, 0).astype("int64"),
        PAYTRACE_CREDIT: np.where(paytrace < 0, -paytrace, 0).astype("int64"),
        FX_RATE: lines[FX_RATE].astype(object),
    }, columns=list(CONVERTED_LINE_COLUMNS))
    return finished


def _totals(entries: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    totals = lines.groupby("reference").agg(debit_cents=("debit_cents", "sum"), credit_cents=("credit_cents", "sum"),
                                            line_count=("line_no", "size"))
    entries = entries.drop(columns=["debit_cents", "credit_cents", "line_count"]).merge(
        totals, left_on="reference", right_index=True, how="inner")
    unbalanced = entries[entries["debit_cents"] != entries["credit_cents"]]
    if len(unbalanced):
        raise UnbalancedPlanError(f"converted entry {unbalanced['reference'].iloc[0]} is out of balance")
    entries = entries.astype({"debit_cents": "int64", "credit_cents": "int64", "line_count": "int64"})
    return entries.loc[:, list(ENTRY_COLUMNS)].reset_index(drop=True)
