"""Customer sync assets (group `customers`): vault profiles and Sage customers kept in sync both ways.

Thin: takes the day's `paytrace_customers` (the vault, one export call), reads Sage's customers,
change stamps and cards, and calls customers/sync.py, which plans the differences
(domain/customer_sync) and writes only those, through the Sage writer and the PayTrace client. The
sync's memory (links, vault ids seen, agreed values, Sage's watermark) lives in the warehouse.
Runs before the day's Sage snapshots, so matching sees the cards it saved. With no
`customers.sync` section the assets exist, do nothing and say so. Built from the config in the
`@dg.definitions` function below, so importing this module reads nothing.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.customers import checks
from sage_paytrace_pipeline.customers.snapshot import inputs_from, sage_cards
from sage_paytrace_pipeline.customers.state_store import SyncStateStore
from sage_paytrace_pipeline.customers.sync import SyncOutcome, sync_customers, sync_policy
from sage_paytrace_pipeline.defs.metadata import preview
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, as_of, run_days
from sage_paytrace_pipeline.defs.sage100.resources import SAGE_WRITE_RETRY, Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.domain.customer_sync.linking import EXCEPTION_COLUMNS
from sage_paytrace_pipeline.domain.customer_sync.plan import DECISION_COLUMNS

OWNERS = ["team:accounts-receivable"]
GROUP = "customers"
_SHOWN = 20
PLAN_COLUMNS = ("vault_id", "division", "customer_no", "method", "customer_status", "explanation")
SAGE_COLUMNS = ("change", "division", "customer_no", "vault_id", "field", "value")
PAYTRACE_COLUMNS = ("change", "vault_id", "field", "value")
CHECKS = {
    "one_sage_customer_per_vault_profile": "each vault profile is linked to one Sage customer and its vault id is "
                                           "saved on one customer only",
    "no_duplicate_customers_created": "every customer the sync created exists once in Sage",
    "sage_cards_match_vault": "every card the sync saved is in Sage with the vault's last 4 and expiry; every card "
                              "it removed is gone",
}


def _out(description: str, kinds: set[str]) -> dg.AssetOut:
    return dg.AssetOut(group_name=GROUP, kinds=kinds, owners=OWNERS, tags={"domain": "customers", "pii": "masked"},
                       metadata={"partition_expr": "business_date"}, description=description, is_required=True)


def _dated(frame: pd.DataFrame, columns, day: date) -> pd.DataFrame:
    frame = frame.loc[:, list(columns)].astype(object).astype("string")
    frame.insert(0, "business_date", day)
    return frame.reset_index(drop=True)


def sync_customer_records(  # noqa: PLR0917 - Dagster passes the context, resources and input by name
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
    paytrace: PayTraceResource, warehouse: DuckDBResource, paytrace_customers: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Plan the day's customer sync and write its differences to Sage and PayTrace.

    The sync brings both sides to their current state, so a range run syncs once, as of its last day
    (the rows are dated that day): replaying older days' vault would only undo newer changes."""
    days = run_days(context)
    day = days[-1]
    paytrace_customers = as_of(paytrace_customers, day)
    config = settings.config()
    if config.customers.sync is None:
        yield from _flow_off(day)
        return
    reader = sage100.reader()
    vault = paytrace_customers.drop(columns=["business_date"], errors="ignore")
    with warehouse.get_connection() as connection:
        outcome = sync_customers(read=lambda: inputs_from(vault, reader, config.customer_links),
                                 store=SyncStateStore(connection), policy=sync_policy(config),
                                 writer=sage100.open_writer(), client=paytrace.get_client(),
                                 terms_code=config.customers.terms_code)
    plan = outcome.plan
    yield dg.Output(_dated(plan.links, PLAN_COLUMNS, day), output_name="customer_sync_plan",
                    metadata=_plan_metadata(outcome))
    in_sage = {name: count for name, count in outcome.written.items() if not name.startswith("paytrace")}
    in_paytrace = {name: count for name, count in outcome.written.items() if name.startswith("paytrace")}
    yield dg.Output(_dated(sage_changes(outcome), SAGE_COLUMNS, day), output_name="sage_customer_updates",
                    metadata=in_sage)
    yield dg.Output(_dated(paytrace_changes(outcome), PAYTRACE_COLUMNS, day), output_name="paytrace_customer_updates",
                    metadata=in_paytrace)
    yield dg.Output(_dated(plan.decisions, DECISION_COLUMNS, day), output_name="customer_sync_decisions",
                    metadata={"decisions": len(plan.decisions), "by_decision": dg.MetadataValue.json(
                        plan.decisions["decision"].value_counts().to_dict())})
    exceptions = outcome.exceptions
    yield dg.Output(_dated(exceptions, EXCEPTION_COLUMNS, day), output_name="customer_sync_exceptions",
                    metadata={"exceptions": len(exceptions), "by_kind": dg.MetadataValue.json(
                        exceptions["kind"].value_counts().to_dict())})
    cards = sage_cards(reader)
    yield _check("one_sage_customer_per_vault_profile", checks.one_sage_customer_per_vault_profile(plan, cards))
    yield _check("no_duplicate_customers_created",
                 checks.no_duplicate_customers_created(plan, outcome.created_references, reader))
    yield _check("sage_cards_match_vault", checks.sage_cards_match_vault(plan, cards, vault))


