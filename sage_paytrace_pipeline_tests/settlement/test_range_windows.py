"""A range run's settlement days read bounded windows of bank lines and the run's clearing lines summed once:
each day's rows must equal what it gives with every later line of the range (the unbounded window).

Over the benchmark's generated months: deposits one to three business days late (some past their window:
missing), short deposits booked to the processor receivable and paid by a later credit, some of them
paid twice (the second credit months later, far past every window: neither credit pays), monthly fee
debits, chargebacks and credits nobody explains.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from benchmarks.bench_settlement_range import _books, _config, clearing_world, synthetic_year
from sage_paytrace_pipeline.settlement.day import DayInputs, range_window_inputs, settle_day
from sage_paytrace_pipeline.settlement.frames import batch_window
from sage_paytrace_pipeline.settlement.ledger import ClearingLedger, clearing_nets

FRAMES = ("expected", "matches", "reconciliation", "entries", "lines", "exceptions", "refunds")


@pytest.fixture(scope="module")
def year():
    return synthetic_year(30, 6, seed=7, late_share=0.2, short_share=0.15)


@pytest.fixture(scope="module")
def bounded(year) -> list[DayInputs]:
    policy = _config().settlement
    assert policy is not None
    return range_window_inputs(year["days"], policy, year["batches"], year["transactions"], year["bank"],
                               short_owed=year["short_owed"])


@pytest.fixture(scope="module")
def settled_days(year, bounded) -> list:
    return [settled(year, day, inputs) for day, inputs in zip(year["days"], bounded, strict=True)]


def unbounded_inputs(data: dict, day) -> DayInputs:
    """The day's window as it was read before windows were bounded: every line posted after it opened."""
    policy = _config().settlement
    assert policy is not None
    first, last = batch_window(day, policy.deposit_window_business_days)
    batches = data["batches"].assign(business_date=pd.to_datetime(data["batches"]["business_date"]).dt.date)
    batches = batches[batches["business_date"].between(first, last)]
    own = batches.loc[batches["business_date"] == day, "batch_number"]
    transactions = data["transactions"][data["transactions"]["batch_number"].isin(own)]
    deposits = data["bank"].assign(posted_date=pd.to_datetime(data["bank"]["posted_date"]).dt.date)
    return DayInputs(batches, transactions, deposits[deposits["posted_date"] > first])


def settled(data: dict, day, inputs: DayInputs):
    transactions = inputs.transactions
    receipts = pd.DataFrame({"transaction_id": transactions["transaction_id"],
                             "amount_cents": transactions["amount_cents"], "payment_type": "VISA",
                             "state": "confirmed", "posting_date": transactions["business_date"].dt.date})
    return settle_day(day, _config(), inputs, receipts.reset_index(drop=True), reader=None,  # type: ignore[arg-type]
                      as_of=data["days"][-1] + timedelta(days=10), books=_books(data["short_owed"]))


def test_each_days_bounded_window_settles_as_every_later_line_does(year, bounded, settled_days):
    kinds: set[str] = set()
    for day, inputs, ranged in zip(year["days"], bounded, settled_days, strict=True):
        alone = unbounded_inputs(year, day)
        assert len(inputs.deposits) <= len(alone.deposits)
        pd.testing.assert_frame_equal(inputs.transactions, alone.transactions)
        reference = settled(year, day, alone)
        for name in FRAMES:
            pd.testing.assert_frame_equal(getattr(ranged, name), getattr(reference, name), obj=f"{day} {name}")
        kinds |= set(ranged.entries["kind"]) | set(ranged.exceptions["kind"])
        kinds |= set(ranged.matches["method"]) | set(ranged.expected["deposit_status"])
    # the scenario has what a bound could get wrong: late deposits, missing ones, short ones paid later
    assert {"short_deposit_paid", "missing_deposit", "short_deposit", "unmatched_bank_credit"} <= kinds, kinds
    assert len(bounded[0].deposits) < len(unbounded_inputs(year, year["days"][0]).deposits) / 2


def test_a_short_deposit_credited_twice_pays_nothing_however_far_apart_the_credits(year):
    owed = year["short_owed"].iloc[0]
    bank = year["bank"]
    credits = bank[bank["amount_cents"] == owed["owed_cents"]]
    assert (pd.to_datetime(credits["posted_date"]).diff().dt.days.dropna() > 30).any()
    paid_day = credits["posted_date"].iloc[0]
    days = [day for day in year["days"] if day >= paid_day][:1]
    config = _config()
    assert config.settlement is not None
    inputs = range_window_inputs(days, config.settlement, year["batches"], year["transactions"], bank,
                                 short_owed=year["short_owed"])[0]
    assert credits["source_line"].isin(inputs.deposits["source_line"]).all()  # the far credit is read too
    day = settled(year, days[0], inputs)
    assert "short_deposit_paid" not in set(day.entries["kind"])


def test_the_clearing_check_summed_once_for_the_run_equals_each_days_own_read(year, settled_days):
    reader, checked = clearing_world(year, settled_days)
    ledger = ClearingLedger(reader, pd.concat([lines for _, lines, _ in checked.values()]))  # type: ignore[arg-type]
    deposited = 0
    for posted, lines, transactions in checked.values():
        alone = clearing_nets(reader, lines, posted, transactions)  # type: ignore[arg-type]
        assert clearing_nets(reader, lines, posted, transactions, ledger) == alone  # type: ignore[arg-type]
        assert set(alone.values()) <= {0}
        deposited += len(alone)
    assert deposited >= len(year["days"]) - 3
