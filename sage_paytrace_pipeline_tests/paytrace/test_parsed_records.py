"""An export read again with the records of an earlier one (`ParsedRecords`) parses exactly as read alone:
the same transactions, the same rejections, whether the card or anything else differs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sage_paytrace_pipeline.paytrace.records import ExportShapeError, ParsedRecords, parse_transaction_export
from sage_paytrace_pipeline_tests.hostile.corpus import base_record, body_text, export_body, paytrace_cases

ZONE = ZoneInfo("America/Los_Angeles")


def _masked_cards(body: Mapping[str, Any]) -> dict[str, Any]:
    """The export as the batch listing sends it: every card number masked whole (no BIN)."""
    records = body.get("transactions")
    if not isinstance(records, list):
        return dict(body)
    masked = []
    for record in records:
        card = record.get("credit_card") if isinstance(record, Mapping) else None
        if isinstance(card, Mapping) and isinstance(card.get("masked_number"), str):
            record = {**record, "credit_card": {**card, "masked_number": "*" * 12 + card["masked_number"][-4:]}}
        masked.append(record)
    return {**body, "transactions": masked}


def _bodies() -> list[Any]:
    bodies = []
    for case in paytrace_cases():
        try:
            bodies.append(pytest.param(json.loads(body_text(case), parse_float=Decimal), id=case.name))
        except ValueError:
            continue  # not JSON at all: the client refuses it before any record is read
    return bodies


@pytest.mark.parametrize("body", _bodies())
def test_every_hostile_export_parses_alike_after_its_batch_listing(body):
    try:
        alone = parse_transaction_export(body, ZONE)
    except ExportShapeError:
        return
    parsed = ParsedRecords()
    listing = parse_transaction_export(_masked_cards(body), ZONE, parsed=parsed)
    assert listing == parse_transaction_export(_masked_cards(body), ZONE)
    assert parse_transaction_export(body, ZONE, parsed=parsed) == alone


def test_a_record_differing_in_more_than_its_card_or_in_type_is_parsed_whole():
    first = base_record(700_001)
    parsed = ParsedRecords()
    parse_transaction_export(export_body([first]), ZONE, parsed=parsed)
    changed = [{**first, "description": "another order"},  # a different value
               {**first, "amount": 125},  # equal, but an int where a Decimal was: not alike
               {**first, "credit_card": {"masked_number": "not a card"}},  # a bad card: rejected as alone
               {**first, "credit_card": None}]
    for record in changed:
        body = export_body([record])
        assert parse_transaction_export(body, ZONE, parsed=parsed) == parse_transaction_export(body, ZONE)
    again = parse_transaction_export(export_body([first]), ZONE, parsed=parsed)
    assert again == parse_transaction_export(export_body([first]), ZONE) and again.transactions[0].card is not None


@pytest.mark.parametrize("body", _bodies())
def test_an_export_read_for_some_ids_gives_each_as_the_whole_export_does(body):
    """`only_ids` (the brand export of `settlement_batches` reads the batches' transactions only): every
    wanted transaction comes out as read with all the others, duplicates and bad records included."""
    try:
        alone = parse_transaction_export(body, ZONE)
    except ExportShapeError:
        return
    ids = sorted({transaction.transaction_id for transaction in alone.transactions})
    for wanted in ({*ids[::2], 999_999_999_999}, set(ids), set()):
        only = parse_transaction_export(body, ZONE, only_ids=wanted)
        assert only.transactions == [t for t in alone.transactions if t.transaction_id in wanted]
        assert set(only.rejected) <= set(alone.rejected)
        parsed = ParsedRecords()
        parse_transaction_export(_masked_cards(body), ZONE, parsed=parsed)
        assert parse_transaction_export(body, ZONE, parsed=parsed, only_ids=wanted) == only
