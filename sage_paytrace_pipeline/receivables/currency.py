"""Payments in the Sage company's currency before matching, and the rate and both amounts kept on
every application (README "Currencies"). Sage's invoices are in its currency, so a payment is
converted at its business day's rate (domain/currency.py) before it is compared with them.

A payment of a day without a usable rate is not matched and not posted: a `missing_exchange_rate`
exception says which rate to add; the next run after it is added posts the payment (once: Sage is
still the authority, by transaction id). Payments Sage already holds are carried as they were
recorded, whatever the rates file says now.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.currency import (
    FX_RATE,
    MISSING_EXCHANGE_RATE,
    PAYTRACE_AMOUNT,
    RateTable,
    allocate,
    convert_many,
)
from sage_paytrace_pipeline.domain.matching import MatchingPolicy, split_eligible
from sage_paytrace_pipeline.domain.matching.exceptions import empty_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.money import format_cents
from sage_paytrace_pipeline.receivables.posting_log import Intent


def payments_in_sage_currency(payments: pd.DataFrame, day: date, rates: RateTable, *, posted: set[int],
                              policy: MatchingPolicy, currencies: tuple[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the day's payments with `amount_cents` in Sage's currency, `paytrace_amount_cents` and
    `fx_rate`; the `missing_exchange_rate` exceptions). Without a rate the payments matching would
    post, and Sage does not hold yet, are left out: they wait for the rate."""
    rate = rates.rate_on(day)
    original = payments["amount_cents"].astype("int64")
    if rate is not None:
        return payments.assign(amount_cents=convert_many(original, [rate] * len(payments)),
                               **{PAYTRACE_AMOUNT: original, FX_RATE: str(rate)}), empty_exceptions()
    eligible, _, _ = split_eligible(payments, policy)
    waiting = eligible[~eligible["transaction_id"].isin(list(posted))]
    kept = payments[~payments["transaction_id"].isin(waiting["transaction_id"])]
    kept = kept.assign(**{PAYTRACE_AMOUNT: kept["amount_cents"].astype("int64"), FX_RATE: ""})
    return kept, _missing_rate(waiting, day, rates, currencies)


def _missing_rate(waiting: pd.DataFrame, day: date, rates: RateTable, currencies: tuple[str, str]) -> pd.DataFrame:
    if waiting.empty:
        return empty_exceptions()
    paytrace, sage = currencies
    ids = waiting["transaction_id"].astype("int64").reset_index(drop=True)
    amounts = pd.Series(format_cents(waiting["amount_cents"]))
    return make_exceptions(
        MISSING_EXCHANGE_RATE, "error", ids,
        source_ids="paytrace:" + ids.astype(str) + f" rate:{day}",
        problem="transaction " + ids.astype(str) + " of " + amounts + f" {paytrace} needs the {paytrace}->{sage} "
                f"rate of {day}, and {rates.missing_reason(day)}; nothing was matched or posted",
        action=f"Add the rate of {day} (or the last business day before it) to {rates.source} as `{day},<rate>` "
               f"({sage} per 1 {paytrace}); the next run of {day} posts the payment",
    )


def applications_with_exchange(applications: pd.DataFrame, payments: pd.DataFrame,
                               earlier: dict[int, Intent]) -> pd.DataFrame:
    """Each application with its payment's rate and its share of the PayTrace amount (the shares add
    up to the payment, to the cent); applications posted earlier keep what the log recorded."""
    if applications.empty:
        return applications.assign(**{PAYTRACE_AMOUNT: pd.Series(dtype="Int64"), FX_RATE: pd.Series(dtype=object)})
    by_payment = payments.drop_duplicates("transaction_id").set_index("transaction_id")
    tid = applications["transaction_id"]
    carried = (applications["posted_earlier"].astype(bool) if "posted_earlier" in applications
               else pd.Series(False, index=applications.index)).to_numpy()
    shares = allocate(tid.map(by_payment[PAYTRACE_AMOUNT]).fillna(0).astype("int64"),
                      applications["amount_cents"].astype("int64"), tid)
    amounts = pd.array(np.where(carried, 0, shares), dtype="Int64")
    rates = tid.map(by_payment[FX_RATE]).fillna("").astype(object).to_numpy()
    if carried.any():
        recorded = _recorded_lines(applications[carried], earlier)
        amounts[carried] = recorded[PAYTRACE_AMOUNT].to_numpy()
        rates[carried] = recorded[FX_RATE].to_numpy()
    return applications.assign(**{PAYTRACE_AMOUNT: amounts, FX_RATE: rates})


def _recorded_lines(carried: pd.DataFrame, earlier: dict[int, Intent]) -> pd.DataFrame:
    """The rate and PayTrace amount the log holds for each carried application (by its position
    among its payment's lines); NA / '' for a receipt posted before conversion or found in Sage."""
    position = carried.groupby("transaction_id", sort=False).cumcount().to_numpy()
    amounts, rates = [], []
    for transaction_id, index in zip(carried["transaction_id"].astype("int64").tolist(), position.tolist(),
                                     strict=True):
        intent = earlier.get(transaction_id)
        lines = json.loads(intent.applications_json) if intent is not None else []
        line = lines[index] if index < len(lines) else {}
        amounts.append(line.get(PAYTRACE_AMOUNT))
        rates.append(str(line.get(FX_RATE) or ""))
    return pd.DataFrame({PAYTRACE_AMOUNT: pd.array(amounts, dtype="Int64"), FX_RATE: rates})
