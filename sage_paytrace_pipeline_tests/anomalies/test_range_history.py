"""A range run's history (read once, keys prepared once for all its days) flags each day as that day alone does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.anomalies.day import flag_day
from sage_paytrace_pipeline.anomalies.history import (
    RangeHistory,
    applications_between,
    earlier_transactions,
    transactions_between,
)
from sage_paytrace_pipeline.anomalies.range import flag_days
from sage_paytrace_pipeline.domain.anomalies import AnomalyPolicy
from sage_paytrace_pipeline_tests.domain.anomalies.crafted import START, frame, tx

DAYS = [(START + timedelta(days=offset)).date() for offset in range(6)]
POLICY = AnomalyPolicy(history_days=3)


def _activity() -> pd.DataFrame:
    """Six days of one customer's steady payments, repeats, card tests, refunds (quick, above the sale, to
    another card, without a sale), an outlier and a payment of an invoice already paid."""
    rows, next_id = [], 1
    for offset in range(6):
        at = START + timedelta(days=offset)
        for n in range(6):
            rows.append(tx(next_id, 5_000 + 10 * n, customer_id="C1", last4="1111", invoice_id=f"INV{next_id}",
                           at=at, minutes=30 * n))
            next_id += 1
        rows.append(tx(next_id, 5_000, customer_id="C1", last4="1111", invoice_id=f"INV{next_id - 1}", at=at,
                       minutes=151))  # the day's last charge again, a minute later
        rows.append(tx(next_id + 1, 4_000, kind="REFUND", customer_id="C1", last4="2222", at=at, minutes=200))
        rows.append(tx(next_id + 2, 9_000, kind="REFUND", email="x@example.com", at=at, minutes=210))
        rows.append(tx(next_id + 9, 2_000, kind="REFUND", customer_id="C1", last4="1111", at=at, minutes=205))
        rows.extend(tx(next_id + 3 + i, 100 + i, last4="4242", at=at, minutes=300 + i,
                       status="DECLINED" if i % 2 else "SETTLED") for i in range(5))
        rows.append(tx(next_id + 8, 90_000, customer_id="C1", last4="1111", invoice_id="INV1", at=at, minutes=400))
        next_id += 10
    stored = frame(rows)
    stored["business_date"] = pd.to_datetime(stored["created_at"]).dt.tz_convert("America/Los_Angeles").dt.date
    return stored



@contextmanager
def _warehouse(folder, stored: pd.DataFrame, applications: pd.DataFrame) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse holding these transactions and applications, as the pipeline stores them."""
    with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
        connection.execute("CREATE SCHEMA pipeline")
        for table, data in (("paytrace_transactions", stored), ("payment_applications", applications)):
            connection.register("rows", data)
            connection.execute(f"CREATE TABLE pipeline.{table} AS SELECT * FROM rows")
            connection.unregister("rows")
        yield connection

@pytest.fixture
def connection(tmp_path):
    stored = _activity()
    applications = pd.DataFrame({"transaction_id": stored["transaction_id"], "invoice_no": stored["invoice_id"],
                                 "amount_cents": stored["amount_cents"], "business_date": stored["business_date"]})
    applications = applications[applications["invoice_no"].notna() & (stored["amount_cents"] != 90_000)]
    with _warehouse(tmp_path, stored, applications) as connection:
        yield connection


def test_each_day_gets_the_rows_its_own_reads_give(connection):
    history = RangeHistory(connection, DAYS, POLICY.history_days, time_zone=POLICY.time_zone)
    for day in [DAYS[0] - timedelta(days=2), *DAYS, DAYS[-1] + timedelta(days=4)]:
        pd.testing.assert_frame_equal(history.earlier_transactions(day),
                                      earlier_transactions(connection, day, POLICY.history_days))
        pd.testing.assert_frame_equal(history.earlier_applications(day), applications_between(
            connection, day - timedelta(days=POLICY.history_days), day - timedelta(days=1)))


def test_a_range_flags_every_day_as_the_day_alone(connection):
    days = {day: transactions_between(connection, day, day) for day in DAYS}
    applications = {day: applications_between(connection, day, day) for day in DAYS}
    history = RangeHistory(connection, DAYS, POLICY.history_days, time_zone=POLICY.time_zone)
    keyed = history.with_keys(days)
    rules: set[str] = set()
    for day in DAYS:
        alone = flag_day(connection, day, days[day], applications[day], POLICY)
        pd.testing.assert_frame_equal(flag_day(connection, day, keyed[day], applications[day], POLICY,
                                               history=history), alone)
        rules |= set(alone["rule"])
    assert rules >= {"duplicate_charge", "card_testing", "amount_outlier", "double_payment", "refund_above_sale",
                     "refund_to_other_card", "refund_without_sale", "quick_refund"}


