"""The billing fields a Sage customer and a PayTrace vault profile share, and how values compare.

Each side's value is cleaned the same way before comparing (text, trimmed, missing -> "", cut to
Sage's column length, state upper-cased), so a value Sage must shorten is not seen as a difference
on every run. An empty value is "nothing to say", never a change to copy: the sync never blanks a field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SyncField:
    name: str  # the sync's name; also the CustomerBillingUpdate field
    vault_column: str  # in the paytrace_customers frame
    sage_column: str  # in the Sage customers frame
    length: int  # Sage's AR_Customer column length
    upper: bool = False
    paytrace_wire: tuple[str, ...] = ()  # where customer/update takes it: ("billing_address", "city") or ("email",)


FIELDS: tuple[SyncField, ...] = (
    SyncField("name", "billing_name", "name", 50, paytrace_wire=("billing_address", "name")),
    SyncField("address_line1", "billing_address1", "address_line1", 40,
              paytrace_wire=("billing_address", "street_address")),
    SyncField("address_line2", "billing_address2", "address_line2", 40,
              paytrace_wire=("billing_address", "street_address2")),
    SyncField("city", "billing_city", "city", 30, paytrace_wire=("billing_address", "city")),
    SyncField("state", "billing_state", "state", 2, upper=True, paytrace_wire=("billing_address", "state")),
    SyncField("zip_code", "billing_zip", "zip_code", 10, paytrace_wire=("billing_address", "zip")),
    SyncField("phone", "phone", "phone", 20, paytrace_wire=("phone",)),
    SyncField("email", "email", "email", 250, paytrace_wire=("email",)),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
BY_NAME = {f.name: f for f in FIELDS}


def clean(values: pd.Series | np.ndarray, field: SyncField) -> np.ndarray:
    """The comparable form of a column's values (object array of str)."""
    series = pd.Series(values, dtype=object).fillna("").astype(str).str.strip().str[: field.length].str.strip()
    if field.upper:
        series = series.str.upper()
    return series.to_numpy(dtype=object)


def text(values: pd.Series) -> pd.Series:
    """A text column with missing values as "" and no surrounding blanks."""
    return values.astype(object).where(values.notna(), "").astype(str).str.strip()
