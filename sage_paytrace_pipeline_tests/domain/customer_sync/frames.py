"""Small vault / Sage frames for the sync plan's tests, shaped like the warehouse's."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncInputs

VAULT_COLUMNS = ("customer_id", "billing_name", "billing_address1", "billing_address2", "billing_city",
                 "billing_state", "billing_zip", "phone", "email", "card_brand", "card_last4",
                 "card_expiration_month", "card_expiration_year")
CUSTOMER_COLUMNS = ("division", "customer_no", "name", "address_line1", "address_line2", "city", "state",
                    "zip_code", "phone", "email", "status", "credit_card_guid", "stamp", "user_updated")
CARD_COLUMNS = ("division", "customer_no", "credit_card_guid", "card_type", "last4", "expiration_year",
                "expiration_month", "cardholder_name", "avs_address_line1", "avs_address_line2", "avs_city",
                "avs_state", "avs_zip_code")
PAYMENT_TYPES = {"VISA": "VISA", "MASTERCARD": "MC", "AMEX": "AMEX", "DISCOVER": "DISC"}


def profile(vault_id: str, name: str, *, email: str = "", zip_code: str = "99201", street: str = "1 Main St",
            city: str = "Spokane", state: str = "WA", phone: str = "", brand: str = "VISA", last4: str = "1111",
            month: int = 7, year: int = 2029) -> dict:
    return dict(customer_id=vault_id, billing_name=name, billing_address1=street, billing_address2="",
                billing_city=city, billing_state=state, billing_zip=zip_code, phone=phone, email=email,
                card_brand=brand, card_last4=last4, card_expiration_month=month, card_expiration_year=year)


def customer(customer_no: str, name: str, *, email: str = "", zip_code: str = "99201", street: str = "1 Main St",
             city: str = "Spokane", state: str = "WA", phone: str = "", status: str = "A", default: str = "",
             stamp: str = "2026-03-01 09:00", user: str = "CLERK", division: str = "01") -> dict:
    return dict(division=division, customer_no=customer_no, name=name, address_line1=street, address_line2="",
                city=city, state=state, zip_code=zip_code, phone=phone, email=email, status=status,
                credit_card_guid=default, stamp=pd.Timestamp(stamp), user_updated=user)


def card(customer_no: str, guid: str, *, last4: str = "1111", year: str = "2029", month: str = "07",
         card_type: str = "4", holder: str = "", division: str = "01") -> dict:
    return dict(division=division, customer_no=customer_no, credit_card_guid=guid, card_type=card_type, last4=last4,
                expiration_year=year, expiration_month=month, cardholder_name=holder, avs_address_line1="",
                avs_address_line2="", avs_city="", avs_state="", avs_zip_code="")


def inputs(profiles: list[dict], customers: list[dict], cards: list[dict] = (),
           links: dict[str, str] | None = None) -> SyncInputs:
    vault = pd.DataFrame(profiles, columns=list(VAULT_COLUMNS))
    vault["business_date"] = date(2026, 3, 2)
    operator = pd.DataFrame([[v, *t.split("-", 1)] for v, t in (links or {}).items()],
                            columns=["vault_id", "division", "customer_no"])
    return SyncInputs(vault=vault, customers=pd.DataFrame(customers, columns=list(CUSTOMER_COLUMNS)),
                      cards=pd.DataFrame(list(cards), columns=list(CARD_COLUMNS)), operator_links=operator)
