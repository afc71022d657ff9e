"""The pure frame work around the settlement core: windows, shapes, the warehouse's text columns."""

from datetime import date

import pandas as pd

from sage_paytrace_pipeline.settlement.frames import (
    EXCEPTION_COLUMNS,
    batch_window,
    dated,
    lookback_days,
    no_deposits,
    no_receipts,
    not_configured_exception,
    text_columns,
)


def test_the_lookback_covers_the_deposit_window_in_calendar_days_with_a_margin():
    assert lookback_days(3) == 9 and lookback_days(5) == 11
    assert batch_window(date(2026, 3, 10), 3) == (date(2026, 3, 1), date(2026, 3, 19))


def test_list_columns_become_comma_text_and_the_day_comes_first():
    frame = pd.DataFrame({"batch_number": [7, 8], "source_ids": [[1, 2], "x"]})
    assert text_columns(frame)["source_ids"].tolist() == ["1, 2", "x"]
    out = dated(frame.iloc[[1, 0]], date(2026, 3, 2))
    assert list(out.columns) == ["business_date", "batch_number", "source_ids"]
    assert out["business_date"].tolist() == [date(2026, 3, 2)] * 2 and out.index.tolist() == [0, 1]


def test_the_empty_inputs_of_a_tie_out_are_typed():
    assert no_receipts().empty and no_receipts()["amount_cents"].dtype == "int64"
    assert no_deposits().empty and no_deposits()["source_line"].dtype == "int64"


def test_an_unconfigured_settlement_is_one_warning_saying_what_to_set():
    [row] = not_configured_exception()[EXCEPTION_COLUMNS].to_dict("records")
    assert (row["kind"], row["severity"]) == ("settlement_not_configured", "warning")
    assert "settlement.discount_method" in row["action"]
