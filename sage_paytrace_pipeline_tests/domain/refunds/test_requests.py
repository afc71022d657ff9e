"""Refund request rules: life cycle, maker-checker, void vs refund vs wait, the 817/818 fallback, the keys."""

from __future__ import annotations

import hashlib

import pytest

from sage_paytrace_pipeline.domain.refunds import requests as r


def sale(status: str = "SETTLED", amount: int = 10_000, refunded: int = 0, in_flight: int = 0) -> r.SaleSnapshot:
    return r.SaleSnapshot(transaction_id=501, status=status, amount_cents=amount, refunded_cents=refunded,
                          in_flight_cents=in_flight)


def test_keys_are_derived_from_the_memo():
    key = r.request_id("01", "0000123", "000000")
    assert key == "CM-01-0000123-000000"
    invoice_id = r.request_invoice_id(key)
    assert invoice_id == "SPR" + hashlib.sha256(key.encode()).hexdigest()[:17].upper()
    assert len(invoice_id) == 20 and r.is_request_invoice_id(invoice_id)
    assert not r.is_request_invoice_id("INV-1") and not r.is_request_invoice_id(None)
    assert r.request_invoice_id("CM-01-0000124-000000") != invoice_id
    assert r.void_key(501) == "V501"


@pytest.mark.parametrize(("start", "end"), [
    ("requested", "awaiting_approval"), ("requested", "approved"), ("awaiting_approval", "approved"),
    ("awaiting_approval", "rejected"), ("approved", "sent"), ("approved", "waiting_for_settlement"),
    ("waiting_for_settlement", "sent"), ("sent", "confirmed"), ("sent", "failed"), ("confirmed", "recorded"),
])
def test_allowed_transitions(start, end):
    r.check_transition(start, end)


@pytest.mark.parametrize(("start", "end"), [
    ("awaiting_approval", "sent"), ("requested", "sent"), ("sent", "approved"), ("recorded", "sent"),
    ("rejected", "approved"), ("failed", "sent"), ("confirmed", "sent"), ("sent", "rejected"),
])
def test_refused_transitions(start, end):
    with pytest.raises(r.TransitionError):
        r.check_transition(start, end)


def test_every_state_has_its_transitions_and_final_states_have_none():
    assert set(r.TRANSITIONS) == set(r.STATES)
    assert all(not r.TRANSITIONS[state] for state in r.FINAL_STATES)


def test_threshold_decides_auto_approval():
    assert r.initial_approval(5_000, 5_000) == r.APPROVED
    assert r.initial_approval(5_001, 5_000) == r.AWAITING_APPROVAL
    assert r.initial_approval(1, 0) == r.AWAITING_APPROVAL  # default 0: every refund needs a person


def test_maker_checker():
    assert r.approval_refusal("awaiting_approval", "alice", "bob") is None
    assert "maker-checker" in r.approval_refusal("awaiting_approval", "alice", " Alice ")
    assert "not awaiting approval" in r.approval_refusal("approved", "alice", "bob")
    assert r.approval_refusal("awaiting_approval", "alice", "auto") is not None
    assert r.approval_refusal("awaiting_approval", "alice", "") is not None
    assert r.rejection_refusal("awaiting_approval") is None
    assert r.rejection_refusal("sent") is not None


def test_settled_sale_is_refunded_within_what_remains():
    assert r.decide(sale(refunded=2_000, in_flight=3_000), 5_000).action == "refund"
    refused = r.decide(sale(refunded=2_000, in_flight=3_000), 5_001)
    assert refused.action == "refuse" and "$50.01 is above what remains" in refused.reason
    assert r.decide(sale("VOIDED"), 100).action == "refuse"
    assert r.decide(sale(), 0).action == "refuse"


def test_unsettled_sale_whole_is_voided_partial_waits():
    assert r.decide(sale("PENDING"), 10_000).action == "void"
    assert r.decide(sale("PENDING"), 4_000).action == "wait"
    # something already refunded or in flight: a void would return more than asked, so wait
    assert r.decide(sale("PENDING", refunded=1), 9_999).action == "wait"


def test_fallback_is_the_other_call_once():
    fresh_void = r.decide(sale("PENDING"), 10_000)
    fresh_refund = r.decide(sale("SETTLED"), 10_000)
    assert r.fallback("refund", 817, fresh_void) == "void"
    assert r.fallback("refund", 817, r.decide(sale("PENDING"), 100)) == "wait"
    assert r.fallback("void", 818, fresh_refund) == "refund"
    assert r.fallback("void", 818, fresh_void) is None  # the re-read says void again: no loop
    assert r.fallback("refund", 817, fresh_refund) is None  # nothing left to refund
    assert r.fallback("refund", 102, fresh_void) is None
