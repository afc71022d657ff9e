"""The sync plan on small frames: linking, field merges, conflicts, cards, deletions, no echo."""

from __future__ import annotations

import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.customer_sync import SyncPolicy, SyncState, plan_sync
from sage_paytrace_pipeline.domain.ledger import CARD_TYPE_BY_BRAND
from sage_paytrace_pipeline_tests.domain.customer_sync.frames import (
    PAYMENT_TYPES,
    card,
    customer,
    inputs,
    profile,
)

POLICY = SyncPolicy(payment_types=PAYMENT_TYPES)


def _apply(sync, plan):
    """What carrying the plan out does to the inputs (the application does it through the writers)."""
    vault, customers, cards = sync.vault.copy(), sync.customers.copy(), sync.cards.copy()
    for row in plan.sage_updates.itertuples():
        mask = (customers["division"] == row.division) & (customers["customer_no"] == row.customer_no)
        customers.loc[mask, row.field] = row.value
        customers.loc[mask, "user_updated"] = "PAYTRACE"
    columns = {"name": "billing_name", "address_line1": "billing_address1", "city": "billing_city",
               "state": "billing_state", "zip_code": "billing_zip", "phone": "phone", "email": "email",
               "address_line2": "billing_address2"}
    for row in plan.paytrace_updates.itertuples():
        vault.loc[vault["customer_id"] == row.vault_id, columns[row.field]] = row.value
    cards = cards[~cards["credit_card_guid"].isin(plan.card_deletes["credit_card_guid"])]
    cards = cards[~cards["credit_card_guid"].isin(plan.card_upserts["credit_card_guid"])]
    saved = plan.card_upserts.assign(card_type=plan.card_upserts["card_brand"].map(CARD_TYPE_BY_BRAND))
    cards = pd.concat([cards, saved.loc[:, list(cards.columns)]], ignore_index=True)
    for row in plan.default_cards.itertuples():  # as the writer's store_vault_card / set_default_card do
        customers.loc[customers["customer_no"] == row.customer_no, "credit_card_guid"] = row.credit_card_guid
    vault = vault[~vault["customer_id"].isin(plan.profile_deletes["vault_id"])]
    return type(sync)(vault=vault, customers=customers, cards=cards, operator_links=sync.operator_links)


def test_profiles_link_by_card_then_email_and_zip_and_an_ambiguous_one_is_an_exception():
    sync = inputs(
        [profile("V1", "Ana Chen", email="ana@x.example"), profile("V2", "Bo Lee", email="bo@x.example"),
         profile("V3", "Cy Doe", email="shared@x.example", zip_code="99202")],
        [customer("ANA", "Ana Chen", email="other@x.example"), customer("BOLEE", "Bo Lee", email="bo@x.example"),
         customer("CY1", "Cy Doe", email="shared@x.example", zip_code="99202"),
         customer("CY2", "Cy Doe", email="shared@x.example", zip_code="99202")],
        [card("ANA", "V1")])
    plan = plan_sync(sync, SyncState(), POLICY)
    links = plan.links.set_index("vault_id")
    assert links.loc["V1", ["customer_no", "method"]].tolist() == ["ANA", "sage_card"]
    assert links.loc["V2", ["customer_no", "method"]].tolist() == ["BOLEE", "email_and_zip"]
    assert "V3" not in links.index
    [ambiguous] = plan.exceptions[plan.exceptions["kind"] == "ambiguous_customer"].itertuples()
    assert ambiguous.vault_id == "V3" and "01-CY1" in ambiguous.problem and "01-CY2" in ambiguous.problem


def test_a_first_sync_saves_cards_pushes_sages_address_and_a_second_run_plans_nothing():
    sync = inputs([profile("V1", "Ana Chen", email="ana@x.example", street="9 Old Rd"),
                   profile("V2", "Ana Chen", email="ana@x.example", last4="2222", brand="MASTERCARD")],
                  [customer("ANA", "Ana Chen", email="ana@x.example", street="1 Main St", phone="509-555-0100")])
    plan = plan_sync(sync, SyncState(), POLICY)
    assert set(plan.links["customer_no"]) == {"ANA"}  # one person, two profiles, one customer
    assert sorted(plan.card_upserts["credit_card_guid"]) == ["V1", "V2"]
    assert plan.sage_updates.empty
    pushed = plan.paytrace_updates.set_index(["vault_id", "field"])["value"].to_dict()
    assert pushed == {("V1", "address_line1"): "1 Main St", ("V1", "phone"): "509-555-0100",
                      ("V2", "phone"): "509-555-0100"}
    assert plan.card_upserts.set_index("credit_card_guid").loc["V1", "avs_address_line1"] == "1 Main St"
    again = plan_sync(_apply(sync, plan), plan.state, POLICY)
    assert again.writes == 0, again.counts()


