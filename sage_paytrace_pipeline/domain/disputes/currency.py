"""A case's money in the Sage company's currency (README "Currencies"; pure, no I/O).

Case amounts are in PayTrace's currency. Each stage that moves money gets two Sage amounts:

- *book* (`<amount>_book`): the sale's money as Sage holds it, for the legs on the chargeback
  receivable, the loss account and card clearing (the receipt reversal `PT-O…` and re-application
  `PT-A…`): the amount at the sale's rate as its receipt recorded it, half-up, never more than the
  receipt's Sage amount (the whole sale is exactly the receipt's amount), so clearing, the receivable
  and the re-opened invoice net as they do without conversion, a partial chargeback proportionally;
- *processor* (`<amount>_processor`): what the processor took or gave back, for the legs on
  `gl_accounts.chargebacks` and the processor receivable, at the rate settlement booked that money
  at (its deposit or bank day's): that of the one settlement line of the stage's amount near its
  activity day (`booked_rates`), else the activity day's (the day the report says the processor
  moved it; the line may not be booked yet); the case fee at that rate too, as the part of the
  chargeback-plus-fee debit the chargeback leaves (one rounding, as settlement converts the debit).

The difference of an entry's two sides is the realized exchange difference (postings.py adds its line).
A stage that cannot be converted waits, with its chain's later stages, as an exception: it took or
gave back money and no rate is found for it (`missing_exchange_rate`, naming the day and the rates
file; a write-off needs only the sale's rate), or there is no sale rate to convert at
(`dispute_sale_without_rate`: the case has no sale, the sale's receipt is not in Sage yet, or it was
posted before the conversion was configured and recorded no rate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.currency import (
    FX_RATE,
    MISSING_EXCHANGE_RATE,
    RateTable,
    SaleExchange,
    convert_cents,
)
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS
from sage_paytrace_pipeline.domain.money import cents_to_decimal

SALE_WITHOUT_RATE = "dispute_sale_without_rate"
AMOUNTS = ("taken_cents", "returned_cents", "written_off_cents")
# What the converted stages carry: the sale's rate, the activity day's rate, the fee in Sage's currency.
SALE_RATE, DAY_RATE, FEE_SAGE = "sale_fx_rate", "day_fx_rate", "fee_sage_cents"


@dataclass(frozen=True)
class ConvertedStages:
    stages: pd.DataFrame  # the stages to post, with the `_book` / `_processor` amounts and the rates
    exceptions: pd.DataFrame


# Settlement's lines on chargebacks / the processor receivable (`processor_lines`): the day and rate it booked
# a processor debit or credit at, in PayTrace cents.
PROCESSOR_LINE_COLUMNS = ["posting_date", "side", "paytrace_cents", FX_RATE]
# How far from a stage's activity day the bank line of its money may be (the processor's report and
# the deposit or debit rarely share a day).
DAYS_BEFORE, DAYS_AFTER = 5, 10


def stages_in_sage_currency(stages: pd.DataFrame, *, sales: Mapping[int, SaleExchange], rates: RateTable,
                            fees: pd.Series, posted: set[str], entry_reference, currencies: tuple[str, str],
                            processor_lines: pd.DataFrame | None = None) -> ConvertedStages:
    """`stages` (with `sale`, the case's sale id or NA, and `fee` the case fee in PayTrace cents) with
    the Sage amounts of each money column; stages that cannot be converted are left out with their
    chain's later stages not yet posted (one exception per stage that waits for a reason).

    `processor_lines` (PROCESSOR_LINE_COLUMNS): what settlement booked; a stage whose money is exactly
    one of its lines near its activity day (`booked_rates`) takes that line's rate for the processor side."""
    frame = stages.copy()
    moves = (frame[list(AMOUNTS)].to_numpy(dtype="int64") > 0).any(axis=1)
    days = [pd.Timestamp(value).date() for value in frame["activity_date"]]
    booked = booked_rates(frame, fees, processor_lines)
    day_rates: list[Decimal | None] = [Decimal(found) if found else rate
                                       for found, rate in zip(booked, rates.rates_on(days), strict=True)]
    reference = [entry_reference(c, s) for c, s in zip(frame["case_number"], frame["stage"], strict=True)]
    done = np.array([ref in posted for ref in reference], dtype=bool)
    books = {column: np.zeros(len(frame), dtype="int64") for column in AMOUNTS}
    processor = {column: np.zeros(len(frame), dtype="int64") for column in AMOUNTS}
    fee_sage = np.zeros(len(frame), dtype="int64")
    sale_rates = np.full(len(frame), "", dtype=object)
    waits = np.zeros(len(frame), dtype=bool)
    problems: list[pd.DataFrame] = []
    told: set[str] = set()
    paytrace, sage = currencies
    for position, row in enumerate(frame.itertuples(index=False)):
        if not moves[position] or done[position]:
            continue
        sale = None if pd.isna(row.sale) else sales.get(int(row.sale))
        rate = day_rates[position]
        what = f"case {row.case_number} ({row.stage} of {days[position]})"
        if sale is None or sale.rate is None:
            waits[position] = True
            if row.case_number not in told:  # the same reason for every stage of the case: said once
                told.add(row.case_number)
                problems.append(_without_rate(row, what, sale, paytrace))
            continue
        if rate is None and (row.taken_cents > 0 or row.returned_cents > 0):  # a write-off needs the sale's only
            waits[position] = True
            problems.append(EXCEPTIONS.rows(
                MISSING_EXCHANGE_RATE, "error", None, size=1,
                source_ids=f"dispute:{row.case_number} rate:{days[position]}",
                problem=f"{what} needs the {paytrace}->{sage} rate of {days[position]}, and "
                        f"{rates.missing_reason(days[position])}; its entry is not posted",
                action=f"Add the rate of {days[position]} (or the last business day before it) to {rates.source} "
                       f"as `{days[position]},<rate>` ({sage} per 1 {paytrace}); the next dispute run posts the entry"))
            continue
        sale_rates[position] = str(sale.rate)
        for column in AMOUNTS:
            cents = int(getattr(row, column))
            if cents > 0:
                books[column][position] = book = sale.book_cents(cents)
                processor[column][position] = convert_cents(cents, rate) if rate is not None else book
        if rate is None:
            continue
        # the fee as settlement leaves it when the processor takes it with the chargeback (one debit, one rounding)
        taken = int(row.taken_cents)
        fee_sage[position] = convert_cents(taken + int(fees.iloc[position]), rate) - convert_cents(taken, rate)
    frame = frame.assign(**{f"{column}_book": books[column] for column in AMOUNTS},
                         **{f"{column}_processor": processor[column] for column in AMOUNTS},
                         **{FEE_SAGE: fee_sage, SALE_RATE: sale_rates,
                            DAY_RATE: [str(rate) if rate is not None else "" for rate in day_rates]})
    # a stage waits with every later stage of its chain still to post: the money follows the stages in order
    held = pd.Series(waits, index=frame.index).groupby(frame["chain"]).cummax().to_numpy() & ~done
    return ConvertedStages(frame[~held], EXCEPTIONS.concat(problems))


def booked_rates(stages: pd.DataFrame, fees: pd.Series, lines: pd.DataFrame | None) -> list[str]:
    """Per stage, the rate settlement booked its money at ('' when not found once): a stage that took
    money is the one debit of its amount (with or without its fee), a won stage the one credit of its
    amount, between DAYS_BEFORE days before and DAYS_AFTER days after its activity day, and no other
    stage claims that line."""
    found = [""] * len(stages)
    if lines is None or lines.empty or stages.empty:
        return found
    lines = lines[~lines[FX_RATE].astype(str).str.contains("/") & (lines[FX_RATE].astype(str) != "")]
    lines = lines.assign(line=np.arange(len(lines)), posting_date=pd.to_datetime(lines["posting_date"]))
    taken = stages["taken_cents"].astype("int64").to_numpy()
    returned = stages["returned_cents"].astype("int64").to_numpy()
    position = np.arange(len(stages))
    wanted = pd.concat([
        pd.DataFrame({"stage": position, "side": "debit", "paytrace_cents": taken}),
        pd.DataFrame({"stage": position, "side": "debit", "paytrace_cents": taken + fees.astype("int64").to_numpy()}),
        pd.DataFrame({"stage": position, "side": "credit", "paytrace_cents": returned}),
    ]).drop_duplicates()
    wanted = wanted[wanted["paytrace_cents"] > 0]
    wanted["activity"] = pd.to_datetime(stages["activity_date"]).to_numpy()[wanted["stage"].to_numpy()]
    pairs = wanted.merge(lines, on=["side", "paytrace_cents"])
    offset = (pairs["posting_date"] - pairs["activity"]).dt.days
    pairs = pairs[(offset >= -DAYS_BEFORE) & (offset <= DAYS_AFTER)].drop_duplicates(["stage", "line"])
    pairs = pairs[~pairs["stage"].duplicated(keep=False) & ~pairs["line"].duplicated(keep=False)]
    for stage, rate in zip(pairs["stage"].tolist(), pairs[FX_RATE].astype(str).tolist(), strict=True):
        found[stage] = rate
    return found


def _without_rate(row, what: str, sale: SaleExchange | None, paytrace: str) -> pd.DataFrame:
    if pd.isna(row.sale):
        problem = (f"{what} is linked to no PayTrace sale, so there is no sale rate to convert its "
                   f"{paytrace} amounts at; its entry is not posted")
        action, severity = "link the case to its sale (its dispute_sale_* exception says how); the next run posts it", \
            "warning"
    elif sale is None:
        problem = (f"{what}: Sage holds no posted receipt for sale {int(row.sale)} yet, so its rate is not "
                   "known; the entry waits")
        action, severity = "post the sale's receipt (its receivable exception says how); the next run posts it", \
            "warning"
    else:
        problem = (f"{what}: the receipt of sale {int(row.sale)} ({cents_to_decimal(sale.sage_cents)} in Sage) "
                   "was posted before currency conversion was configured and recorded no rate, so the case's "
                   f"{paytrace} amounts cannot be converted at the sale's rate; nothing is posted")
        action, severity = ("book this case's entries by hand in Sage at the rate the receipt was booked at; the "
                            "pipeline never guesses a sale's rate"), "error"
    return EXCEPTIONS.rows(SALE_WITHOUT_RATE, severity, None, size=1, source_ids=f"dispute:{row.case_number}",
                           problem=problem, action=action)
