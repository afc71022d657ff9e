"""A range input split into its days once (`days_of`) gives each day what `of_day` gives it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from sage_paytrace_pipeline.defs.ranges import days_of, of_day

DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


@pytest.mark.parametrize("dates", [
    pd.Series([date(2026, 3, 4), None, date(2026, 3, 2), date(2026, 3, 4)], dtype=object),
    pd.to_datetime(pd.Series(["2026-03-04", None, "2026-03-02", "2026-03-04"])),
    pd.Series(["2026-03-04", None, "2026-03-02", "2026-03-04"]),
])
def test_each_day_gets_its_rows_in_order_with_the_frame_types(dates):
    frame = pd.DataFrame({"business_date": dates, "amount_cents": [1, 2, 3, 4],
                          "note": pd.array(["a", None, "c", "d"], dtype="string")}, index=[7, 8, 9, 10])
    split = days_of(frame, DAYS)
    for day in DAYS:  # 2026-03-03 has no rows: an empty frame of the same columns and types
        pd.testing.assert_frame_equal(split[day], of_day(frame, day, DAYS))


def test_one_day_or_no_date_column_is_the_frame_itself():
    frame = pd.DataFrame({"amount_cents": [1, 2]})
    assert days_of(frame, DAYS)[DAYS[0]] is frame and days_of(frame, DAYS[:1])[DAYS[0]] is frame
