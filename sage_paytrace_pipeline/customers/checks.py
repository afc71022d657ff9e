"""What the customer sync's asset checks verify, read back from Sage after a run (pure over frames
and reader results, so the checks and the tests share them)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncPlan
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.udf import UDF_PAYTRACE_REF


@dataclass(frozen=True)
class CheckOutcome:
    checked: int
    failing: list[str]

    @property
    def passed(self) -> bool:
        return not self.failing


def one_sage_customer_per_vault_profile(plan: SyncPlan, cards: pd.DataFrame) -> CheckOutcome:
    """Each vault profile is linked once, and its vault id is saved on at most one Sage customer."""
    twice_linked = plan.links.loc[plan.links["vault_id"].duplicated(), "vault_id"].astype(str).tolist()
    holders = cards.drop_duplicates(["credit_card_guid", "division", "customer_no"])
    on_two = holders.loc[holders["credit_card_guid"].duplicated(), "credit_card_guid"].astype(str).tolist()
    return CheckOutcome(len(plan.links), sorted(set(twice_linked + on_two)))


def no_duplicate_customers_created(plan: SyncPlan, references: list[str], reader: Sage100Reader) -> CheckOutcome:
    """Every customer the sync created (by its reference) exists once in Sage."""
    failing = [reference for reference in references
               if len(reader.rows_where("AR_Customer", UDF_PAYTRACE_REF, reference, ["ARDivisionNo", "CustomerNo"]))
               != 1]
    return CheckOutcome(len(references), failing)


def sage_cards_match_vault(plan: SyncPlan, cards: pd.DataFrame, vault: pd.DataFrame) -> CheckOutcome:
    """Every card the plan saved is in Sage on its customer with the vault's last 4 and expiry."""
    wanted = plan.card_upserts.loc[:, ["credit_card_guid", "division", "customer_no", "last4", "expiration_year",
                                       "expiration_month"]]
    saved = cards.loc[:, ["credit_card_guid", "division", "customer_no", "last4", "expiration_year",
                          "expiration_month"]].astype(str)
    joined = wanted.astype(str).merge(saved, how="left", indicator=True)
    failing = joined.loc[joined["_merge"] == "left_only", "credit_card_guid"].tolist()
    removed = set(plan.card_deletes["credit_card_guid"]) - set(wanted["credit_card_guid"])
    failing += sorted(removed & set(cards["credit_card_guid"]))
    return CheckOutcome(len(wanted) + len(removed), failing)
