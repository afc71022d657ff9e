"""The generator plans realistic, deterministic activity and never leaks card numbers in its summary."""

import re
from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.domain.cards import find_card_numbers, luhn_valid
from sage_paytrace_pipeline.sandbox.paytrace.generator import MerchantProfile, generate_activity

START, END = date(2026, 3, 2), date(2026, 3, 15)


def test_same_seed_same_plan_other_seed_other_plan():
    first, _ = generate_activity(START, END, seed=3)
    again, _ = generate_activity(START, END, seed=3)
    other, _ = generate_activity(START, END, seed=4)
    assert first.model_dump() == again.model_dump()
    assert first.model_dump() != other.model_dump()


def test_plan_covers_every_kind_of_activity():
    _, summary = generate_activity(START, END, seed=3)
    for kind in ("vault_customer", "phone_sale_full", "phone_sale_partial", "web_sale", "declined",
                 "authorization_captured", "voided_sale", "refund_full"):
        assert summary.counts.get(kind, 0) > 0, kind


def test_invoice_numbers_are_typed_the_ways_people_type_them():
    plan, _ = generate_activity(START, END, seed=3)
    invoice_ids = [call.body.get("invoice_id", "") for call in plan.calls]
    descriptions = [call.body.get("description", "") for call in plan.calls]
    assert any(re.fullmatch(r"INV-\d{7}", value) for value in invoice_ids)
    assert any(re.fullmatch(r"#\d{1,6}", value) for value in invoice_ids)
    assert any(re.fullmatch(r"\d{1,6}", value) for value in invoice_ids)
    assert any(re.fullmatch(r"\d{7}, \d{7}", value) for value in invoice_ids)
    assert any(re.fullmatch(r"Payment for invoice \d{7}", value) for value in descriptions)


def test_cards_are_luhn_valid_in_the_plan_but_absent_from_the_summary():
    plan, summary = generate_activity(START, END, seed=3)
    numbers = [call.body["credit_card"]["number"] for call in plan.calls if "credit_card" in call.body]
    assert numbers and all(luhn_valid(number) for number in numbers)
    assert find_card_numbers(summary.model_dump_json()) == []


def test_amounts_avoid_the_decline_triggers_except_for_planned_declines():
    plan, summary = generate_activity(START, END, seed=3, profile=MerchantProfile(payments_per_weekday=40))
    triggered = [call for call in plan.calls if call.body.get("amount") in ("1.12", "0.29")]
    assert len(triggered) == summary.counts["declined"]


def test_voids_happen_before_the_nightly_cutoff_of_their_sale():
    plan, _ = generate_activity(START, END, seed=5)
    created = {call.ref: call.at for call in plan.calls if call.ref}
    for call in plan.calls:
        if call.route == "/v1/transactions/void" and call.uses["transaction_id"].startswith(("sale", "web")):
            sale_at = created[call.uses["transaction_id"]]
            assert call.at > sale_at
            assert (call.at.date() == sale_at.date() and call.at.hour < 20) or sale_at.hour >= 20


def test_the_summary_says_which_invoices_each_payment_pays():
    plan, summary = generate_activity(START, END, seed=3)
    voided = {call.uses["transaction_id"] for call in plan.calls if call.route == "/v1/transactions/void"}
    sales = {call.ref for call in plan.calls if call.route.startswith("/v1/transactions/sale/") and call.ref
             and not call.ref.startswith("declined")}
    captured = {call.uses["transaction_id"] for call in plan.calls if call.route.endswith("/capture")}
    assert {payment.ref for payment in summary.payments} == (sales | captured) - voided
    invoices = {invoice.invoice_no: invoice for invoice in summary.invoices}
    for payment in summary.payments:
        assert sum(payment.allocations.values()) == payment.amount, payment.ref
    paid: dict[str, Decimal] = {}
    for payment in summary.payments:
        for number, amount in payment.allocations.items():
            paid[number] = paid.get(number, Decimal("0.00")) + amount
    assert all(invoices[number].paid == amount for number, amount in paid.items())
