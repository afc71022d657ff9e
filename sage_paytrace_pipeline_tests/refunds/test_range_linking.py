"""A range run's refund flow (`WarehouseHistory`: each refund's matches kept for the run) does what the days' own
runs do (the plain warehouse frame), day by day: same links, same Sage writes, same exceptions, same log."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.refunds.paytrace_to_sage import RefundFlowSettings, WarehouseHistory, post_paytrace_refunds
from sage_paytrace_pipeline.refunds.posting_log import RefundLog

FIRST = date(2026, 3, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(6)]
SETTINGS = RefundFlowSettings(start_date=FIRST)


def _row(tid: int, day: int, cents: int, *, kind: str = "SALE", invoice: str = "", customer: str = "",
         card: str = "1111", at: str | None = "10:00", status: str = "SETTLED", stored_on: int | None = None) -> dict:
    return {"transaction_id": tid, "transaction_type": kind, "status": status, "amount_cents": cents,
            "invoice_id": invoice, "customer_id": customer, "card_last4": card,
            "created_at": None if at is None else f"{DAYS[day]} {at}", "approval_code": "A1",
            "business_date": DAYS[day if stored_on is None else stored_on]}


def _refund(tid: int, day: int, cents: int, **keys) -> dict:
    return _row(tid, day, cents, kind="REFUND", at=keys.pop("at", "15:00"), **keys)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


WAREHOUSE = _frame([
    # customer C1: many sales of one card, refunds by the customer alone -> ambiguous, carried every day after
    *(_row(100 + n, n % 6, 5000 + 100 * n, customer="C1", at=f"{8 + n % 6}:00") for n in range(18)),
    _refund(900, 1, 3000, customer="C1"), _refund(901, 4, 2000, customer="C1", at="07:00"),
    # customer C2 sells only from day 3: a refund of day 1 comes before any of its sales (unknown every day)
    _row(200, 3, 4000, customer="C2", card="2222"), _row(201, 4, 4000, customer="C2", card="2222"),
    _refund(902, 1, 4000, customer="C2", card="2222"),
    # a sale made on day 1 but stored on day 3: its refund of day 2 is unknown until then, then linked
    _row(300, 1, 7000, invoice="INV-L", stored_on=3), _refund(903, 2, 7000, invoice="INV-L"),
    # two sales with the same invoice and customer: ambiguous; two partial refunds sharing one sale's remainder
    _row(400, 0, 6000, invoice="INV-A", customer="C3", card="3333"),
    _row(401, 1, 6000, invoice="INV-A", customer="C3", card="3333"),
    _refund(904, 2, 1000, invoice="INV-A", customer="C3", card="3333"),
    _row(500, 0, 2500, invoice="INV-P", card="4444"), _refund(905, 1, 1500, invoice="INV-P", card="4444"),
    _refund(906, 2, 1000, invoice="INV-P", card="4444"), _refund(907, 3, 100, invoice="INV-P", card="4444"),
    # a sale whose receipt reaches Sage on day 4: its refund waits (carried, linked each day), then posts
    _row(600, 0, 3300, invoice="INV-W"), _refund(908, 1, 3300, invoice="INV-W"),
    # a sale of unknown time is before every refund; a refund of another card finds nothing
    _row(700, 0, 800, invoice="INV-T", at=None), _refund(909, 2, 800, invoice="INV-T"),
    _refund(910, 2, 800, invoice="INV-T", card="9999"),
    # a sale the day-4 export shows voided (the day's row wins over the stored one): its refund finds none
    _row(800, 0, 1200, invoice="INV-V"), _refund(911, 4, 1200, invoice="INV-V"),
])
VOIDED_AGAIN = _frame([_row(800, 0, 1200, invoice="INV-V", status="VOIDED", stored_on=4)])


class FakeSage:
    """Sage as reader and writer: every sale's receipt (one invoice line of its amount) is there, from day 4 on
    for sale 600; documents accepted and held, in one transaction a day."""

    def __init__(self) -> None:
        self.cents = dict(zip(WAREHOUSE["transaction_id"], WAREHOUSE["amount_cents"], strict=True))
        self.today = FIRST
        self.documents: list[tuple] = []
        self.refunds: set[int] = set()

    def card_refunds_for_transaction_ids(self, ids):
        return [SimpleNamespace(transaction_id=str(i)) for i in ids if int(i) in self.refunds]

    def receipts_for_transaction_ids(self, ids):
        arrived = [int(i) for i in ids if int(i) != 600 or self.today >= DAYS[4]]
        return [SimpleNamespace(transaction_id=str(i), division="00", customer_no="ABC", payment_type="VISA",
                                lines=[SimpleNamespace(invoice_no=f"{i:07d}", invoice_type="IN",
                                                       amount=Decimal(self.cents[i]) / 100)]) for i in arrived]

    def one_transaction(self):
        return nullcontext()

    def create_credit_memo(self, memo):
        self.documents.append(("memo", memo.reference, memo.amount, memo.apply_to_invoice_no, memo.memo_date))
        return SimpleNamespace(documents={"InvoiceNo": memo.apply_to_invoice_no})

    def record_card_refund(self, refund):
        self.documents.append(("refund", refund.transaction_id, refund.amount, refund.refund_date))
        self.refunds.add(int(refund.transaction_id))
        return SimpleNamespace(documents={"EntryNo": refund.transaction_id})


def _day_rows(stored: pd.DataFrame, day: date) -> pd.DataFrame:
    rows = stored[stored["business_date"] == day]
    return pd.concat([rows, VOIDED_AGAIN], ignore_index=True) if day == DAYS[4] else rows.reset_index(drop=True)


def _run(stored: pd.DataFrame, *, as_range: bool) -> tuple[list, pd.DataFrame, list]:
    """Every day in order, as one range run (prepared history) or as each day's own run (the plain frame)."""
    log, sage = RefundLog(duckdb.connect(), "run"), FakeSage()
    history = WarehouseHistory(stored)
    outcomes = []
    for day in DAYS:
        sage.today = day
        later = [d for d in DAYS if d > day]
        seen = history.without_days(later) if as_range else stored[~stored["business_date"].isin(later)]
        outcome = post_paytrace_refunds(_day_rows(stored, day), seen, day=day, settings=SETTINGS, reader=sage,
                                        writer=sage, log=log)
        outcomes.append(outcome)
    entries = log.entries().drop(columns=["run_id", "updated_at"])
    return outcomes, entries, sage.documents


