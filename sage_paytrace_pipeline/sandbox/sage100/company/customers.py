"""Customers and saved vault cards in the demo company.

`upsert_customer` finds the customer by ``UDF_PAYTRACE_REF`` (then by the customer number given),
creates it with the next customer number when missing, and otherwise updates the fields the
record carries (empty fields keep Sage's value). Balances are never touched here.

`store_vault_card` saves a PayTrace vault profile in AR_CustomerCreditCard (``CreditCardGUID`` =
the vault id, a ``CreditCardID`` label, last 4, expiry, card type, AVS address; no card number
exists to store), keyed by the vault id alone: one vault id is never on two customers. The first
card saved on a customer becomes its default card (AR_Customer.CreditCardGUID).
`update_customer_billing`, `delete_vault_card` and `set_default_card` serve the customer sync.
"""

from __future__ import annotations

from typing import Any

from sage_paytrace_pipeline.sage100.documents import (
    CustomerBillingUpdate,
    CustomerRecord,
    DocumentResult,
    VaultCard,
)
from sage_paytrace_pipeline.sage100.errors import (
    DocumentStateError,
    Sage100ValidationError,
    UnknownCustomerError,
)
from sage_paytrace_pipeline.sage100.schema import BRAND_BY_CARD_TYPE
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF
from sage_paytrace_pipeline.sage100.writer import (
    DELETE_VAULT_CARD,
    SET_DEFAULT_CARD,
    STORE_VAULT_CARD,
    UPDATE_CUSTOMER_BILLING,
    UPSERT_CUSTOMER,
)
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


def update_customer_billing(session: DemoSession, update: CustomerBillingUpdate) -> DocumentResult:
    ctx = Ctx(UPDATE_CUSTOMER_BILLING, update.reference)
    key = {"ARDivisionNo": update.division, "CustomerNo": update.customer_no}
    row = session.select_one("AR_Customer", key)
    if row is None:
        raise ctx.error(UnknownCustomerError, "customer_no", f"customer {update.division}-{update.customer_no} "
                        "does not exist", "link the vault profile to an existing customer (customers link)")
    changes = {_FIELDS[name]: value for name, value in update.changes().items() if row[_FIELDS[name]] != value}
    if changes:
        session.update("AR_Customer", key, changes)
    return DocumentResult(operation=UPDATE_CUSTOMER_BILLING, reference=update.reference, documents=_key_text(key),
                          created=False, updated=tuple(changes))


def _key_text(key: dict[str, str]) -> dict[str, str]:
    return {column: str(value) for column, value in key.items()}


# ------------------------------------------------------------------------------ vault cards


def _card_values(card: VaultCard) -> dict[str, str]:
    values = {
        "PaymentType": card.payment_type,
        "ExpirationDateYear": str(card.expiration_year),
        "ExpirationDateMonth": str(card.expiration_month).zfill(2),
        "CardType": card.card_type,
        "CardholderName": card.cardholder_name,
        "Last4UnencryptedCreditCardNos": card.last4,
    }
    avs = {"AVSAddressLine1": card.avs_address_line1, "AVSAddressLine2": card.avs_address_line2,
           "AVSCity": card.avs_city, "AVSState": card.avs_state, "AVSZipCode": card.avs_zip_code}
    return {**values, **{column: value for column, value in avs.items() if value}}  # empty keeps Sage's


def store_vault_card(session: DemoSession, card: VaultCard) -> DocumentResult:
    ctx = Ctx(STORE_VAULT_CARD, card.credit_card_guid)
    customer = require_customer(session, ctx, card.division, card.customer_no)
    require_card_payment_type(session, ctx, card.payment_type)
    saved = session.select("AR_CustomerCreditCard", {"CreditCardGUID": card.credit_card_guid})
    elsewhere = [row for row in saved if (row["ARDivisionNo"], row["CustomerNo"]) != (card.division, card.customer_no)]
    if elsewhere:
        holder = f"{elsewhere[0]['ARDivisionNo']}-{elsewhere[0]['CustomerNo']}"
        raise ctx.error(
            DocumentStateError, "credit_card_guid", f"vault id {card.credit_card_guid} is saved on customer {holder}",
            f"one vault id belongs to one customer: remove the card from {holder} first (delete_vault_card), "
            "or keep the profile linked to that customer")
    key = {"ARDivisionNo": card.division, "CustomerNo": card.customer_no, "CreditCardGUID": card.credit_card_guid}
    values = _card_values(card)
    if saved:
        existing = saved[0]
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


def delete_vault_card(session: DemoSession, credit_card_guid: str) -> DocumentResult:
    """Every saved row of the vault id goes (normally one), and it stops being any customer's default."""
    guid = str(credit_card_guid).strip()
    saved = session.select("AR_CustomerCreditCard", {"CreditCardGUID": guid}) if guid else []
    defaults = session.select("AR_Customer", {"CreditCardGUID": guid}) if guid else []
    for row in defaults:
        session.update("AR_Customer", {"ARDivisionNo": row["ARDivisionNo"], "CustomerNo": row["CustomerNo"]},
                       {"CreditCardGUID": ""})
    removed = session.delete("AR_CustomerCreditCard", {"CreditCardGUID": guid}) if saved else 0
    holder = saved[0] if saved else (defaults[0] if defaults else None)
    documents = {"ARDivisionNo": holder["ARDivisionNo"], "CustomerNo": holder["CustomerNo"]} if holder else {}
    updated = (("AR_CustomerCreditCard",) if removed else ()) + (("CreditCardGUID",) if defaults else ())
    return DocumentResult(operation=DELETE_VAULT_CARD, reference=guid, documents=documents, created=False,
                          updated=updated)


def set_default_card(session: DemoSession, division: str, customer_no: str, credit_card_guid: str) -> DocumentResult:
    guid = str(credit_card_guid).strip()
    ctx = Ctx(SET_DEFAULT_CARD, guid or f"{division}-{customer_no}")
    key = {"ARDivisionNo": division, "CustomerNo": customer_no}
    customer = session.select_one("AR_Customer", key)
    if customer is None:
        raise ctx.error(UnknownCustomerError, "customer_no", f"customer {division}-{customer_no} does not exist",
                        "correct the customer number")
    if guid and session.select_one("AR_CustomerCreditCard", {**key, "CreditCardGUID": guid}) is None:
        raise ctx.error(DocumentStateError, "credit_card_guid",
                        f"vault id {guid} is not a saved card of customer {division}-{customer_no}",
                        "save the card on the customer first (store_vault_card)")
    changed = customer["CreditCardGUID"] != guid
    if changed:
        session.update("AR_Customer", key, {"CreditCardGUID": guid})
    return DocumentResult(operation=SET_DEFAULT_CARD, reference=guid, documents=_key_text(key), created=False,
                          updated=("CreditCardGUID",) if changed else ())


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
