"""The demo month's customer edits in Sage (issue 15), made halfway through the month: a clerk edits
two customers whose vault profiles are linked (another UserUpdatedKey than the pipeline's, stamped
by the clerk's clock). The vault changes of the month (a card renewed, a card replaced, a second
profile for one person, a profile deleted) come from the activity generator through PayTrace's v1
customer API (sandbox/paytrace/generator.py). The daily runs after it sync both ways; the summary's
"Customers:" line reports what they wrote.
"""

from __future__ import annotations

from datetime import datetime

from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

CLERK_EDITS = ({"city": "Walla Walla", "phone": "(509) 555-0111"}, {"address_line1": "1200 Harbor Way Ste 5"})


def change_customers(sage_database: str, base_url: str, *, username: str, password: str,
                     clerk_clock: datetime) -> dict[str, int]:
    """The clerk's edits, on customers whose cards are saved in Sage under a vault id the vault still has
    (picked in vault-id order)."""
    reader = Sage100Reader.for_sqlite(sage_database)
    with PayTraceClient(base_url, username=username, password=password) as client:
        saved = {card.credit_card_guid: card for card in reader.customer_cards()}
        linked = sorted((p for p in client.export_customers() if p.customer_id in saved and p.card),
                        key=lambda p: p.customer_id)
    if len(linked) < len(CLERK_EDITS):
        return {}
    clerk = DemoCompanyWriter(sage_database, user="CLERK", clock=lambda: clerk_clock)
    for profile, edit in zip(linked, CLERK_EDITS, strict=False):
        card = saved[profile.customer_id]
        clerk.update_customer_billing(CustomerBillingUpdate(
            reference="clerk edit", division=card.division, customer_no=card.customer_no, **edit))
    return {"sage_edits": len(CLERK_EDITS)}