def test_a_range_run_links_writes_and_excepts_as_the_days_own_runs():
    ranged, ranged_log, ranged_sage = _run(WAREHOUSE, as_range=True)
    daily, daily_log, daily_sage = _run(WAREHOUSE, as_range=False)

    for by_range, by_day in zip(ranged, daily, strict=True):
        pd.testing.assert_frame_equal(by_range.links, by_day.links)
        pd.testing.assert_frame_equal(by_range.exceptions(), by_day.exceptions())
        assert (by_range.written, by_range.awaiting_sale, by_range.confirmed_existing, by_range.selected) == (
            by_day.written, by_day.awaiting_sale, by_day.confirmed_existing, by_day.selected)
    pd.testing.assert_frame_equal(ranged_log, daily_log)
    assert ranged_sage == daily_sage

    def outcome(day: int, refund: int) -> tuple:
        links = ranged[day].links.set_index("refund_id")
        row = links.loc[refund]
        return row["outcome"], None if pd.isna(row["sale_transaction_id"]) else int(row["sale_transaction_id"])

    # the cases the warehouse plants, as the rules decide them
    assert outcome(5, 900) == ("ambiguous", None)  # carried to the last day
    assert ranged[5].links.set_index("refund_id").loc[900, "candidates"] == "100,101,106,107,112,113"
    assert outcome(5, 902) == ("unknown", None)  # before any of its customer's sales
    assert outcome(2, 903) == ("unknown", None) and outcome(3, 903) == ("linked", 300)  # its sale stored later
    assert outcome(2, 904) == ("ambiguous", None)
    assert [outcome(day, refund) for day, refund in ((1, 905), (2, 906))] == [("linked", 500), ("linked", 500)]
    assert outcome(3, 907) == ("unknown", None)  # 2,500 less 1,500 and 1,000: nothing left
    assert ranged[1].awaiting_sale == [908] and 908 in ranged[4].written
    assert outcome(2, 909) == ("linked", 700) and outcome(2, 910) == ("unknown", None)
    assert outcome(4, 911) == ("unknown", None) and outcome(5, 911) == ("linked", 800)  # day 5 sees the stored row
    assert sorted(int(r) for r in {d[1] for d in ranged_sage if d[0] == "refund"}) == [903, 905, 906, 908, 909, 911]


@pytest.mark.parametrize("original", [500, 12345])
def test_a_refund_naming_its_sale_is_linked_by_it_alone_in_a_range_run_too(original):
    named = _frame([_refund(950, 2, 500, invoice="INV-P", card="4444")]).assign(original_transaction_id=original)
    stored = pd.concat([WAREHOUSE, named.drop(columns="original_transaction_id")], ignore_index=True)
    day = pd.concat([WAREHOUSE[WAREHOUSE["business_date"] == DAYS[2]], named], ignore_index=True)
    links = []
    for seen in (WarehouseHistory(stored).without_days(DAYS[3:]), stored[stored["business_date"] <= DAYS[2]]):
        outcome = post_paytrace_refunds(day, seen, day=DAYS[2], settings=SETTINGS, reader=FakeSage(),
                                        writer=FakeSage(), log=RefundLog(duckdb.connect(), "run"))
        links.append(outcome.links)
    pd.testing.assert_frame_equal(*links)
    assert links[0].set_index("refund_id").loc[950, "method"] == "original_id"
