"""Card brands for batch transactions come from one transaction export, and only when some are missing."""

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd

from sage_paytrace_pipeline.settlement.batches import brands_for_each, with_brands

LA = ZoneInfo("America/Los_Angeles")


class FakeClient:
    """What `with_brands` uses of the PayTrace client: its zone and the transaction export."""

    zone = LA

    def __init__(self, brands: dict[int, str]) -> None:
        self.brands, self.calls = brands, []

    def read_transactions(self, start: date, end: date, *, include_bin: bool, parsed=None, only_ids=None):
        self.calls.append((start, end, include_bin))
        self.wanted = only_ids
        return SimpleNamespace(transactions=[SimpleNamespace(transaction_id=tid, card=SimpleNamespace(brand=brand))
                                             for tid, brand in self.brands.items()
                                             if only_ids is None or tid in only_ids])


def transactions(brands: list[str | None]) -> pd.DataFrame:
    created = [datetime(2026, 3, day, 23, 30, tzinfo=LA) for day in range(1, len(brands) + 1)]
    return pd.DataFrame({"transaction_id": range(1, len(brands) + 1), "card_brand": brands,
                         "created_at": pd.to_datetime(created, utc=True)})


def test_missing_brands_are_read_in_one_call_over_the_days_created():
    client = FakeClient({1: "VISA", 2: "AMEX", 3: "DISCOVER"})
    out = with_brands(client, transactions(["UNKNOWN", "MASTERCARD", None]))
    assert out["card_brand"].tolist() == ["VISA", "MASTERCARD", "DISCOVER"]
    assert client.calls == [(date(2026, 3, 1), date(2026, 3, 3), True)]  # merchant days, not UTC ones


def test_known_brands_need_no_call_and_an_unfound_one_stays_as_it_was():
    client = FakeClient({})
    assert with_brands(client, transactions(["VISA"]))["card_brand"].tolist() == ["VISA"] and client.calls == []
    assert with_brands(client, transactions([""]))["card_brand"].tolist() == [""] and len(client.calls) == 1


def test_a_ranges_frames_branded_by_one_export_equal_each_branded_alone():
    """`brands_for_each` looks every frame up in one export's brands (made into a Series once): each frame
    comes back as `with_brands` alone gives it, an unfound id or a brand-less card left as it was."""
    brands = {1: "VISA", 2: None, 4: "AMEX", 6: "DISCOVER"}
    frames = [transactions(["UNKNOWN", "", None]), transactions(["VISA"]), transactions([None, "MASTERCARD", "", ""]),
              transactions([])]
    ranged = brands_for_each(FakeClient(brands), frames)
    for frame, branded in zip(frames, ranged, strict=True):
        pd.testing.assert_frame_equal(branded, with_brands(FakeClient(brands), frame))
    assert ranged[0]["card_brand"].tolist() == ["VISA", "", None] and ranged[1] is frames[1]
    assert [frame["card_brand"].tolist() for frame in brands_for_each(FakeClient({}), frames[:1])] == [
        ["UNKNOWN", "", None]]