@pytest.mark.parametrize(("conflict", "sage_value", "pt_value"), [
    ("sage_wins", "2 Sage Ave", "2 Sage Ave"), ("paytrace_wins", "3 Vault Blvd", "3 Vault Blvd"),
    ("exception", "2 Sage Ave", "3 Vault Blvd")])
def test_a_field_changed_on_both_sides_follows_the_conflict_policy(conflict, sage_value, pt_value):
    policy = SyncPolicy(payment_types=PAYMENT_TYPES, conflict=conflict)
    first = inputs([profile("V1", "Ana Chen", email="ana@x.example")],
                   [customer("ANA", "Ana Chen", email="ana@x.example")])
    state = plan_sync(first, SyncState(), policy).state
    edited = inputs([profile("V1", "Ana Chen", email="ana@x.example", street="3 Vault Blvd")],
                    [customer("ANA", "Ana Chen", email="ana@x.example", street="2 Sage Ave",
                              stamp="2026-03-05 10:00")])
    plan = plan_sync(edited, state, policy)
    [decision] = plan.decisions[plan.decisions["field"] == "address_line1"].itertuples()
    assert (decision.sage_value, decision.paytrace_value, decision.base_value) == ("2 Sage Ave", "3 Vault Blvd",
                                                                                   "1 Main St")
    assert decision.decision == conflict
    after = _apply(edited, plan)
    assert after.customers.loc[0, "address_line1"] == sage_value
    assert after.vault.iloc[0]["billing_address1"] == pt_value
    assert (plan.exceptions["kind"] == "field_conflict").sum() == (conflict == "exception")


def test_a_clerks_edit_goes_to_paytrace_and_the_sync_own_write_is_not_echoed():
    first = inputs([profile("V1", "Ana Chen", email="ana@x.example")],
                   [customer("ANA", "Ana Chen", email="ana@x.example")])
    state = plan_sync(first, SyncState(), POLICY).state
    clerk = inputs([profile("V1", "Ana Chen", email="ana@x.example")],
                   [customer("ANA", "Ana Chen", email="ana@x.example", city="Tacoma", stamp="2026-03-05 10:00")])
    plan = plan_sync(clerk, state, POLICY)
    assert plan.paytrace_updates[["vault_id", "field", "value"]].values.tolist() == [["V1", "city", "Tacoma"]]
    moved = inputs([profile("V1", "Ana Chen", email="ana@x.example", city="Olympia")],
                   [customer("ANA", "Ana Chen", email="ana@x.example")])
    plan = plan_sync(moved, state, POLICY)
    assert plan.sage_updates[["customer_no", "field", "value"]].values.tolist() == [["ANA", "city", "Olympia"]]
    echoed = _apply(moved, plan)
    assert plan_sync(echoed, plan.state, POLICY).writes == 0


def test_a_profile_deleted_in_paytrace_removes_its_card_but_a_card_paytrace_never_had_stays():
    sync = inputs([profile("V1", "Ana Chen", email="ana@x.example"), profile("V2", "Ana Chen", email="ana@x.example",
                                                                             last4="2222")],
                  [customer("ANA", "Ana Chen", email="ana@x.example", default="V1")],
                  [card("ANA", "V1"), card("ANA", "LEGACY-GATEWAY-1", last4="9999")])
    plan = plan_sync(sync, SyncState(), POLICY)
    synced = _apply(sync, plan)
    deleted = type(synced)(vault=synced.vault[synced.vault["customer_id"] != "V1"], customers=synced.customers,
                           cards=synced.cards, operator_links=synced.operator_links)
    plan = plan_sync(deleted, plan.state, POLICY)
    assert plan.card_deletes["credit_card_guid"].tolist() == ["V1"]
    assert plan.default_cards.values.tolist() == [["01", "ANA", "V2"]]  # a vault card before a legacy one
    assert "LEGACY-GATEWAY-1" not in set(plan.card_deletes["credit_card_guid"])


def test_expiry_change_and_replaced_card_update_the_sage_card():
    sync = inputs([profile("V1", "Ana Chen", email="ana@x.example", last4="4444", year=2031)],
                  [customer("ANA", "Ana Chen", email="ana@x.example", default="V1")],
                  [card("ANA", "V1", holder="Ana Chen")])
    plan = plan_sync(sync, SyncState(links=pd.DataFrame({"vault_id": ["V1"], "division": ["01"],
                                                         "customer_no": ["ANA"]})), POLICY)
    [row] = plan.card_upserts.itertuples()
    assert (row.change, row.last4, row.expiration_year) == ("update", "4444", "2031")


