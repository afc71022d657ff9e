"""Customers and saved vault cards in the demo company.

`upsert_customer` finds the customer by ``UDF_PAYTRACE_REF`` (then by the customer number given),
creates it with the next customer number when missing, and otherwise updates the fields the
record carries (empty fields keep Sage's value). Balances are never touched here.

`store_vault_card` saves a PayTrace vault profile in AR_CustomerCreditCard (``CreditCardGUID`` =
the vault id, a ``CreditCardID`` label, last 4, expiry, card type; no card number exists to
store). The first card saved on a customer becomes its default card (AR_Customer.CreditCardGUID).
"""

from __future__ import annotations

from typing import Any

from sage_paytrace_pipeline.sage100.documents import CustomerRecord, DocumentResult, VaultCard
from sage_paytrace_pipeline.sage100.errors import DocumentStateError, Sage100ValidationError
from sage_paytrace_pipeline.sage100.schema import BRAND_BY_CARD_TYPE
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import STORE_VAULT_CARD, UPSERT_CUSTOMER
from sage_paytrace_pipeline.sandbox.sage100.company.master import (
    Ctx,
    payment_type_exists,
    require_card_payment_type,
    require_customer,
    require_division,
)
from sage_paytrace_pipeline.sandbox.sage100.company.numbers import next_number
from sage_paytrace_pipeline.sandbox.sage100.company.store import DemoSession, Row

_FIELDS = {  # CustomerRecord field -> AR_Customer column
    "name": "CustomerName",
    "address_line1": "AddressLine1",
    "address_line2": "AddressLine2",
    "address_line3": "AddressLine3",
    "city": "City",
    "state": "State",
    "zip_code": "ZipCode",
    "country_code": "CountryCode",
    "phone": "TelephoneNo",
    "email": "EmailAddress",
    "terms_code": "TermsCode",
    "payment_type": "DefaultPaymentType",
}
_SHORT_BRAND = {"VISA": "VISA", "MASTERCARD": "MC", "AMEX": "AMEX", "DISCOVER": "DISC"}


def _customer_result(row: Row, reference: str, *, created: bool, updated: tuple[str, ...] = ()) -> DocumentResult:
    return DocumentResult(
        operation=UPSERT_CUSTOMER,
        reference=reference,
        documents={"ARDivisionNo": row["ARDivisionNo"], "CustomerNo": row["CustomerNo"]},
        created=created,
        updated=updated,
    )


def upsert_customer(session: DemoSession, record: CustomerRecord) -> DocumentResult:
    ctx = Ctx(UPSERT_CUSTOMER, record.reference)
    row = session.select_one("AR_Customer", {UDF_PAYTRACE_REF: record.reference})
    if row is not None and record.customer_no and (row["ARDivisionNo"], row["CustomerNo"]) != (
        record.division, record.customer_no
    ):
        raise ctx.error(
            DocumentStateError, "customer_no",
            f"reference {record.reference} is already linked to customer {row['ARDivisionNo']}-{row['CustomerNo']}",
            "send that customer number, or leave customer_no empty",
        )
    if row is None and record.customer_no:
        row = session.select_one("AR_Customer", {"ARDivisionNo": record.division, "CustomerNo": record.customer_no})
        if row is not None and row[UDF_PAYTRACE_REF] not in ("", record.reference):
            raise ctx.error(
                DocumentStateError, "customer_no",
                f"customer {record.division}-{record.customer_no} is linked to reference {row[UDF_PAYTRACE_REF]}",
                "use a different customer number, or correct the link in AR Customer Maintenance (UDF PAYTRACE_REF)",
            )
    _validate_codes(session, ctx, record)
    if row is None:
        return _create_customer(session, record)
    return _update_customer(session, record, row)


def _validate_codes(session: DemoSession, ctx: Ctx, record: CustomerRecord) -> None:
    require_division(session, ctx, record.division)
    if record.terms_code and session.select_one("AR_TermsCode", {"TermsCode": record.terms_code}) is None:
        raise ctx.error(
            Sage100ValidationError, "terms_code", f"terms code {record.terms_code} does not exist",
            "use a code from Terms Code Maintenance or leave it empty",
        )
    if record.payment_type and not payment_type_exists(session, record.payment_type):
        raise ctx.error(
            Sage100ValidationError, "payment_type", f"payment type {record.payment_type} does not exist",
            "use a code from Payment Type Maintenance or leave it empty",
        )


