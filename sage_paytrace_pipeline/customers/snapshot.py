"""What the sync reads, as the frames domain/customer_sync expects: the vault (one export call),
Sage's customers with their change stamps, and Sage's saved cards. Card data is masked throughout:
the vault frame keeps brand, last 4 and expiry only."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncInputs
from sage_paytrace_pipeline.domain.customer_sync.fields import FIELDS
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.frames import vault_customers_frame
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

CUSTOMER_COLUMNS = ("division", "customer_no", *(f.sage_column for f in FIELDS), "status", "credit_card_guid",
                    "stamp", "user_updated")
CARD_COLUMNS = ("division", "customer_no", "credit_card_guid", "card_type", "last4", "expiration_year",
                "expiration_month", "cardholder_name", "avs_address_line1", "avs_address_line2", "avs_city",
                "avs_state", "avs_zip_code")


def sage_stamp(day: date | None, decimal_hours: str) -> pd.Timestamp | None:
    """AR_Customer's date + decimal-hour time as one moment on Sage's own clock (no zone: never
    compared with any other clock)."""
    if day is None:
        return None
    try:
        hours = float(decimal_hours or 0)
    except ValueError:
        hours = 0.0
    return pd.Timestamp(day) + pd.Timedelta(seconds=round(hours * 3600))


def sage_customers(reader: Sage100Reader) -> pd.DataFrame:
    stamps = {(s.division, s.customer_no): s for s in reader.customer_stamps()}
    rows = []
    for customer in reader.customers():
        stamp = stamps.get(customer.key)
        when = None
        if stamp is not None:
            when = (sage_stamp(stamp.date_updated, stamp.time_updated) if stamp.date_updated
                    else sage_stamp(stamp.date_created, stamp.time_created))
        rows.append([*(getattr(customer, column) for column in CUSTOMER_COLUMNS[:-2]), when,
                     stamp.user_updated if stamp else ""])
    frame = pd.DataFrame(rows, columns=list(CUSTOMER_COLUMNS)).astype(object)
    frame["stamp"] = pd.to_datetime(frame["stamp"])
    return frame


def sage_cards(reader: Sage100Reader) -> pd.DataFrame:
    rows = [[getattr(card, column) for column in CARD_COLUMNS] for card in reader.customer_cards()]
    return pd.DataFrame(rows, columns=list(CARD_COLUMNS)).astype(object)


def vault(client: PayTraceClient, business_date: date) -> pd.DataFrame:
    """The whole vault in one export call, brands known (the client asks for the BIN)."""
    return vault_customers_frame(client.export_customers(), business_date)


def operator_links_frame(operator_links: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([[vault_id, *target.split("-", 1)] for vault_id, target in operator_links.items()],
                        columns=["vault_id", "division", "customer_no"]).astype(object)


def inputs_from(vault_frame: pd.DataFrame, reader: Sage100Reader, operator_links: dict[str, str]) -> SyncInputs:
    """The sync's inputs around a vault frame already read (the daily job's `paytrace_customers`)."""
    return SyncInputs(vault=vault_frame, customers=sage_customers(reader), cards=sage_cards(reader),
                      operator_links=operator_links_frame(operator_links))


def read_inputs(client: PayTraceClient, reader: Sage100Reader, operator_links: dict[str, str],
                business_date: date) -> SyncInputs:
    return inputs_from(vault(client, business_date), reader, operator_links)
