"""Input contracts: a wrong frame fails at once, saying what is wrong; policies refuse unknown knobs."""

from __future__ import annotations

import pandas as pd
import pydantic
import pytest

from sage_paytrace_pipeline.domain.settlement import (
    SettlementInputError,
    SettlementPolicy,
    reconcile,
)
from sage_paytrace_pipeline_tests.domain.settlement.builders import (
    MON,
    NEXT_MON,
    TUE,
    Scenario,
)

MONTHLY = SettlementPolicy(discount_method="monthly")


def frames() -> dict[str, pd.DataFrame]:
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.deposit(TUE, 10_000)
    batches, transactions, receipts, deposits = scenario.frames()
    return {"batches": batches, "batch_transactions": transactions, "posted_receipts": receipts,
            "deposits": deposits}


def run(**inputs: pd.DataFrame):
    return reconcile(**inputs, policy=MONTHLY, as_of=NEXT_MON)


@pytest.mark.parametrize(("frame", "column"), [
    ("batches", "refund_cents"), ("batches", "closed_date"), ("batch_transactions", "status"),
    ("posted_receipts", "state"), ("deposits", "posted_date"), ("deposits", "source_line"),
])
def test_missing_column_is_named(frame, column):
    inputs = frames()
    inputs[frame] = inputs[frame].drop(columns=[column])
    with pytest.raises(SettlementInputError, match=rf"{frame} is missing column\(s\) {column}"):
        run(**inputs)


@pytest.mark.parametrize(("frame", "change", "message"), [
    ("batches", lambda f: pd.concat([f, f]), "batches: 2 rows share a key"),
    ("batch_transactions", lambda f: pd.concat([f, f]), "batch_transactions: 2 rows share a key"),
    ("deposits", lambda f: pd.concat([f, f]), "deposits: 2 rows share a key"),
    ("deposits", lambda f: f.assign(amount_cents=100.5), "whole integer cents"),
    ("batches", lambda f: f.assign(sales_cents=-1), "negative"),
    ("batch_transactions", lambda f: f.assign(amount_cents=None), "empty value"),
    ("deposits", lambda f: f.assign(posted_date="not a date"), "deposits.posted_date: not dates"),
    ("batches", lambda f: pd.concat([f, f.assign(brand="MASTERCARD", closed_date=TUE)]),
     "more than one closed_date"),
])
def test_contract_violations(frame, change, message):
    inputs = frames()
    inputs[frame] = change(inputs[frame])
    with pytest.raises(SettlementInputError, match=message):
        run(**inputs)


def test_integral_floats_and_text_dates_are_accepted():
    inputs = frames()
    inputs["deposits"] = inputs["deposits"].assign(amount_cents=10_000.0, posted_date="2026-03-03")
    inputs["batches"] = inputs["batches"].assign(brand=" visa ")
    recon = run(**inputs)
    assert recon.matches["method"].tolist() == ["exact_gross"]
    assert recon.tie_out["brand"].tolist() == ["VISA"]


@pytest.mark.parametrize("brand", ["American Express", "amex", "AMEX "])
def test_brand_spellings_are_normalized(brand):
    scenario = Scenario().batch(1, MON)
    scenario.sale(1, brand, 4_000)
    scenario.deposit(TUE, 4_000, "AMEX SETTLEMENT")
    recon = run(**dict(zip(("batches", "batch_transactions", "posted_receipts", "deposits"), scenario.frames())))
    assert recon.expected["funding_group"].tolist() == ["AMEX"]


def test_policy_requires_the_discount_method_and_refuses_unknown_keys():
    with pytest.raises(pydantic.ValidationError, match="discount_method"):
        SettlementPolicy()
    with pytest.raises(pydantic.ValidationError, match="extra"):
        SettlementPolicy(discount_method="daily", max_fee=5)
    with pytest.raises(pydantic.ValidationError, match="regular expression"):
        SettlementPolicy(discount_method="daily", fee_pattern="(")
    with pytest.raises(pydantic.ValidationError):
        MONTHLY.max_fee_bps = 1  # frozen


@pytest.mark.parametrize("dtype", ["int32", "uint16", "Int64", object])
def test_integer_columns_of_any_width_reconcile_as_int64_ones(dtype):
    """Plain numpy integer columns skip the parse (`_plain_integers`): the same reconciliation as parsed ones."""
    base = frames()
    inputs = {name: frame.assign(**{column: frame[column].astype(dtype) for column in frame.columns
                                    if frame[column].dtype == "int64"})
              for name, frame in base.items()}
    for name in ("expected", "matches", "tie_out", "brand_totals", "exceptions"):
        pd.testing.assert_frame_equal(getattr(run(**inputs), name), getattr(run(**base), name))
