"""The customer sync end to end: vault profiles created, edited and deleted through the sandbox's v1
API, customers edited in the demo company, a person with two profiles, a change on both sides.
After each run: every profile linked once, no duplicate customers, Sage cards equal to the vault,
linked profiles carrying Sage's billing address; a second run writes nothing; no card number anywhere."""

from __future__ import annotations

import duckdb
import pytest

from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.paytrace import Address, CardInput
from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate
from sage_paytrace_pipeline.sandbox.sage100.card_scan import card_numbers_in_database

VISA, MASTERCARD, DISCOVER = "4012000098765439", "5454545454545454", "6011000993026909"
BLUE = dict(name="Blue Heron Dental Group", street_address="1 Old Rd", city="Bend", state="OR", zip="97701")


def _card(number: str, month: int = 12, year: int = 2030) -> CardInput:
    return CardInput(number=number, expiration_month=month, expiration_year=year)


def _seed_vault(world) -> None:
    """A known customer's profile (stale street), and one new person with two profiles."""
    client = world.client
    client.create_customer("blue-heron-1", _card(VISA), billing_address=Address(**BLUE),
                           email="ap@blueherondentalgroup.example")
    dana = Address(name="Dana Park", street_address="12 Birch Ln", city="Spokane", state="WA", zip="99203")
    client.create_customer("dana-park-visa-0123456789abcdef0", _card(VISA, 3, 2029), billing_address=dana,
                           email="dana@park.example", phone="509-555-0142")
    client.create_customer("dana-park-mc", _card(MASTERCARD, 8, 2031), billing_address=dana,
                           email="Dana@Park.example")


def _sage_cards(world) -> dict[str, tuple]:
    return {c.credit_card_guid: (c.customer_no, c.brand, c.last4, c.expiration_year, c.expiration_month)
            for c in world.reader().customer_cards()}


def _assert_in_sync(world, outcome) -> None:
    links = outcome.plan.links
    assert links["vault_id"].is_unique
    customers = world.reader().customers()
    assert len({c.key for c in customers}) == len(customers)
    assert len({c.name for c in customers if c.name == "Dana Park"}) <= 1
    cards = _sage_cards(world)
    by_customer = {c.customer_no: c for c in customers}
    for profile in world.client.export_customers():
        link = links[links["vault_id"] == profile.customer_id]
        if link.empty:
            continue
        customer_no = link["customer_no"].iloc[0]
        assert cards[profile.customer_id] == (customer_no, profile.card.brand, profile.card.last4,
                                              str(profile.card.expiration_year),
                                              str(profile.card.expiration_month).zfill(2))
        sage = by_customer[customer_no]
        address = profile.billing_address
        assert (address.street_address, address.city, address.state, address.zip) == (
            sage.address_line1, sage.city, sage.state, sage.zip_code)


def _no_card_numbers(world) -> None:
    assert card_numbers_in_database(world.company) == []
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        tables = connection.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        values = [str(v) for schema, table in tables
                  for row in connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall() for v in row]
    assert values and not [v for v in values if find_card_numbers(v)]


def test_profiles_created_edited_and_deleted_reach_sage_and_a_second_run_writes_nothing(world):
    _seed_vault(world)
    before = (world.reader().customers(), world.reader().customer_cards())
    preview = world.run(dry_run=True)
    assert preview.plan.counts()["customers_to_create"] == 1 and preview.plan.counts()["sage_cards_to_save"] == 1
    assert (world.reader().customers(), world.reader().customer_cards()) == before  # a dry run writes nothing
    first = world.run()
    links = first.plan.links.set_index("vault_id")
    assert links.loc["blue-heron-1", "customer_no"] == "BLUE0011"
    dana = links.loc[["dana-park-visa-0123456789abcdef0", "dana-park-mc"], "customer_no"]
    assert dana.nunique() == 1 and first.written["customers_created"] == 1
    assert _sage_cards(world)["dana-park-visa-0123456789abcdef0"][1:] == ("VISA", "5439", "2029", "03")
    blue = world.client.export_customers("blue-heron-1")[0]
    assert blue.billing_address.street_address != "1 Old Rd" and blue.phone  # Sage's address and phone
    _assert_in_sync(world, first)
    assert world.run().written == dict.fromkeys(first.written, 0)

    world.client.update_customer("blue-heron-1", card=_card(VISA, 1, 2032))  # expiry changed
    world.client.update_customer("dana-park-mc", card=_card(DISCOVER, 5, 2030))  # card replaced
    world.client.delete_customer("dana-park-visa-0123456789abcdef0")
    edited = world.run()
    cards = _sage_cards(world)
    assert cards["blue-heron-1"][3:] == ("2032", "01")
    assert cards["dana-park-mc"][1:3] == ("DISCOVER", DISCOVER[-4:])
    assert "dana-park-visa-0123456789abcdef0" not in cards
    default = world.reader().customer("01", dana.iloc[0]).credit_card_guid
    assert default == "dana-park-mc"
    legacy = {c.credit_card_guid for c in world.reader().customer_cards() if c.customer_no == "EVER0007"}
    assert legacy  # a card PayTrace never had is never removed
    _assert_in_sync(world, edited)
    assert world.run().plan.writes == 0
    _no_card_numbers(world)


def test_a_clerks_sage_edit_reaches_paytrace_without_echo(world):
    _seed_vault(world)
    world.run()
    world.clerk().update_customer_billing(CustomerBillingUpdate(
        reference="clerk", division="01", customer_no="BLUE0011", address_line1="500 Lakeview Dr", city="Redmond",
        state="wa", zip_code="98052", phone="(425) 555-0199"))
    synced = world.run()
    assert synced.written["paytrace_profiles_updated"] == 1 and synced.written["sage_customers_updated"] == 0
    profile = world.client.export_customers("blue-heron-1")[0]
    assert (profile.billing_address.street_address, profile.billing_address.city, profile.phone) == (
        "500 Lakeview Dr", "Redmond", "(425) 555-0199")
    assert world.reader().customer_cards("01", "BLUE0011")[0].avs_city == "Redmond"
    _assert_in_sync(world, synced)
    assert world.run().plan.writes == 0


@pytest.mark.parametrize(("conflict", "street"), [("sage_wins", "2 Sage Ave"), ("paytrace_wins", "3 Vault Blvd"),
                                                 ("exception", None)])
def test_a_change_on_both_sides_is_decided_as_configured(world, conflict, street):
    _seed_vault(world)
    world.run(conflict=conflict)
    world.clerk().update_customer_billing(CustomerBillingUpdate(
        reference="clerk", division="01", customer_no="BLUE0011", address_line1="2 Sage Ave"))
    world.client.update_customer("blue-heron-1", billing_address=Address(**{**BLUE, "street_address": "3 Vault Blvd"}))
    decided = world.run(conflict=conflict)
    [row] = decided.plan.decisions[(decided.plan.decisions["customer_no"] == "BLUE0011")
                                   & (decided.plan.decisions["field"] == "address_line1")].itertuples()
    assert (row.sage_value, row.paytrace_value, row.decision) == ("2 Sage Ave", "3 Vault Blvd", conflict)
    sage = world.reader().customer("01", "BLUE0011").address_line1
    paytrace = world.client.export_customers("blue-heron-1")[0].billing_address.street_address
    if street is None:
        assert (sage, paytrace) == ("2 Sage Ave", "3 Vault Blvd")
        assert "field_conflict" in set(decided.exceptions["kind"])
    else:
        assert sage == paytrace == street
        assert world.run(conflict=conflict).plan.writes == 0