@pytest.mark.parametrize("inactive", ["exception", "delete_profile"])
def test_an_inactive_customers_profile_is_deleted_or_excepted(inactive):
    policy = SyncPolicy(payment_types=PAYMENT_TYPES, inactive_customer=inactive)
    sync = inputs([profile("V1", "Ana Chen")], [customer("ANA", "Ana Chen", status="I")], [card("ANA", "V1")],
                  links={"V1": "01-ANA"})
    plan = plan_sync(sync, SyncState(), policy)
    assert plan.profile_deletes["vault_id"].tolist() == (["V1"] if inactive == "delete_profile" else [])
    assert (plan.exceptions["kind"] == "inactive_customer_profile").sum() == (inactive == "exception")
    assert plan.card_upserts.empty and plan.paytrace_updates.empty


def test_auto_create_makes_one_customer_for_a_person_with_two_profiles():
    policy = SyncPolicy(payment_types=PAYMENT_TYPES, auto_create=True)
    sync = inputs([profile("V1", "Dee Park", email="dee@x.example"), profile("V2", "Dee Park", email="DEE@x.example",
                                                                             last4="2222")],
                  [customer("ANA", "Ana Chen", email="ana@x.example")])
    plan = plan_sync(sync, SyncState(), policy)
    [created] = plan.customers_to_create.itertuples()
    assert created.vault_ids == "V1 V2" and created.name == "Dee Park" and len(created.reference) <= 30
    assert plan_sync(sync, SyncState(), SyncPolicy(payment_types=PAYMENT_TYPES)).customers_to_create.empty


def test_a_field_left_out_of_the_sync_keeps_each_sides_value():
    policy = SyncPolicy(payment_types=PAYMENT_TYPES,
                        fields=("address_line1", "city", "state", "zip_code"))
    sync = inputs([profile("V1", "Tara Ito", email="tara@x.example", street="9 Old Rd")],
                  [customer("SUNR", "Sunrise Bakery", email="tara@x.example", street="1 Main St")])
    plan = plan_sync(sync, SyncState(), policy)
    assert plan.paytrace_updates[["field", "value"]].values.tolist() == [["address_line1", "1 Main St"]]
    assert plan.card_upserts["cardholder_name"].tolist() == ["Tara Ito"]
    assert plan_sync(_apply(sync, plan), plan.state, policy).writes == 0


def test_unplaced_profiles_are_not_re_matched_until_they_or_sages_customers_change():
    """The fuzzy cascade runs once on a profile it cannot place (V3 ambiguous, V4 nobody): the next runs
    give the same exceptions from the cache; a changed profile, or a change in Sage, runs it again."""
    profiles = [profile("V1", "Ana Chen", email="ana@x.example"),
                profile("V3", "Cy Doe", email="shared@x.example", zip_code="99202"),
                profile("V4", "Nobody Known", email="nobody@x.example", zip_code="10001")]
    customers = [customer("ANA", "Ana Chen", email="ana@x.example"),
                 customer("CY1", "Cy Doe", email="shared@x.example", zip_code="99202"),
                 customer("CY2", "Cy Doe", email="shared@x.example", zip_code="99202")]
    sync = inputs(profiles, customers)
    first = plan_sync(sync, SyncState(), POLICY)
    assert first.cascaded == 2
    assert set(first.state.unmatched["vault_id"]) == {"V3", "V4"}

    again = plan_sync(sync, first.state, POLICY)
    assert again.cascaded == 0
    pd.testing.assert_frame_equal(again.exceptions, first.exceptions)
    assert again.links[["vault_id", "customer_no"]].equals(first.links[["vault_id", "customer_no"]])
    assert again.state.unmatched.equals(first.state.unmatched)

    renamed = inputs([*profiles[:2], profile("V4", "Nobody Known Jr", email="nobody@x.example", zip_code="10001")],
                     customers)
    assert plan_sync(renamed, again.state, POLICY).cascaded == 1  # only the changed profile
    sage_edit = inputs(profiles, [*customers[:2], customer("CY2", "Cyrus Doe", email="cy2@x.example",
                                                           zip_code="99202")])
    replanned = plan_sync(sage_edit, again.state, POLICY)
    assert replanned.links.set_index("vault_id").loc["V3", "customer_no"] == "CY1"  # e-mail + ZIP now unique
    assert replanned.cascaded == 1  # V4 tried again: Sage changed since it was cached


def test_with_auto_create_the_unplaced_profile_is_created_and_then_linked_not_cached():
    sync = inputs([profile("V9", "New Person", email="new@x.example", zip_code="10001")],
                  [customer("ANA", "Ana Chen", email="ana@x.example")])
    policy = SyncPolicy(payment_types=PAYMENT_TYPES, auto_create=True)
    first = plan_sync(sync, SyncState(), policy)
    assert list(first.customers_to_create["vault_ids"].astype(str)) == ["V9"]
    again = plan_sync(sync, first.state, policy)  # the creation not carried out: the cache says the same
    assert again.cascaded == 0 and list(again.customers_to_create["vault_ids"].astype(str)) == ["V9"]