def sage_changes(outcome: SyncOutcome) -> pd.DataFrame:
    """What the run wrote (or tried to write) to Sage, one row per change."""
    plan = outcome.plan
    frames = [
        plan.sage_updates.assign(change="customer_field", vault_id=""),
        plan.card_upserts.assign(change="card_" + plan.card_upserts["change"].astype(str), vault_id=plan.card_upserts[
            "credit_card_guid"], field="card", value=plan.card_upserts["card_brand"].astype(str) + " "
            + plan.card_upserts["last4"].astype(str) + " " + plan.card_upserts["expiration_month"].astype(str) + "/"
            + plan.card_upserts["expiration_year"].astype(str)),
        plan.card_deletes.assign(change="card_removed", vault_id=plan.card_deletes["credit_card_guid"], field="card",
                                 value=plan.card_deletes["reason"]),
        plan.default_cards.assign(change="default_card", vault_id=plan.default_cards["credit_card_guid"],
                                  field="CreditCardGUID", value=plan.default_cards["credit_card_guid"]),
    ]
    return pd.concat([frame.loc[:, list(SAGE_COLUMNS)] for frame in frames], ignore_index=True)


def paytrace_changes(outcome: SyncOutcome) -> pd.DataFrame:
    plan = outcome.plan
    deletes = plan.profile_deletes.assign(change="profile_deleted", field="", value=plan.profile_deletes["reason"])
    return pd.concat([plan.paytrace_updates.assign(change="profile_field").loc[:, list(PAYTRACE_COLUMNS)],
                      deletes.loc[:, list(PAYTRACE_COLUMNS)]], ignore_index=True)


def _plan_metadata(outcome: SyncOutcome) -> dict:
    return {**outcome.plan.counts(), "written": dg.MetadataValue.json(outcome.written),
            "by_method": dg.MetadataValue.json(outcome.plan.links["method"].value_counts().to_dict()),
            "preview": preview(outcome.plan.links, ["vault_id", "division", "customer_no", "method"])}


def _check(name: str, outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key="customer_sync_plan", passed=outcome.passed, severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{len(outcome.failing)} of {outcome.checked} failing" if outcome.failing
                     else f"all {outcome.checked} as expected"),
        metadata={"checked": outcome.checked, "failing": len(outcome.failing),
                  "failing_ids": dg.MetadataValue.json(outcome.failing[:_SHOWN])})


def _flow_off(day: date) -> Iterator[dg.Output | dg.AssetCheckResult]:
    off = {"flow": "off: no customers.sync section in the config; vault profiles are only read for matching"}
    for name, columns in (("customer_sync_plan", PLAN_COLUMNS), ("sage_customer_updates", SAGE_COLUMNS),
                          ("paytrace_customer_updates", PAYTRACE_COLUMNS), ("customer_sync_decisions",
                                                                            DECISION_COLUMNS),
                          ("customer_sync_exceptions", EXCEPTION_COLUMNS)):
        empty = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
        yield dg.Output(_dated(empty, columns, day), output_name=name, metadata=off)
    for name in CHECKS:
        yield _check(name, checks.CheckOutcome(0, []))


def build_customer_sync_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    sync = dg.multi_asset(
        outs={
            "customer_sync_plan": _out("Who each PayTrace vault profile is in Sage (link, method, customer status): "
                                       "the sync plan's links; counts of every planned write in the metadata.",
                                       {"python", "duckdb"}),
            "sage_customer_updates": _out("What the sync wrote to Sage: billing fields, saved cards (vault id, brand, "
                                          "last 4, expiry), removed cards, default cards.",
                                          {"python", "duckdb", "sage"}),
            "paytrace_customer_updates": _out("What the sync wrote to PayTrace: profile fields (customer/update) and "
                                              "deleted profiles.", {"python", "duckdb"}),
            "customer_sync_decisions": _out("Each billing field that changed or was written: Sage's, PayTrace's and "
                                            "the last agreed value, and the decision (sage, paytrace, sage_wins, "
                                            "paytrace_wins, exception).", {"python", "duckdb"}),
            "customer_sync_exceptions": _out("Profiles the sync could not link or write (ambiguous customer, "
                                             "conflict, inactive customer, refused write), with the fix for each.",
                                             {"python", "duckdb"}),
        },
        ins={"paytrace_customers": dg.AssetIn("paytrace_customers")},
        partitions_def=business_day_partitions(config),
        backfill_policy=BACKFILL_POLICY,
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        can_subset=False,
        check_specs=[dg.AssetCheckSpec(name, asset="customer_sync_plan", description=description)
                     for name, description in CHECKS.items()],
    )(fails_fast_on_outage(sync_customer_records))
    return [sync]


@dg.definitions
def customer_sync_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_customer_sync_assets(load_time_config())))
