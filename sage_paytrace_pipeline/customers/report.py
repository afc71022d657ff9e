"""The sync plan as text for an operator (`sage-paytrace customers sync --dry-run`): counts, then the
first rows of each kind of write, then the exceptions. Masked card facts only (brand, last 4, expiry)."""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncPlan

SHOWN = 20


def render_plan(plan: SyncPlan, *, written: dict[str, int] | None = None, shown: int = SHOWN) -> str:
    lines = ["Customer sync " + ("(dry run: nothing written)" if written is None else "(written)")]
    lines += [f"  {name.replace('_', ' ')}: {count}" for name, count in plan.counts().items()]
    if written is not None:
        lines += ["Written:"] + [f"  {name.replace('_', ' ')}: {count}" for name, count in written.items()]
    sections = (
        ("Customers to create", plan.customers_to_create, ["reference", "division", "vault_ids", "name", "zip_code"]),
        ("Sage customer fields", plan.sage_updates, ["division", "customer_no", "field", "value"]),
        ("PayTrace profile fields", plan.paytrace_updates, ["vault_id", "field", "value"]),
        ("Sage cards to save", plan.card_upserts, ["division", "customer_no", "credit_card_guid", "card_brand",
                                                   "last4", "expiration_month", "expiration_year", "change"]),
        ("Sage cards to remove", plan.card_deletes, ["division", "customer_no", "credit_card_guid", "reason"]),
        ("Default cards", plan.default_cards, ["division", "customer_no", "credit_card_guid"]),
        ("PayTrace profiles to delete", plan.profile_deletes, ["vault_id", "division", "customer_no", "reason"]),
        ("Decisions", plan.decisions, ["division", "customer_no", "field", "sage_value", "paytrace_value",
                                       "decision", "value"]),
        ("Exceptions", plan.exceptions, ["kind", "severity", "vault_id", "customer", "problem"]),
    )
    for title, frame, columns in sections:
        if len(frame):
            lines.append(f"{title} ({len(frame)}):")
            lines += ["  " + "  ".join(str(value) for value in row) for row in _rows(frame, columns, shown)]
            if len(frame) > shown:
                lines.append(f"  ... and {len(frame) - shown} more")
    return "\n".join(lines) + "\n"


def _rows(frame: pd.DataFrame, columns: list[str], shown: int) -> list[tuple]:
    return list(frame.loc[:, columns].head(shown).fillna("").itertuples(index=False, name=None))