def _busy_world(seed: int, days: int) -> pd.DataFrame:
    """Days of activity drawn from small pools (cards, customers, invoices and amounts collide often): sales,
    declines, refunds, small attempts; a customer and a card first seen mid-range; times across local
    midnight; some rows stored under the next business day; a few ids stored again under a later day."""
    rng = np.random.default_rng(seed)
    rows, next_id = [], 1
    for offset in range(days):
        at = START + timedelta(days=offset)
        for _ in range(40):
            newcomer = offset >= days // 2 and rng.random() < 0.2  # first seen mid-range
            rows.append(tx(next_id, int(rng.choice([150, 200, 5_000, 5_000, 5_200, 45_000])),
                           minutes=float(rng.integers(-600, 900)),
                           kind=str(rng.choice(["SALE", "SALE", "SALE", "REFUND", "AUTHORIZATION"])),
                           status=str(rng.choice(["SETTLED", "SETTLED", "SETTLED", "DECLINED"])),
                           customer_id="NEW" if newcomer else str(rng.choice(["", "C1", "C2", "C3"])),
                           email=str(rng.choice(["", "a@example.com", "b@example.com"])),
                           last4="7777" if newcomer else str(rng.choice(["1111", "2222", "3333", "4242"])),
                           invoice_id=str(rng.choice(["", "INV1", "INV2", "INV3", f"INV{next_id}"])),
                           at=at))
            next_id += 1
        start = float(rng.integers(-600, 900))  # a card tested in a burst, a refund nothing explains
        rows.extend(tx(next_id + i, 150, last4="5555", at=at, minutes=start + 5 * i, status="DECLINED" if i % 2
                       else "SETTLED") for i in range(int(rng.integers(3, 6))))
        rows.append(tx(next_id + 9, 3_000, kind="REFUND", last4="9999", at=at, minutes=start))
        next_id += 10
    rows.extend(_refund_chain(next_id, START + timedelta(days=days // 2)))
    stored = frame(rows)
    local = pd.to_datetime(stored["created_at"]).dt.tz_convert("America/Los_Angeles").dt.date
    late = rng.random(len(stored)) < 0.05  # stored under the next business day
    stored["business_date"] = np.where(late, local + timedelta(days=1), local)
    again = stored.sample(6, random_state=seed)  # a re-loaded transaction, under a later day too
    again["business_date"] = again["business_date"] + timedelta(days=2)
    return pd.concat([stored, again], ignore_index=True)


def _refund_chain(first_id: int, at) -> list[dict]:
    """A refund whose flags read rows three keys away: refund A ties to sale S by invoice; refund B shares S's
    card but ties to sale T by invoice, so only T keeps B's money off S's total."""
    return [tx(first_id, 5_000, invoice_id="CHAIN", last4="6666", at=at),
            tx(first_id + 1, 5_000, invoice_id="B2", last4="6161", at=at, minutes=60),
            tx(first_id + 2, 3_000, kind="REFUND", invoice_id="B2", last4="6666", at=at + timedelta(days=1)),
            tx(first_id + 3, 3_000, kind="REFUND", invoice_id="CHAIN", last4="8888", at=at + timedelta(days=2))]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_range_wide_path_flags_every_day_as_the_day_alone(tmp_path, seed):
    stored = _busy_world(seed, days=12)
    paid = stored[stored["invoice_id"].notna() & (stored["status"] == "SETTLED") & (np.arange(len(stored)) % 3 > 0)]
    applications = pd.DataFrame({"transaction_id": paid["transaction_id"], "invoice_no": paid["invoice_id"].str.lower(),
                                 "amount_cents": paid["amount_cents"], "business_date": paid["business_date"]})
    policy = AnomalyPolicy(history_days=4)
    days = sorted(set(stored["business_date"]))[4:]  # the first days' history lies before the range
    with _warehouse(tmp_path, stored, applications) as connection:
        transactions = {day: transactions_between(connection, day, day) for day in days}
        applied = {day: applications_between(connection, day, day) for day in days}
        together = flag_days(connection, days, transactions, applied, policy)
        alone = flag_days(connection, days, transactions, applied, policy, range_wide=False)
    for day in days:
        pd.testing.assert_frame_equal(together[day], alone[day])
    rules = set(pd.concat(alone.values())["rule"])
    assert rules >= {"duplicate_charge", "card_testing", "amount_outlier", "double_payment", "refund_above_sale",
                     "refund_to_other_card", "refund_without_sale", "quick_refund", "unusual_hour"}
