"""The `customers` group through Dagster: the sync job on a generated merchant, its checks, a second
run writing nothing, the sensor's marks, and the daily job with the sync in it."""

from __future__ import annotations

import dagster as dg
import duckdb

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.customers.sensor import sage_mark, vault_mark
from sage_paytrace_pipeline.sage100.documents import CustomerBillingUpdate
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline_tests.defs.receivables.conftest import FIRST_DAY, REPO


def _sync_on(world, monkeypatch, tmp_path) -> None:
    config = tmp_path / "config.yaml"
    text = (REPO / "config" / "example.yaml").read_text()
    config.write_text(text.replace("customers:\n  auto_create: false", "customers:\n  auto_create: true\n  sync: {}"))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))


def _run(job_name: str) -> dg.ExecuteInProcessResult:
    return defs().resolve_job_def(job_name).execute_in_process(
        partition_key=FIRST_DAY.isoformat(), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _written(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = [m for m in result.asset_materializations_for_node("sync_customer_records")
                         if m.asset_key == dg.AssetKey("customer_sync_plan")]
    return materialization.metadata["written"].value


def test_the_sync_job_links_saves_cards_and_a_second_run_writes_nothing(world, monkeypatch, tmp_path):
    _sync_on(world, monkeypatch, tmp_path)
    first = _run("customer_sync_job")
    assert first.success
    checks = first.get_asset_check_evaluations()
    assert {c.check_name for c in checks} == {"one_sage_customer_per_vault_profile", "no_duplicate_customers_created",
                                              "sage_cards_match_vault"}
    assert all(c.passed for c in checks), [c.description for c in checks if not c.passed]
    vault = {p.customer_id: p for p in world.client().export_customers()}
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        links = dict(connection.execute("SELECT vault_id, customer_no FROM pipeline.customer_sync_links").fetchall())
    assert links and set(links) <= set(vault)
    for card in world.reader().customer_cards():
        if card.credit_card_guid in links:
            profile = vault[card.credit_card_guid]
            assert (card.customer_no, card.last4, int(card.expiration_year)) == (
                links[card.credit_card_guid], profile.card.last4, profile.card.expiration_year)
    second = _run("customer_sync_job")
    assert second.success and set(_written(second).values()) == {0}, _written(second)


def test_the_sensor_marks_ignore_the_integrations_own_edits(world):
    writer = DemoCompanyWriter(world.sage_db)
    customer = world.reader().customers()[0]
    before = sage_mark(world.reader().customer_stamps(), "PAYTRACE")
    writer.update_customer_billing(CustomerBillingUpdate(reference="t", division=customer.division,
                                                         customer_no=customer.customer_no, city="Walla Walla"))
    assert sage_mark(world.reader().customer_stamps(), "PAYTRACE") == before
    DemoCompanyWriter(world.sage_db, user="CLERK").update_customer_billing(CustomerBillingUpdate(
        reference="t", division=customer.division, customer_no=customer.customer_no, city="Pasco"))
    assert sage_mark(world.reader().customer_stamps(), "PAYTRACE") != before
    profiles = world.client().export_customers()
    assert vault_mark(profiles) == vault_mark(list(reversed(profiles)))


def test_the_daily_job_runs_the_sync_before_the_sage_snapshot(world, monkeypatch, tmp_path):
    _sync_on(world, monkeypatch, tmp_path)
    result = world.run_day(FIRST_DAY)
    assert result.success
    order = [event.step_key for event in result.all_events if event.event_type_value == "STEP_SUCCESS"]
    assert order.index("sync_customer_records") < order.index("sage_customer_cards")
