"""An operator's link of a PayTrace payer (vault customer id) to a Sage customer, checked in Sage.

The links live in the config's `customer_links` (config.add_customer_link), which matching reads on
every run; `sage-paytrace link add` and the console both link through `link_payer`, so the rules
(the number's form, an existing and active customer, no silent replacement) are the same.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from sage_paytrace_pipeline.config import add_customer_link, load_config
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

CUSTOMER_NUMBER = re.compile(r"\d{2}-[A-Z0-9]{1,20}")


class LinkRefused(ValueError):
    """A link not made, with why and what to do (nothing was changed)."""


@dataclass(frozen=True)
class Link:
    vault_id: str
    customer: str  # DIVISION-CUSTOMERNO
    name: str  # the Sage customer's name
    previous: str | None  # the customer the vault id was linked to before, if another


def checked_customer(reader: Sage100Reader, target: str) -> tuple[str, str]:
    """The target as DIVISION-CUSTOMERNO and the customer's name; refused unless it exists and is active."""
    target = target.strip().upper()
    if not CUSTOMER_NUMBER.fullmatch(target):
        raise LinkRefused(f"{target!r}: link to a Sage customer as DIVISION-CUSTOMERNO like 01-BAYV0067")
    division, _, customer_no = target.partition("-")
    customer = reader.customer(division, customer_no)
    where = f"Sage customer {target}"
    if customer is None:
        raise LinkRefused(f"{where} does not exist in division {division} of SAGE100_DATABASE; "
                          "nothing linked (check the number in Sage: Customer Maintenance)")
    if customer.status != "A":
        raise LinkRefused(f"{where} ({customer.name}) is not active (status {customer.status}); "
                          "nothing linked (link an active customer, or activate it in Sage first)")
    return target, customer.name


def link_payer(config_path: str | os.PathLike, reader: Sage100Reader, vault_id: str, target: str, *,
               replace: bool = False) -> Link:
    """Check the customer in Sage, then record the link in the config (validated, atomically)."""
    vault_id = vault_id.strip()
    customer, name = checked_customer(reader, target)
    existing = load_config(config_path).customer_links.get(vault_id)
    if existing is not None and existing != customer and not replace:
        raise LinkRefused(f"{vault_id} is already linked to {existing}; pass --replace to link it to {customer} "
                          "instead (nothing changed)")
    add_customer_link(config_path, vault_id, customer, replace=replace)
    return Link(vault_id, customer, name, existing if existing != customer else None)
