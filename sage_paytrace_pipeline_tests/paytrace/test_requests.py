"""Typed requests: validated before anything is sent, wire payloads without unset fields, no secret in a repr."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from sage_paytrace_pipeline.domain.money import MoneyError
from sage_paytrace_pipeline.paytrace import Address, CardInput
from sage_paytrace_pipeline.paytrace.ids import GENERATED_INVOICE_ID_PATTERN
from sage_paytrace_pipeline.paytrace.requests import (
    Capture,
    CustomerCreate,
    CustomerTransaction,
    CustomerUpdate,
    KeyedSale,
    TransactionRefund,
    VaultProfile,
)

from .conftest import VISA

CARD = CardInput(number=VISA, expiration_month=3, expiration_year=2029, csc="999")


def test_an_omitted_invoice_id_is_generated_in_the_recognisable_shape():
    sale = KeyedSale(CARD, Decimal(5))
    assert re.fullmatch(GENERATED_INVOICE_ID_PATTERN, sale.sent_invoice_id)
    assert sale.payload()["invoice_id"] == sale.sent_invoice_id
    assert KeyedSale(CARD, Decimal(5)).sent_invoice_id != sale.sent_invoice_id


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-1.00"), "abc"])
def test_amounts_must_be_positive_money(amount):
    with pytest.raises((MoneyError, ValueError)):
        CustomerTransaction("C-1", amount, invoice_id="INV-1")
    with pytest.raises((MoneyError, ValueError)):
        Capture(1, amount)


def test_payloads_leave_unset_fields_out():
    sale = KeyedSale(CARD, Decimal(110), invoice_id="INV-1", tax_amount=Decimal("8.1"),
                     billing_address=Address(name="Kevin", zip="99201"))
    assert sale.payload() == {"amount": "110.00", "invoice_id": "INV-1", "tax_amount": "8.10",
                              "credit_card": {"number": VISA, "expiration_month": "03", "expiration_year": "2029"},
                              "csc": "999", "billing_address": {"name": "Kevin", "zip": "99201"}}
    assert CustomerTransaction("C-1", Decimal(3), invoice_id="INV-2").payload() == {
        "amount": "3.00", "invoice_id": "INV-2", "customer_id": "C-1"}
    assert TransactionRefund(7, invoice_id="RFD-1").payload() == {"transaction_id": 7, "invoice_id": "RFD-1"}
    assert Capture(7).payload() == {"transaction_id": 7}
    assert CustomerUpdate("C-1", VaultProfile(email="a@b.c"), new_id="C-2").payload() == {
        "customer_id": "C-1", "new_id": "C-2", "email": "a@b.c"}
    assert list(CustomerCreate("C-1", CARD, VaultProfile(phone="555")).payload()) == [
        "customer_id", "credit_card", "csc", "phone"]


def test_no_card_number_or_csc_in_a_repr():
    texts = [repr(KeyedSale(CARD, Decimal(5), invoice_id="INV-1")),
             repr(CustomerTransaction("C-1", Decimal(5), invoice_id="INV-1", csc="4321")),
             repr(CustomerCreate("C-1", CARD))]
    for text in texts:
        assert VISA not in text and "999" not in text and "4321" not in text
