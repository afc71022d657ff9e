"""The daily job end to end: a business day's payments posted to Sage once, exceptions for the rest."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest
from dagster import DagsterInvalidConfigError

from sage_paytrace_pipeline.defs.settings import ConfigLoadError
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline_tests.defs.receivables.conftest import FIRST_DAY, REPO, SECOND_DAY

REPO_CONFIG = REPO / "config" / "example.yaml"

CRAFTED_DAY = date(2026, 3, 4)
VISA = "4012000098765439"


def warehouse_rows(world, sql: str) -> list[tuple]:
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def checks_of(result) -> dict[str, bool]:
    return {check.check_name: check.passed for check in result.get_asset_check_evaluations()}


def test_a_day_posts_each_approved_payment_once_and_balances_are_right(world):
    before = {(i.customer_no, i.invoice_no, i.invoice_type): i.balance for i in world.reader().open_invoices()}
    result = world.run_day(FIRST_DAY)
    assert result.success
    assert all(checks_of(result).values())
    assert {"applications_sum_to_payment", "no_transaction_posted_twice", "receipts_in_sage_match_log",
            "every_approved_sale_posted_or_excepted"} <= set(checks_of(result))

    approved = warehouse_rows(world, "SELECT transaction_id, amount_cents FROM pipeline.paytrace_transactions "
                                     "WHERE transaction_type IN ('SALE', 'AUTHORIZATION') "
                                     "AND status IN ('PENDING', 'SETTLED')")
    receipts = {r.transaction_id: r for r in world.reader().receipts_for_transaction_ids(str(t) for t, _ in approved)}
    excepted = {row[0] for row in warehouse_rows(world, "SELECT transaction_id FROM pipeline.receivable_exceptions")}
    assert approved and all(str(t) in receipts or t in excepted for t, _ in approved)
    assert all(decimal_to_cents(receipts[str(t)].amount) == cents for t, cents in approved if str(t) in receipts)

    applied = warehouse_rows(world, "SELECT customer_no, invoice_no, invoice_type, sum(amount_cents) "
                                    "FROM pipeline.payment_applications WHERE invoice_type <> 'PP' GROUP BY ALL")
    after = {(i.customer_no, i.invoice_no, i.invoice_type): i.balance for i in world.reader().open_invoices()}
    for customer_no, invoice_no, invoice_type, cents in applied:
        key = (customer_no, invoice_no, invoice_type)
        assert decimal_to_cents(before[key]) - cents == decimal_to_cents(after.get(key, Decimal("0.00")))


def test_running_a_day_again_or_from_both_triggers_changes_nothing_in_sage(world):
    assert world.run_day(FIRST_DAY, trigger="sensor").success
    posted = world.sage_rows()
    again = world.run_day(FIRST_DAY, trigger="schedule")
    assert again.success and all(checks_of(again).values())
    assert world.sage_rows() == posted
    written = again.asset_materializations_for_node("post_cash_receipts")
    metadata = next(m.metadata for m in written if m.asset_key.to_user_string() == "sage_cash_receipts")
    assert metadata["written_this_run"].value == 0 and metadata["receipts"].value > 0
    carried = warehouse_rows(world, "SELECT bool_and(posted_earlier), count(*) FROM pipeline.payment_applications "
                                    f"WHERE business_date = DATE '{FIRST_DAY}'")
    assert carried[0][0] is True and carried[0][1] > 0


def test_a_new_warehouse_finds_receipts_already_in_sage_and_writes_none(world, tmp_path, monkeypatch):
    assert world.run_day(SECOND_DAY).success
    posted = world.sage_rows()
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(tmp_path / "restored.duckdb"))
    result = world.run_day(SECOND_DAY)
    assert result.success and all(checks_of(result).values())
    assert world.sage_rows() == posted
    with duckdb.connect(str(tmp_path / "restored.duckdb"), read_only=True) as connection:
        states = connection.execute("SELECT state, bool_and(found_in_sage), count(*) FROM pipeline.sage_posting_log "
                                    "GROUP BY state").fetchall()
    assert len(states) == 1 and states[0][0] == "confirmed" and states[0][1] is True


def _pay(world, **kwargs):
    with world.client() as client:
        return client.sale_keyed(CardInput(number=VISA, expiration_month=12, expiration_year=2029, csc="999"), **kwargs)


def test_written_invoice_numbers_are_applied_and_unknown_payers_become_exceptions(world):
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 9, 0))
    reader = world.reader()
    customers = {(c.division, c.customer_no): c for c in reader.customers()}
    invoices = [i for i in reader.open_invoices() if i.invoice_type == "IN" and i.balance > Decimal("20.00")]
    partial, whole = invoices[0], next(i for i in invoices[1:] if i.customer_no != invoices[0].customer_no)
    payer = customers[(partial.division, partial.customer_no)]
    half = (partial.balance / 2).quantize(Decimal("0.01"))
    partial_sale = _pay(world, amount=half, invoice_id=f"inv {partial.invoice_no.lstrip('0')}",
                        billing_address=Address(name=payer.name, zip=payer.zip_code))
    whole_sale = _pay(world, amount=whole.balance, description=f"Payment for invoice #{whole.invoice_no}",
                      billing_address=Address(name=customers[(whole.division, whole.customer_no)].name))
    stranger = _pay(world, amount=Decimal("77.70"), description="thanks!",
                    billing_address=Address(name="Nobody We Know", zip="99999"))

    result = world.run_day(CRAFTED_DAY)
    assert result.success and all(checks_of(result).values())
    applied = {(t, i): c for t, i, c in warehouse_rows(
        world, "SELECT transaction_id, invoice_no, amount_cents FROM pipeline.payment_applications")}
    assert applied == {(partial_sale.transaction_id, partial.invoice_no): decimal_to_cents(half),
                       (whole_sale.transaction_id, whole.invoice_no): decimal_to_cents(whole.balance)}
    after = {(i.customer_no, i.invoice_no): i.balance for i in world.reader().open_invoices()}
    assert after[(partial.customer_no, partial.invoice_no)] == partial.balance - half
    assert (whole.customer_no, whole.invoice_no) not in after
    kinds = dict(warehouse_rows(world, "SELECT transaction_id, kind FROM pipeline.receivable_exceptions"))
    assert kinds == {stranger.transaction_id: "unknown_customer"}
    action = warehouse_rows(world, "SELECT action FROM pipeline.receivable_exceptions")[0][0]
    assert "customer" in action.lower()


def failure_text(world, day: date) -> str:
    """What a run that cannot start says: the definitions' config error (a config read as they load),
    Dagster's config error, or the failed step's error."""
    try:
        result = world.run_day(day)
    except (ConfigLoadError, DagsterInvalidConfigError) as error:
        return str(error)
    assert not result.success
    return " ".join(str(event.event_specific_data) for event in result.all_events if event.is_failure)


@pytest.mark.parametrize("missing", ["SAGE100_DATABASE", "PAYTRACE_API_URL", "SAGE_PAYTRACE_CONFIG",
                                     "SAGE_PAYTRACE_WAREHOUSE"])
def test_a_missing_variable_fails_the_run_at_start_naming_it(world, monkeypatch, missing):
    monkeypatch.delenv(missing)
    assert missing in failure_text(world, FIRST_DAY)
    assert world.reader().receipts_for_transaction_ids([f"1000000{n:02d}" for n in range(1, 60)]) == []


def test_a_bad_config_key_fails_the_definitions_or_the_run_naming_the_key(world, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sage:\n  postng: post\n")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(bad))
    assert "sage.postng" in failure_text(world, FIRST_DAY)


def test_with_auto_create_an_unknown_payer_becomes_a_customer_paying_on_account(world, monkeypatch, tmp_path):
    config = tmp_path / "auto.yaml"
    config.write_text(REPO_CONFIG.read_text().replace("auto_create: false", "auto_create: true"))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 9, 0))
    sale = _pay(world, amount=Decimal("77.70"), description="thanks!", email="new.buyer@example.com",
                billing_address=Address(name="Nadia Newbuyer", zip="97201"))
    customers_before = len(world.reader().customers())
    result = world.run_day(CRAFTED_DAY)
    assert result.success and all(checks_of(result).values())
    created = [c for c in world.reader().customers() if c.name == "Nadia Newbuyer"]
    assert len(created) == 1 and len(world.reader().customers()) == customers_before + 1
    receipt = world.reader().receipt_for_transaction_id(str(sale.transaction_id))
    assert receipt.customer_no == created[0].customer_no and receipt.amount == Decimal("77.70")
    assert [(line.invoice_type, line.amount) for line in receipt.lines] == [("PP", Decimal("77.70"))]
    posted = world.sage_rows()
    assert world.run_day(CRAFTED_DAY).success
    assert world.sage_rows() == posted and len(world.reader().customers()) == customers_before + 1
