"""Each anomaly rule on crafted data: flagged at its threshold, quiet just below it, off by config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from sage_paytrace_pipeline.domain.anomalies import AnomalyInputs, AnomalyPolicy, detect_anomalies, held_payments
from sage_paytrace_pipeline.domain.anomalies.flags import FLAG_COLUMNS
from sage_paytrace_pipeline_tests.domain.anomalies.crafted import START, frame, tx

QUIET = {"unusual_hour": {"enabled": False}}


def flags_of(day, history=None, *, applications=None, **policy) -> pd.DataFrame:
    policy = AnomalyPolicy.model_validate({**QUIET, **policy})
    return detect_anomalies(AnomalyInputs(frame(day), frame(history) if history else None, applications), policy)


def by_rule(flags: pd.DataFrame, rule: str) -> dict[int, pd.Series]:
    return {int(row["transaction_id"]): row for _, row in flags[flags["rule"] == rule].iterrows()}


def test_duplicate_charge_exact_then_relaxed_and_not_outside_the_window():
    day = [tx(1, 12_500, last4="1111", invoice_id="INV1"), tx(2, 12_500, minutes=30, last4="1111", invoice_id="INV1"),
           tx(3, 9_900, customer_id="C7"), tx(4, 9_900, minutes=23 * 60, customer_id="C7"),
           tx(5, 4_000, customer_id="C8"), tx(6, 4_000, minutes=24 * 60 + 1, customer_id="C8"),
           tx(7, 4_100, customer_id="C9"), tx(8, 4_000, minutes=5, customer_id="C9")]
    flags = flags_of(day)
    dupes = by_rule(flags, "duplicate_charge")
    assert set(dupes) == {2, 4}
    assert dupes[2]["severity"] == "error" and dupes[2]["evidence"].startswith("exact")
    assert dupes[2]["related_ids"] == "1"
    assert dupes[4]["severity"] == "warning" and dupes[4]["evidence"].startswith("relaxed")
    assert "$125.00" in dupes[2]["explanation"] and "transaction 1" in dupes[2]["explanation"]
    assert list(flags.columns) == list(FLAG_COLUMNS)


def test_duplicate_charge_ignores_declines_and_the_window_is_configurable():
    day = [tx(1, 5_000, customer_id="C1"), tx(2, 5_000, minutes=10, customer_id="C1", status="DECLINED"),
           tx(3, 7_000, customer_id="C2"), tx(4, 7_000, minutes=90, customer_id="C2")]
    assert set(by_rule(flags_of(day), "duplicate_charge")) == {4}
    assert by_rule(flags_of(day, duplicate_charge={"window_hours": 1}), "duplicate_charge") == {}
    assert by_rule(flags_of(day, duplicate_charge={"enabled": False}), "duplicate_charge") == {}


def test_duplicate_charge_against_the_previous_day():
    history = [tx(1, 8_800, customer_id="C1", at=START - timedelta(hours=3))]
    day = [tx(2, 8_800, customer_id="C1")]
    assert set(by_rule(flags_of(day, history), "duplicate_charge")) == {2}
    assert by_rule(flags_of(history), "duplicate_charge") == {}  # the history's own rows are never flagged


def _burst(first_id: int, count: int, declines: int, *, spacing: float = 5, amount: int = 100) -> list[dict]:
    return [tx(first_id + i, amount - i, minutes=i * spacing, last4="4242",
               status="DECLINED" if i < declines else "SETTLED") for i in range(count)]


def test_card_testing_flags_a_burst_at_the_threshold_and_not_below():
    flags = flags_of(_burst(1, 4, 2))
    testing = by_rule(flags, "card_testing")
    assert set(testing) == {1, 2, 3, 4}
    assert testing[4]["related_ids"] == "1,2,3,4" and "2 declined" in testing[4]["explanation"]
    assert by_rule(flags_of(_burst(1, 3, 2)), "card_testing") == {}  # three attempts: below min_attempts
    assert by_rule(flags_of(_burst(1, 4, 2, spacing=25)), "card_testing") == {}  # spread over 75 minutes
    assert by_rule(flags_of(_burst(1, 4, 0)), "card_testing") == {}  # no decline
    assert by_rule(flags_of(_burst(1, 4, 2, amount=501)), "card_testing") == {}  # not small
    assert by_rule(flags_of(_burst(1, 4, 2), card_testing={"enabled": False}), "card_testing") == {}


def test_card_testing_by_customer_across_cards():
    day = [tx(10 + i, 150, minutes=i, customer_id="BAD", last4=f"{1000 + i}", status="DECLINED") for i in range(5)]
    assert set(by_rule(flags_of(day), "card_testing")) == {10, 11, 12, 13, 14}


def _history(customer: str, amounts: list[int]) -> list[dict]:
    return [tx(100 + i, cents, customer_id=customer, at=START - timedelta(days=i + 1)) for i, cents in
            enumerate(amounts)]


def test_amount_outlier_over_mad():
    history = _history("C1", [10_000, 10_500, 9_800, 10_200, 9_900, 10_100])
    # median 10,050, MAD 150 -> z = 0.6745 (x - 10,050) / 150; 3.5 at x ~ 10,828
    day = [tx(1, 11_200, customer_id="C1"), tx(2, 10_800, customer_id="C1"), tx(3, 2_000, customer_id="C1")]
    flags = flags_of(day, history, amount_outlier={"min_ratio": 1})
    outliers = by_rule(flags, "amount_outlier")
    assert set(outliers) == {1}
    assert outliers[1]["score"] == pytest.approx(0.6745 * (11_200 - 10_050) / 150, rel=1e-6)
    assert by_rule(flags_of(day, history), "amount_outlier") == {}  # by default also 2x the median
    assert set(by_rule(flags_of([tx(4, 20_100, customer_id="C1")], history), "amount_outlier")) == {4}
    both = flags_of([tx(3, 2_000, customer_id="C1")], history, amount_outlier={"two_sided": True})
    assert set(by_rule(both, "amount_outlier")) == {3}
    short = flags_of([tx(1, 50_000, customer_id="C1")], history[:4])
    assert by_rule(short, "amount_outlier") == {}  # four earlier payments: below min_history


def test_amount_outlier_with_a_repeated_amount_uses_the_mean_deviation():
    history = _history("C1", [10_000] * 6 + [12_000])
    assert set(by_rule(flags_of([tx(1, 30_000, customer_id="C1")], history), "amount_outlier")) == {1}
    flat = _history("C2", [10_000] * 7)
    assert by_rule(flags_of([tx(2, 30_000, customer_id="C2")], flat), "amount_outlier") == {}


def test_double_payment_of_an_invoice_an_earlier_payment_closed():
    history = [tx(1, 5_000, customer_id="C1", invoice_id="0000123", at=START - timedelta(days=2))]
    day = [tx(2, 5_000, customer_id="C1", invoice_id="0000123"), tx(3, 2_000, customer_id="C2", invoice_id="0000456"),
           tx(4, 2_000, customer_id="C2", invoice_id="0000456", minutes=30)]
    applications = pd.DataFrame({"transaction_id": [1, 3, 4], "invoice_no": ["0000123", "0000456", "0000456"],
                                 "amount_cents": [5_000, 2_000, 1_000]})
    flags = by_rule(flags_of(day, history, applications=applications), "double_payment")
    # 4 pays the rest of 0000456 (it has its own application): not a double payment
    assert set(flags) == {2} and flags[2]["related_ids"] == "1"
    assert "0000123" in flags[2]["explanation"]
    same_day = pd.DataFrame({"transaction_id": [3], "invoice_no": ["0000456"], "amount_cents": [2_000]})
    assert set(by_rule(flags_of(day, history, applications=same_day), "double_payment")) == {4}


def test_refund_rules():
    history = [tx(1, 10_000, customer_id="C1", last4="1111", invoice_id="A1", at=START - timedelta(days=3)),
               tx(2, 5_000, customer_id="C2", last4="2222", invoice_id="B1", at=START - timedelta(days=3))]
    day = [tx(10, 6_000, kind="REFUND", customer_id="C1", last4="1111", invoice_id="A1"),
           tx(11, 6_000, kind="REFUND", customer_id="C1", last4="1111", invoice_id="A1", minutes=5),
           tx(12, 1_000, kind="REFUND", customer_id="C2", last4="9999", invoice_id="B1"),
           tx(13, 700, kind="REFUND", customer_id="NOBODY", last4="3333")]
    flags = flags_of(day, history)
    assert set(by_rule(flags, "refund_above_sale")) == {11}  # 6,000 + 6,000 > 10,000; the first fits
    assert set(by_rule(flags, "refund_to_other_card")) == {12}
    assert set(by_rule(flags, "refund_without_sale")) == {13}
    assert by_rule(flags, "quick_refund") == {}
    off = flags_of(day, history, refunds={"other_card": False})
    assert by_rule(off, "refund_to_other_card") == {} and set(by_rule(off, "refund_without_sale")) == {13}


def test_quick_refunds_at_an_unusual_rate():
    day = [tx(1, 3_000, customer_id="C1"), tx(2, 3_000, kind="REFUND", customer_id="C1", minutes=20),
           tx(3, 4_000, customer_id="C1", minutes=60), tx(4, 4_000, kind="REFUND", customer_id="C1", minutes=80),
           tx(5, 2_000, customer_id="C2"), tx(6, 2_000, kind="REFUND", customer_id="C2", minutes=10)]
    assert set(by_rule(flags_of(day), "quick_refund")) == {2, 4}
    assert set(by_rule(flags_of(day, refunds={"quick_min_count": 1}), "quick_refund")) == {2, 4, 6}


def test_fee_rate_outside_its_band():
    closed = datetime(2026, 3, 1, 4, tzinfo=UTC)
    history = pd.DataFrame({"batch_number": range(1, 9), "closed_at": [closed - timedelta(days=d) for d in range(8)],
                            "sales_cents": [100_000] * 8, "fee_cents": [2_900, 2_950, 2_850, 2_900, 3_000, 2_800,
                                                                        2_900, 2_950]})
    today = pd.DataFrame({"batch_number": [20, 21], "closed_at": [closed, closed], "sales_cents": [100_000, 50_000],
                          "fee_cents": [4_500, 1_460]})
    policy = AnomalyPolicy.model_validate(QUIET)
    flags = detect_anomalies(AnomalyInputs(frame([]), batches=today, batch_history=history), policy)
    assert flags["batch_number"].tolist() == [20] and flags["rule"].tolist() == ["fee_rate_outside_band"]
    assert "4.5%" in flags["explanation"].iloc[0]
    banded = AnomalyPolicy.model_validate({**QUIET, "fee_rate": {"max_rate": 0.029}})
    assert detect_anomalies(AnomalyInputs(frame([]), batches=today, batch_history=history.iloc[:2]),
                            banded)["batch_number"].tolist() == [20, 21]


def test_unusual_hours_learned_from_history_else_quiet_hours():
    night = datetime(2026, 3, 2, 11, tzinfo=UTC)  # 03:00 in Los Angeles
    day = [tx(1, 5_000, at=night), tx(2, 5_000)]
    policy = {"unusual_hour": {"enabled": True}}
    assert set(by_rule(flags_of(day, **policy), "unusual_hour")) == {1}
    history = [tx(100 + i, 1_000, at=START - timedelta(days=1 + i % 30) + timedelta(hours=i % 8)) for i in range(600)]
    learned = by_rule(flags_of([*day, tx(3, 5_000, at=START + timedelta(hours=9))], history, **policy),
                      "unusual_hour")
    assert set(learned) == {1, 3}  # 18:00 is after the history's last hour (16:00 local)
    assert "of the 600 earlier transactions" in learned[3]["evidence"]


def test_flags_come_in_rule_order_and_hold_only_listed_uncleared_rules():
    day = [tx(1, 5_000, customer_id="C1"), tx(2, 5_000, customer_id="C1", minutes=5), *_burst(10, 4, 2)]
    flags = flags_of(day)
    assert flags["rule"].tolist() == ["duplicate_charge"] + ["card_testing"] * 4
    assert held_payments(flags, AnomalyPolicy()).empty
    policy = AnomalyPolicy(hold_from_posting=("duplicate_charge",))
    assert held_payments(flags, policy)["transaction_id"].tolist() == [2]
    cleared = AnomalyPolicy(hold_from_posting=("duplicate_charge",), cleared=("duplicate_charge:2",))
    assert held_payments(flags, cleared).empty
    with pytest.raises(ValidationError, match="turned off"):
        AnomalyPolicy.model_validate({"hold_from_posting": ["card_testing"], "card_testing": {"enabled": False}})


def test_an_empty_day_has_no_flags_and_every_column():
    flags = detect_anomalies(AnomalyInputs(frame([]), frame([]), pd.DataFrame(
        {"transaction_id": [], "invoice_no": [], "amount_cents": []})), AnomalyPolicy())
    assert flags.empty and list(flags.columns) == list(FLAG_COLUMNS)
