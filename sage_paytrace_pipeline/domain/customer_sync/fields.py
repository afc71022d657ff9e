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
    """The comparable form of a column's values (object array of str), computed once per distinct value."""
    return _per_distinct(values, lambda value: _cleaned(value, field.length, field.upper))


def text(values: pd.Series) -> pd.Series:
    """A text column with missing values as "" and no surrounding blanks."""
    return pd.Series(_per_distinct(values, lambda value: str(value).strip()), index=values.index, dtype=object)


def _cleaned(value: object, length: int, upper: bool) -> str:
    cleaned = str(value).strip()[:length].strip()
    return cleaned.upper() if upper else cleaned


def _per_distinct(values: pd.Series | np.ndarray, clean_one) -> np.ndarray:
    """clean_one per distinct value (plain Python per value: pandas' .str chains cost far more per
    element); missing values (None, NaN, NA) become ""."""
    codes, distinct = pd.factorize(pd.Series(values, dtype=object))
    cleaned = np.array([clean_one(value) for value in distinct] + [""], dtype=object)
    return cleaned[codes]
