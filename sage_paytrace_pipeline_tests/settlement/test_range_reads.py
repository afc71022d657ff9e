"""A range's PayTrace reads in one call each, split into days, equal the one-day calls day by day.

Against the sandbox served over HTTP with a few generated days (weekend and a skipped day included):
the transaction export and the settlement batches read for the range must give every day exactly
what the day's own calls give, in fewer calls.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from benchmarks.backfill_world import ZONE, build_world, serving
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy
from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.paytrace.ranges import batches_by_day, transactions_by_day
from sage_paytrace_pipeline.settlement.batches import read_closed_batches, read_closed_batches_by_day

FIRST, LAST = date(2026, 3, 5), date(2026, 3, 10)  # Thursday to Tuesday
DAYS = [FIRST + timedelta(days=offset) for offset in range((LAST - FIRST).days + 1) if offset != 3]  # not Sunday
POLICY = SettlementPolicy(discount_method="daily")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("range_reads"), FIRST, LAST, seed=5, per_day=30, customers=20)
    with serving(world) as environment:
        connection = PayTraceClient(environment["PAYTRACE_API_URL"], username=environment["PAYTRACE_USERNAME"],
                                    password=environment["PAYTRACE_PASSWORD"], integrator_id="SPPTEST00001",
                                    time_zone=ZONE)
        yield connection
        connection.close()


def test_one_transaction_export_split_by_day_equals_the_days_own_exports(client):
    by_day = transactions_by_day(client, DAYS)
    assert list(by_day) == DAYS
    for day in DAYS:
        own = client.read_transactions(day, day)
        assert own.transactions, f"the generated {day} has transactions"
        assert by_day[day].transactions == own.transactions and by_day[day].rejected == own.rejected == []
    sunday = FIRST + timedelta(days=3)
    assert client.read_transactions(sunday, sunday).transactions, "the left-out day has its own transactions"


def test_one_batch_export_split_by_day_equals_the_days_own_exports(client):
    by_day = batches_by_day(client, DAYS)
    assert sum(len(batches) for batches in by_day.values()) > 0
    for day in DAYS:
        assert by_day[day] == client.export_batches(day, day)


def test_closed_batches_read_for_a_range_equal_the_days_read_alone(client):
    by_day = read_closed_batches_by_day(client, DAYS, POLICY)
    for day in DAYS:
        alone = read_closed_batches(client, day, POLICY)
        ranged = by_day[day]
        assert ranged.batch_count == alone.batch_count and ranged.rejected == alone.rejected
        for field in ("summary", "brands", "transactions", "tie_out"):
            pd.testing.assert_frame_equal(getattr(ranged, field), getattr(alone, field), check_exact=True)
    assert any(not closed.transactions.empty for closed in by_day.values())
    assert all(closed.transactions["card_brand"].isin(["", "UNKNOWN"]).sum() == 0 for closed in by_day.values()
               if not closed.transactions.empty)
