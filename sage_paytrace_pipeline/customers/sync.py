"""Carry a sync plan out: Sage first (customers, cards, default cards), then PayTrace (profile
updates, deletions), then the state. Each write is idempotent (by customer key, vault id or
reference), so a re-run after a crash re-plans what is still different and writes only that.

A write Sage or PayTrace refuses becomes an exception row naming the customer or profile; the
customer's agreed values are then left as they were, so the next run plans it again. Transient
failures (Sage locked, PayTrace unreachable) propagate: the run fails and is retried as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.customers.state_store import SyncStateStore
from sage_paytrace_pipeline.domain.customer_sync import SyncInputs, SyncPlan, SyncPolicy, SyncState, plan_sync
from sage_paytrace_pipeline.domain.customer_sync.fields import FIELDS
from sage_paytrace_pipeline.domain.customer_sync.linking import EXCEPTION_COLUMNS, exception_frame
from sage_paytrace_pipeline.domain.customer_sync.plan import BASE_COLUMNS, KEY
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import PayTraceCustomerNotFound, PayTraceError, PayTraceTransientError
from sage_paytrace_pipeline.paytrace.models import Address
from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate, CustomerRecord, VaultCard
from sage_paytrace_pipeline.sage100.errors import Sage100UnsupportedOperation, Sage100ValidationError
from sage_paytrace_pipeline.sage100.writer import Sage100Writer, documents_in_one_transaction

WRITE_KINDS = ("customers_created", "sage_customers_updated", "sage_cards_removed", "sage_cards_saved",
               "default_cards_set", "paytrace_profiles_updated", "paytrace_profiles_deleted")
_REFUSALS = (Sage100ValidationError, Sage100UnsupportedOperation, ValidationError)


def sync_policy(config: PipelineConfig) -> SyncPolicy:
    """The domain's policy from the `customers:` section (the sync's own settings under `customers.sync`)."""
    settings = config.customers.sync
    if settings is None:
        raise ValueError("customers.sync is not configured")
    payment_types = {str(brand): kind for brand, kind in config.sage.payment_types.items()}
    return SyncPolicy(conflict=settings.conflict, inactive_customer=settings.inactive_customer,
                      auto_create=config.customers.auto_create, new_customer_division=config.customers.division,
                      integration_user=settings.integration_user, payment_types=payment_types,
                      fields=tuple(settings.fields),
                      matching=config.matching_policy())


@dataclass
class SyncOutcome:
    plan: SyncPlan
    dry_run: bool
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WRITE_KINDS, 0))
    failures: list[pd.DataFrame] = field(default_factory=list)
    failed_customers: set[tuple[str, str]] = field(default_factory=set)
    created_references: list[str] = field(default_factory=list)  # AR_Customer.UDF_PAYTRACE_REF of new customers

    @property
    def exceptions(self) -> pd.DataFrame:
        frames = [frame for frame in (self.plan.exceptions, *self.failures) if len(frame)]
        if not frames:
            return pd.DataFrame({column: pd.Series(dtype=object) for column in EXCEPTION_COLUMNS})
        return pd.concat(frames, ignore_index=True).loc[:, list(EXCEPTION_COLUMNS)]

    def refused(self, kind: str, *, vault_id: str = "", customer: tuple[str, str] | None = None,
                error: Exception) -> None:
        label = "-".join(customer) if customer else ""
        if customer:
            self.failed_customers.add(customer)
        self.failures.append(exception_frame(
            kind, "error", vault_id=[vault_id], customer=[label],
            source_ids=[" ".join(x for x in (f"paytrace:{vault_id}" if vault_id else "",
                                             f"sage:{label}" if label else "") if x)],
            problem=[f"{kind.replace('_', ' ')}: {_reason(error)}"],
            action=["Correct it as the message says (or in Sage / PayTrace by hand); the next sync tries again"]))


def sync_customers(*, read: Callable[[], SyncInputs], store: SyncStateStore, policy: SyncPolicy,
                   writer: Sage100Writer | None, client: PayTraceClient | None, terms_code: str = "",
                   dry_run: bool = False) -> SyncOutcome:
    """One sync: read, plan, (unless dry_run) create customers and re-plan, write, save the state."""
    state = store.load()
    inputs = read()
    plan = plan_sync(inputs, state, policy)
    if dry_run:
        return SyncOutcome(plan, dry_run=True)
    assert writer is not None and client is not None, "a sync that writes needs the Sage writer and the client"
    outcome = SyncOutcome(plan, dry_run=False)
    if len(plan.customers_to_create):
        links = _create_customers(plan, writer, terms_code, outcome)
        state = replace(state, links=pd.concat([state.links, links], ignore_index=True))
        store.save_links(state.links)  # a crash after this finds the customers by their reference anyway
        inputs = read()
        outcome.plan = plan = plan_sync(inputs, state, policy)
    _write_sage(plan, writer, outcome)
    _write_paytrace(plan, inputs.vault, client, outcome)
    store.save(_kept_state(plan, state, outcome))
    return outcome


def _create_customers(plan: SyncPlan, writer: Sage100Writer, terms_code: str, outcome: SyncOutcome) -> pd.DataFrame:
    links = []
    for row in plan.customers_to_create.itertuples(index=False):
        try:
            record = CustomerRecord(reference=row.reference, division=row.division,
                                    name=row.name or "PayTrace customer",
                                    address_line1=row.address_line1, address_line2=row.address_line2, city=row.city,
                                    state=row.state, zip_code=row.zip_code, phone=row.phone, email=row.email,
                                    terms_code=terms_code)
            result = writer.upsert_customer(record)
        except _REFUSALS as error:
            outcome.refused("customer_create_failed", vault_id=row.vault_ids, error=error)
            continue
        outcome.written["customers_created"] += int(result.created)
        outcome.created_references.append(row.reference)
        links += [[vault_id, result.documents["ARDivisionNo"], result.documents["CustomerNo"]]
                  for vault_id in row.vault_ids.split()]
    return pd.DataFrame(links, columns=["vault_id", "division", "customer_no"]).astype(object)


def _write_sage(plan: SyncPlan, writer: Sage100Writer, outcome: SyncOutcome) -> None:
    with documents_in_one_transaction(writer):  # one commit for the run's customer and card changes
        _write_sage_documents(plan, writer, outcome)


def _write_sage_documents(plan: SyncPlan, writer: Sage100Writer, outcome: SyncOutcome) -> None:
    for (division, customer_no), fields in plan.sage_updates.groupby(KEY, sort=True):
        changes = dict(zip(fields["field"], fields["value"]))
        try:
            result = writer.update_customer_billing(CustomerBillingUpdate(
                reference=f"customer-sync {division}-{customer_no}", division=division, customer_no=customer_no,
                **changes))
            outcome.written["sage_customers_updated"] += int(bool(result.updated))
        except _REFUSALS as error:
            outcome.refused("sage_customer_update_failed", customer=(division, customer_no), error=error)
    for row in plan.card_deletes.itertuples(index=False):
        try:
            result = writer.delete_vault_card(row.credit_card_guid)
            outcome.written["sage_cards_removed"] += int(bool(result.updated))
        except _REFUSALS as error:
            outcome.refused("sage_card_remove_failed", vault_id=row.credit_card_guid,
                            customer=(row.division, row.customer_no), error=error)
    for row in plan.card_upserts.itertuples(index=False):
        try:
            result = writer.store_vault_card(VaultCard(
                division=row.division, customer_no=row.customer_no, credit_card_guid=row.credit_card_guid,
                payment_type=row.payment_type, last4=row.last4, expiration_year=int(row.expiration_year),
                expiration_month=int(row.expiration_month), card_type=row.card_brand,
                cardholder_name=row.cardholder_name, avs_address_line1=row.avs_address_line1,
                avs_address_line2=row.avs_address_line2, avs_city=row.avs_city, avs_state=row.avs_state,
                avs_zip_code=row.avs_zip_code))
            outcome.written["sage_cards_saved"] += int(result.created or bool(result.updated))
        except _REFUSALS as error:
            outcome.refused("sage_card_save_failed", vault_id=row.credit_card_guid,
                            customer=(row.division, row.customer_no), error=error)
    for row in plan.default_cards.itertuples(index=False):
        try:
            result = writer.set_default_card(row.division, row.customer_no, row.credit_card_guid)
            outcome.written["default_cards_set"] += int(bool(result.updated))
        except _REFUSALS as error:
            outcome.refused("default_card_failed", vault_id=row.credit_card_guid,
                            customer=(row.division, row.customer_no), error=error)


def _write_paytrace(plan: SyncPlan, vault: pd.DataFrame, client: PayTraceClient, outcome: SyncOutcome) -> None:
    profiles = vault.set_index("customer_id")
    customer_of = plan.links.set_index("vault_id")[KEY]
    for vault_id, fields in plan.paytrace_updates.groupby("vault_id", sort=True):
        changes = dict(zip(fields["field"], fields["value"]))
        current = profiles.loc[vault_id]
        # The whole billing address is sent, its unchanged parts as PayTrace holds them, in case an
        # update replaces the address object instead of merging it.
        address = {f.paytrace_wire[1]: changes.get(f.name, _text(current[f.vault_column]))
                   for f in FIELDS if f.paytrace_wire[0] == "billing_address"}
        try:
            client.update_customer(str(vault_id), billing_address=Address(**address),
                                   email=changes.get("email"), phone=changes.get("phone"))
            outcome.written["paytrace_profiles_updated"] += 1
        except PayTraceTransientError:
            raise
        except PayTraceError as error:
            customer = tuple(customer_of.loc[vault_id]) if vault_id in customer_of.index else None
            outcome.refused("paytrace_profile_update_failed", vault_id=str(vault_id), customer=customer,
                            error=error)
    for row in plan.profile_deletes.itertuples(index=False):
        try:
            client.delete_customer(row.vault_id)
            outcome.written["paytrace_profiles_deleted"] += 1
        except PayTraceCustomerNotFound:
            pass  # deleted already (by someone, or by a run that crashed before saving its state)
        except PayTraceTransientError:
            raise
        except PayTraceError as error:
            outcome.refused("paytrace_profile_delete_failed", vault_id=row.vault_id,
                            customer=(row.division, row.customer_no), error=error)


def _kept_state(plan: SyncPlan, before: SyncState, outcome: SyncOutcome) -> SyncState:
    """The plan's state, except that customers with a refused write keep their earlier agreed values."""
    if not outcome.failed_customers:
        return plan.state
    failed = pd.DataFrame(sorted(outcome.failed_customers), columns=KEY)
    base = plan.state.base.merge(failed, on=KEY, how="left", indicator=True)
    base = base[base["_merge"] == "left_only"].drop(columns="_merge")
    old = before.base.merge(failed, on=KEY, how="inner")
    return replace(plan.state, base=pd.concat([base, old], ignore_index=True).loc[:, list(BASE_COLUMNS)])


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA else str(value)


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                         for item in error.errors(include_url=False))
    return str(error)