def _create_customer(session: DemoSession, record: CustomerRecord) -> DocumentResult:
    customer_no = record.customer_no or next_number(session, "CustomerNo")
    values: dict[str, Any] = {column: getattr(record, field) for field, column in _FIELDS.items()}
    if not values["DefaultPaymentType"] and payment_type_exists(session, "CHECK"):
        values["DefaultPaymentType"] = "CHECK"  # Sage assigns the CHECK payment type to new customers
    row = {
        "ARDivisionNo": record.division,
        "CustomerNo": customer_no,
        **values,
        "CustomerStatus": "A",
        "OpenItemCustomer": "Y",
        "CreditHold": "N",
        "EmailStatements": "N",
        "DateEstablished": session.today,
        UDF_PAYTRACE_REF: record.reference,
    }
    session.insert("AR_Customer", row)
    return _customer_result(row, record.reference, created=True)


def _update_customer(session: DemoSession, record: CustomerRecord, row: Row) -> DocumentResult:
    changes = {
        column: getattr(record, field)
        for field, column in _FIELDS.items()
        if getattr(record, field) and getattr(record, field) != row[column]
    }
    if row[UDF_PAYTRACE_REF] != record.reference:
        changes[UDF_PAYTRACE_REF] = record.reference
    if changes:
        session.update("AR_Customer", {"ARDivisionNo": row["ARDivisionNo"], "CustomerNo": row["CustomerNo"]}, changes)
    return _customer_result(row, record.reference, created=False, updated=tuple(changes))


# ------------------------------------------------------------------------------ vault cards


def _card_values(card: VaultCard) -> dict[str, str]:
    return {
        "PaymentType": card.payment_type,
        "ExpirationDateYear": str(card.expiration_year),
        "ExpirationDateMonth": str(card.expiration_month).zfill(2),
        "CardType": card.card_type,
        "CardholderName": card.cardholder_name,
        "Last4UnencryptedCreditCardNos": card.last4,
    }


def store_vault_card(session: DemoSession, card: VaultCard) -> DocumentResult:
    ctx = Ctx(STORE_VAULT_CARD, card.credit_card_guid)
    customer = require_customer(session, ctx, card.division, card.customer_no)
    require_card_payment_type(session, ctx, card.payment_type)
    key = {"ARDivisionNo": card.division, "CustomerNo": card.customer_no, "CreditCardGUID": card.credit_card_guid}
    values = _card_values(card)
    existing = session.select_one("AR_CustomerCreditCard", key)
    if existing is not None:
        changes = {column: value for column, value in values.items() if existing[column] != value}
        if changes:
            session.update("AR_CustomerCreditCard", key, changes)
        return _card_result(card, existing["CreditCardID"], created=False, updated=tuple(changes))
    label = _label(session, card)
    session.insert("AR_CustomerCreditCard", {**key, **values, "CreditCardID": label})
    if not customer["CreditCardGUID"]:
        session.update(
            "AR_Customer",
            {"ARDivisionNo": card.division, "CustomerNo": card.customer_no},
            {"CreditCardGUID": card.credit_card_guid, "DefaultCreditCardPmtType": card.payment_type},
        )
    return _card_result(card, label, created=True)


def _card_result(card: VaultCard, label: str, *, created: bool, updated: tuple[str, ...] = ()) -> DocumentResult:
    return DocumentResult(
        operation=STORE_VAULT_CARD,
        reference=card.credit_card_guid,
        documents={"ARDivisionNo": card.division, "CustomerNo": card.customer_no, "CreditCardID": label},
        created=created,
        updated=updated,
    )


def _label(session: DemoSession, card: VaultCard) -> str:
    """A unique 10-char CreditCardID per customer, e.g. "VISA5439" (then "VISA5439-2")."""
    brand = _SHORT_BRAND.get(BRAND_BY_CARD_TYPE.get(card.card_type, ""), "CARD")
    base = f"{brand}{card.last4}"
    taken = {
        row["CreditCardID"]
        for row in session.select(
            "AR_CustomerCreditCard", {"ARDivisionNo": card.division, "CustomerNo": card.customer_no}
        )
    }
    label, suffix = base, 1
    while label in taken:
        suffix += 1
        label = f"{base}-{suffix}"[:10]
    return label
