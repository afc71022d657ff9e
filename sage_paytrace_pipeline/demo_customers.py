"""The demo month's customer changes (issue 15), made halfway through the month: a clerk edits two
customers in Sage (another UserUpdatedKey than the pipeline's), and through PayTrace's v1 API one
profile's card is renewed (expiry), one card is replaced, one profile is deleted and one person
gets a second profile. The daily runs after it sync them both ways; the summary's "Customers:"
line reports what they wrote. Only sandbox test card numbers are typed, and only into PayTrace.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr

from sage_paytrace_pipeline.paytrace import CardInput, PayTraceClient
from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

REPLACEMENT_CARD = "5454545454545454"  # sandbox MasterCard
SECOND_CARD = "6011000993026909"  # sandbox Discover
CLERK_EDITS = ({"city": "Walla Walla", "phone": "(509) 555-0111"}, {"address_line1": "1200 Harbor Way Ste 5"})


def _card(number: str, month: int, year: int) -> CardInput:
    return CardInput(number=SecretStr(number), expiration_month=month, expiration_year=year)


def change_customers(sage_database: str, base_url: str, *, username: str, password: str,
                     clerk_clock: datetime) -> dict[str, int]:
    """The changes, on profiles saved in Sage under their vault id (picked in vault-id order)."""
    reader = Sage100Reader.for_sqlite(sage_database)
    with PayTraceClient(base_url, username=username, password=password) as client:
        saved = {card.credit_card_guid: card for card in reader.customer_cards()}
        linked = sorted((p for p in client.export_customers() if p.customer_id in saved and p.card),
                        key=lambda p: p.customer_id)
        if len(linked) < 6:
            return {}
        clerk = DemoCompanyWriter(sage_database, user="CLERK", clock=lambda: clerk_clock)
        for profile, edit in zip(linked[:2], CLERK_EDITS):
            card = saved[profile.customer_id]
            clerk.update_customer_billing(CustomerBillingUpdate(
                reference="clerk edit", division=card.division, customer_no=card.customer_no, **edit))
        renewed = linked[2].card
        month, year = (renewed.expiration_month, renewed.expiration_year) if renewed else (None, None)
        client.update_customer(linked[2].customer_id, expiry=(month or 12, (year or 2030) + 3))
        client.update_customer(linked[3].customer_id, card=_card(REPLACEMENT_CARD, 6, 2031))
        client.delete_customer(linked[4].customer_id)
        person = linked[5]
        client.create_customer(f"{person.customer_id[:24]}-2nd", _card(SECOND_CARD, 9, 2030),
                               billing_address=person.billing_address, email=person.email or None,
                               phone=person.phone or None)
    return {"sage_edits": 2, "expiry_changes": 1, "cards_replaced": 1, "profiles_deleted": 1, "second_profiles": 1}
