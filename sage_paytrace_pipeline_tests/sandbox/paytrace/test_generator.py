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
    cards = [call.body.get("credit_card", {}) for call in plan.calls]
    numbers = [card["number"] for card in cards if "number" in card]  # an expiry renewal carries none
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


def test_the_vault_changes_halfway_without_changing_any_payment():
    plan, summary = generate_activity(START, END, seed=3)
    still, _ = generate_activity(START, END, seed=3, profile=MerchantProfile(vault_changes=False))
    changes = [call for call in plan.calls if call not in still.calls]
    assert [call.route for call in changes] == ["/v1/customer/create", "/v1/customer/update", "/v1/customer/update",
                                                "/v1/customer/create", "/v1/customer/delete"]
    assert [call for call in plan.calls if call not in changes] == still.calls  # the same payments, the same order
    assert {kind: summary.counts[kind] for kind in ("vault_expiry_renewed", "vault_card_replaced",
                                                    "vault_second_profile", "vault_profile_deleted")} == {
        "vault_expiry_renewed": 1, "vault_card_replaced": 1, "vault_second_profile": 2, "vault_profile_deleted": 1}
    spare, deleted = changes[0].body["customer_id"], changes[4].body["customer_id"]
    assert spare == deleted and changes[0].at.date() == START  # saved the first morning, deleted halfway
    assert [call.route for call in plan.calls if call.body.get("customer_id") == spare] == [
        "/v1/customer/create", "/v1/customer/delete"]  # no payment ever uses it


def test_replayed_vault_changes_show_in_the_vault_export(tmp_path):
    """Through the sandbox's v1 customer routes: renewed expiry, new last 4, two profiles for one
    person (same e-mail and billing address), the deleted profile gone; no call failed."""
    from sage_paytrace_pipeline.paytrace import PayTraceClient
    from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
    from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
    from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
    from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

    start, end = date(2026, 3, 2), date(2026, 3, 5)
    plan, _ = generate_activity(start, end, seed=5, profile=MerchantProfile(customers=8, payments_per_weekday=4))
    app = create_app(tmp_path / "sandbox.sqlite3", username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)
    outcome = apply_plan(app.state.engine, plan)
    assert outcome.failures == []
    renew, replace, duplicate, delete = [call for call in plan.calls if call.at.hour == 21 and "customer" in call.route]
    created = {call.body["customer_id"]: call.body for call in plan.calls if call.route == "/v1/customer/create"}
    with serve_in_thread(app) as url, PayTraceClient(url, username=DEFAULT_USERNAME,
                                                     password=DEFAULT_PASSWORD) as client:
        vault = {profile.customer_id: profile for profile in client.export_customers()}
    renewed = vault[renew.body["customer_id"]].card
    assert renewed is not None
    assert renewed.expiration_year == created[renew.body["customer_id"]]["credit_card"]["expiration_year"] + 3
    replaced = vault[replace.body["customer_id"]].card
    assert replaced is not None and replaced.last4 == replace.body["credit_card"]["number"][-4:]
    second = vault[duplicate.body["customer_id"]]
    twins = [p for p in vault.values() if p.email == second.email]
    assert len(twins) == 2 and len({(p.billing_address.zip if p.billing_address else None) for p in twins}) == 1
    assert delete.body["customer_id"] not in vault and len(vault) == len(created) - 1
