"""PayTrace records as warehouse rows: one vectorizable DataFrame per export, no card data.

Amounts are integer cents (exact, and a stable column type in DuckDB); timestamps are tz-aware;
`business_date` is the partition column, typed DATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.matching.exceptions import (
    EXCEPTION_COLUMNS,
    TRANSACTION_EXCEPTIONS,
    empty_exceptions,
)
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.paytrace.models import Batch, BrandTotals, Transaction, VaultCustomer
from sage_paytrace_pipeline.paytrace.records import RejectedRecord

TRANSACTION_COLUMNS = {
    "business_date": "object",
    "transaction_id": "int64",
    "transaction_type": "string",
    "status": "string",
    "status_code": "string",
    "batch_number": "Int64",
    "amount_cents": "int64",
    "tax_amount_cents": "Int64",
    "created_at": "datetime64[ns, UTC]",
    "settled_at": "datetime64[ns, UTC]",
    "created_raw": "string",
    "settled_raw": "string",
    "customer_id": "string",
    "invoice_id": "string",
    "description": "string",
    "customer_reference_id": "string",
    "approval_code": "string",
    "approval_message": "string",
    "avs_response": "string",
    "csc_response": "string",
    "card_brand": "string",
    "card_bin": "string",
    "card_last4": "string",
    "card_expiration_month": "Int64",
    "card_expiration_year": "Int64",
    "billing_name": "string",
    "billing_zip": "string",
    "email": "string",
}


def _transaction_columns(transactions: Sequence[Transaction], business_date: date) -> dict[str, list]:
    """The export's values column by column: one list per warehouse column, in `TRANSACTION_COLUMNS` order."""
    cards = [transaction.card for transaction in transactions]
    billing = [transaction.billing_address for transaction in transactions]
    return {
        "business_date": [business_date] * len(transactions),
        "transaction_id": [t.transaction_id for t in transactions],
        "transaction_type": [t.transaction_type for t in transactions],
        "status": [str(t.status.value) for t in transactions],
        "status_code": [t.status_code for t in transactions],
        "batch_number": [t.batch_number for t in transactions],
        "amount_cents": [decimal_to_cents(t.amount) for t in transactions],
        "tax_amount_cents": [decimal_to_cents(t.tax_amount) if t.tax_amount is not None else None
                             for t in transactions],
        "created_at": [t.created_at for t in transactions],
        "settled_at": [t.settled_at for t in transactions],
        "created_raw": [t.created_raw for t in transactions],
        "settled_raw": [t.settled_raw for t in transactions],
        "customer_id": [t.customer_id for t in transactions],
        "invoice_id": [t.invoice_id for t in transactions],
        "description": [t.description for t in transactions],
        "customer_reference_id": [t.customer_reference_id for t in transactions],
        "approval_code": [t.approval_code for t in transactions],
        "approval_message": [t.approval_message for t in transactions],
        "avs_response": [t.avs_response for t in transactions],
        "csc_response": [t.csc_response for t in transactions],
        "card_brand": [card.brand if card else None for card in cards],
        "card_bin": [card.bin if card else None for card in cards],
        "card_last4": [card.last4 if card else None for card in cards],
        "card_expiration_month": [card.expiration_month if card else None for card in cards],
        "card_expiration_year": [card.expiration_year if card else None for card in cards],
        "billing_name": [address.name for address in billing],
        "billing_zip": [address.zip for address in billing],
        "email": [t.email or t.receipt_emailed_to for t in transactions],
    }


def transactions_frame(transactions: Sequence[Transaction], business_date: date) -> pd.DataFrame:
    """The export as typed rows; an empty export still has every column.

    Built from one list per column, each typed once (a frame of row dicts made pandas guess every
    object column's type, datetimes included, before the types below were applied)."""
    columns = _transaction_columns(transactions, business_date)
    frame = pd.DataFrame({name: _typed(values, TRANSACTION_COLUMNS[name]) for name, values in columns.items()})
    return frame.sort_values("transaction_id", ignore_index=True)


def _typed(values: list, dtype: str) -> pd.Series:
    if dtype == "object":
        return pd.Series(values, dtype=object)
    if dtype.startswith("datetime64"):
        return utc_timestamps(values)
    return pd.Series(values, dtype=object).astype(dtype)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo("int64").min  # how datetime64 stores NaT
