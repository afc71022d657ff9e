"""The demo company's operations for the customer sync: billing updates, cards keyed by vault id alone,
card removal and the default card; and the Visual Integrator writer refusing what it cannot do."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate, VaultCard
from sage_paytrace_pipeline.sage100.errors import DocumentStateError, Sage100UnsupportedOperation
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.vi_writer import VisualIntegratorWriter
from sage_paytrace_pipeline_tests.sage100.writer_support import dump, query


def _card(customer_no: str = "RIVE0001", **changes) -> VaultCard:
    fields = dict(division="01", customer_no=customer_no, credit_card_guid="a" * 32, payment_type="VISA",
                  last4="1111", expiration_year=2029, expiration_month=7, card_type="VISA",
                  cardholder_name="Ana Chen", avs_address_line1="1 Main St", avs_city="Reno", avs_state="NV",
                  avs_zip_code="89501")
    return VaultCard(**{**fields, **changes})


def _card_row(company, guid: str = "a" * 32):
    return query(company, "SELECT CustomerNo, Last4UnencryptedCreditCardNos, ExpirationDateYear, CardType, "
                 "AVSAddressLine1, AVSCity, AVSZipCode FROM AR_CustomerCreditCard WHERE CreditCardGUID=?", (guid,))


def _other_customer(company) -> str:
    return query(company, "SELECT CustomerNo FROM AR_Customer WHERE ARDivisionNo='01' AND CustomerNo<>'RIVE0001' "
                 "AND CustomerStatus='A' ORDER BY CustomerNo LIMIT 1")[0][0]


def test_a_32_character_vault_id_is_saved_with_its_avs_address_and_updated_in_place(company, writer):
    assert writer.store_vault_card(_card()).created
    assert _card_row(company) == [("RIVE0001", "1111", "2029", "4", "1 Main St", "Reno", "89501")]
    replaced = writer.store_vault_card(_card(last4="2222", expiration_year=2031, avs_address_line1="9 Elm Rd"))
    assert (replaced.created, set(replaced.updated)) == (
        False, {"Last4UnencryptedCreditCardNos", "ExpirationDateYear", "AVSAddressLine1"})
    assert _card_row(company) == [("RIVE0001", "2222", "2031", "4", "9 Elm Rd", "Reno", "89501")]


def test_one_vault_id_is_never_saved_on_two_customers(company, writer):
    writer.store_vault_card(_card())
    before = dump(company)
    with pytest.raises(DocumentStateError, match="is saved on customer 01-RIVE0001"):
        writer.store_vault_card(_card(customer_no=_other_customer(company)))
    assert dump(company) == before


def test_deleting_a_card_clears_the_default_and_a_repeat_writes_nothing(company, writer):
    writer.store_vault_card(_card())
    writer.set_default_card("01", "RIVE0001", "a" * 32)
    removed = writer.delete_vault_card("a" * 32)
    assert removed.updated == ("AR_CustomerCreditCard", "CreditCardGUID")
    assert _card_row(company) == []
    assert query(company, "SELECT CreditCardGUID FROM AR_Customer WHERE CustomerNo='RIVE0001'") == [("",)]
    before = dump(company)
    again = writer.delete_vault_card("a" * 32)
    assert (again.created, again.updated, dump(company)) == (False, (), before)


def test_the_default_card_is_set_cleared_and_must_be_the_customers_own(company, writer):
    writer.store_vault_card(_card())
    writer.set_default_card("01", "RIVE0001", "")
    assert query(company, "SELECT CreditCardGUID FROM AR_Customer WHERE CustomerNo='RIVE0001'") == [("",)]
    assert writer.set_default_card("01", "RIVE0001", "a" * 32).updated == ("CreditCardGUID",)
    assert writer.set_default_card("01", "RIVE0001", "a" * 32).updated == ()
    with pytest.raises(DocumentStateError, match="not a saved card"):
        writer.set_default_card("01", _other_customer(company), "a" * 32)


def test_billing_update_changes_only_what_differs_and_stamps_the_writer_user(company, writer):
    update = CustomerBillingUpdate(reference="sync-1", division="01", customer_no="RIVE0001",
                                   address_line1="77 Harbor Way", city="Tacoma", state="or", zip_code="97035")
    done = writer.update_customer_billing(update)
    assert set(done.updated) == {"AddressLine1", "City", "State", "ZipCode"}
    assert writer.update_customer_billing(update).updated == ()
    reader = Sage100Reader.for_sqlite(company)
    customer = reader.customer("01", "RIVE0001")
    assert (customer.address_line1, customer.city, customer.state) == ("77 Harbor Way", "Tacoma", "OR")
    [stamp] = [s for s in reader.customer_stamps("01") if s.customer_no == "RIVE0001"]
    assert (stamp.user_updated, stamp.time_updated) == ("PAYTRACE", "15.5")


def test_the_visual_integrator_writer_refuses_the_sync_operations_in_a_sentence(company, tmp_path):
    writer = VisualIntegratorWriter(tmp_path / "vi", reader=Sage100Reader.for_sqlite(company))
    update = CustomerBillingUpdate(reference="sync-1", division="01", customer_no="RIVE0001", city="Tacoma")
    for call in (lambda: writer.update_customer_billing(update), lambda: writer.delete_vault_card("a" * 32),
                 lambda: writer.set_default_card("01", "RIVE0001", "")):
        with pytest.raises(Sage100UnsupportedOperation, match="Visual Integrator"):
            call()