# datetime64[ns] holds about 1677-09-21 to 2262-04-11; beyond, `pd.to_datetime` decides (it refuses them)
_NS_RANGE = (-(2**63 - 1) // 1000 + 1, (2**63 - 1) // 1000)


def utc_timestamps(values: Sequence[datetime | None]) -> pd.Series:
    """Aware datetimes (None: NaT) as a datetime64[ns, UTC] column, as `pd.to_datetime(values, utc=True)` gives
    it: the instants counted in microseconds since the epoch (exact), not read object by object by pandas."""
    if any(value.utcoffset() is None for value in values if value is not None):  # naive: pandas' own reading
        return _read_by_pandas(values)
    micros = [None if value is None else (value - _EPOCH) // _MICROSECOND for value in values]
    known = [value for value in micros if value is not None]
    if known and not (_NS_RANGE[0] <= min(known) and max(known) <= _NS_RANGE[1]):
        return _read_by_pandas(values)
    stamps = np.array([_NAT if value is None else value for value in micros], dtype="int64")
    nat = stamps == _NAT
    stamps[~nat] *= 1000
    return pd.Series(stamps.view("datetime64[ns]")).dt.tz_localize(UTC)


def _read_by_pandas(values: Sequence[datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True))


VAULT_CUSTOMER_COLUMNS = {
    "business_date": "object",
    "customer_id": "string",
    "billing_name": "string",
    "billing_address1": "string",
    "billing_address2": "string",
    "billing_city": "string",
    "billing_state": "string",
    "billing_zip": "string",
    "phone": "string",
    "email": "string",
    "card_brand": "string",
    "card_last4": "string",
    "card_expiration_month": "Int64",
    "card_expiration_year": "Int64",
    "created_at": "datetime64[ns, UTC]",
}


def vault_customers_frame(customers: Sequence[VaultCustomer], business_date: date) -> pd.DataFrame:
    """The vault as of `business_date`: who each customer id is (billing name and address, phone,
    e-mail), with masked card facts only (brand, last 4, expiry; never the number or the BIN)."""
    rows = [{
        "business_date": business_date,
        "customer_id": customer.customer_id,
        "billing_name": customer.billing_address.name,
        "billing_address1": customer.billing_address.street_address,
        "billing_address2": customer.billing_address.street_address2,
        "billing_city": customer.billing_address.city,
        "billing_state": customer.billing_address.state,
        "billing_zip": customer.billing_address.zip,
        "phone": customer.phone,
        "email": customer.email,
        "card_brand": customer.card.brand if customer.card else None,
        "card_last4": customer.card.last4 if customer.card else None,
        "card_expiration_month": customer.card.expiration_month if customer.card else None,
        "card_expiration_year": customer.card.expiration_year if customer.card else None,
        "created_at": customer.created_at,
    } for customer in customers]
    frame = pd.DataFrame(rows, columns=list(VAULT_CUSTOMER_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame = frame.astype({k: v for k, v in VAULT_CUSTOMER_COLUMNS.items() if k != "created_at" and v != "object"})
    return frame.sort_values("customer_id", ignore_index=True)


BATCH_BRAND_COLUMNS = {
    "business_date": "object",
    "batch_number": "int64",
    "closed_at": "datetime64[ns, UTC]",
    "brand": "string",
    "sales_count": "int64",
    "sales_cents": "int64",
    "refund_count": "int64",
    "refund_cents": "int64",
}


def batch_brands_frame(batches: Sequence[Batch], business_date: date) -> pd.DataFrame:
    """One row per (batch, brand) from PayTrace's batch summaries; a batch without brand totals
    gets one row with its overall counts under brand ALL, so it is never silently dropped."""
    rows = []
    for batch in batches:
        totals = batch.brands or {"ALL": BrandTotals(sales_count=batch.sales_count, sales_amount=batch.sales_amount,
                                                     refund_count=batch.refund_count,
                                                     refund_amount=batch.refund_amount)}
        for brand, brand_totals in sorted(totals.items()):
            rows.append({
                "business_date": business_date, "batch_number": batch.number, "closed_at": batch.created_at,
                "brand": brand, "sales_count": brand_totals.sales_count,
                "sales_cents": decimal_to_cents(brand_totals.sales_amount),
                "refund_count": brand_totals.refund_count, "refund_cents": decimal_to_cents(brand_totals.refund_amount),
            })
    frame = pd.DataFrame(rows, columns=list(BATCH_BRAND_COLUMNS))
    frame["closed_at"] = pd.to_datetime(frame["closed_at"], utc=True)
    frame = frame.astype({k: v for k, v in BATCH_BRAND_COLUMNS.items() if k != "closed_at" and v != "object"})
    return frame.sort_values(["batch_number", "brand"], ignore_index=True)


MALFORMED_RECORD = "malformed_paytrace_record"
DUPLICATE_RECORD = "duplicate_paytrace_record"


def rejected_records_frame(rejected: Sequence[RejectedRecord], business_date: date) -> pd.DataFrame:
    """The export's rejected records as exception rows (the exception contract, card-masked text)."""
    rows = [_rejection_row(record, business_date) for record in rejected]
    if not rows:
        return empty_exceptions()
    return TRANSACTION_EXCEPTIONS.typed(pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS)))


def _rejection_row(record: RejectedRecord, business_date: date) -> dict:
    which = f"transaction {record.transaction_id}" if record.transaction_id is not None else (
        f"record #{record.position + 1} of the export (its transaction id is unusable)")
    source = f"paytrace:{record.transaction_id}" if record.transaction_id is not None else (
        f"paytrace:export {business_date.isoformat()} #{record.position + 1}")
    find = f"transaction {record.transaction_id}" if record.transaction_id is not None else (
        f"the day's transactions in record order (#{record.position + 1})")
    if record.duplicate:
        return {"kind": DUPLICATE_RECORD, "severity": "info" if record.same_as_kept else "warning",
                "transaction_id": record.transaction_id, "source_ids": f"{source} field:{record.field}",
                "problem": f"PayTrace's export for {business_date} lists {which} more than once: {record.problem}",
                "action": f"Compare {find} in PayTrace Virtual Terminal with the loaded record; if the set-aside "
                          "copy is the right one, post it by hand in Sage AR Cash Receipts and tell PayTrace support"}
    return {"kind": MALFORMED_RECORD, "severity": "error", "transaction_id": record.transaction_id,
            "source_ids": f"{source} field:{record.field}",
            "problem": f"PayTrace's export for {business_date} has {which} that cannot be read: {record.field}: "
                       f"{record.problem}; it was not loaded, matched or posted",
            "action": f"Check {find} in PayTrace Virtual Terminal; post it by hand in Sage AR Cash Receipts, or have "
                      "PayTrace correct the record and re-run the day"}
