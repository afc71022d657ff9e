"""The anomaly and suggestion assets in the daily job on a generated sandbox day with crafted payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb

from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline_tests.defs.receivables.conftest import FIRST_DAY, REPO

CRAFTED_DAY = date(2026, 3, 4)
VISA = "4012000098765439"


def rows(world, sql: str) -> list[tuple]:
    with duckdb.connect(str(world.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def checks_of(result) -> dict[str, bool]:
    return {check.check_name: check.passed for check in result.get_asset_check_evaluations()}


def _pay(world, **kwargs):
    with world.client() as client:
        return client.sale_keyed(CardInput(number=VISA, expiration_month=12, expiration_year=2029, csc="999"), **kwargs)


def _crafted_day(world):
    """A duplicate charge on one card, and a payer with a misspelt name of a customer owed exactly the amount."""
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 10, 0))
    reader = world.reader()
    customers = {(c.division, c.customer_no): c for c in reader.customers()}
    invoice = next(i for i in reader.open_invoices() if i.invoice_type == "IN" and i.balance > Decimal("20.00"))
    owner = customers[(invoice.division, invoice.customer_no)]
    buyer = next(c for c in customers.values() if c.customer_no != owner.customer_no and c.zip_code)
    paid_by = Address(name=buyer.name, zip=buyer.zip_code)
    first = _pay(world, amount=Decimal("43.21"), description="order 1", billing_address=paid_by)
    second = _pay(world, amount=Decimal("43.21"), description="order 1", billing_address=paid_by)
    misspelt = owner.name[:-1] + ("x" if owner.name[-1] != "x" else "y")
    stranger = _pay(world, amount=invoice.balance, description="thank you",
                    billing_address=Address(name=misspelt, zip=owner.zip_code))
    return first, second, stranger, owner


def test_a_day_flags_the_duplicate_and_suggests_the_customer(world):
    first, second, stranger, owner = _crafted_day(world)
    result = world.run_day(CRAFTED_DAY)
    assert result.success and all(checks_of(result).values())
    assert {"flags_are_explained", "suggestions_are_ranked"} <= set(checks_of(result))
    flags = rows(world, "SELECT rule, transaction_id, related_ids, explanation FROM pipeline.payment_anomalies "
                        f"WHERE business_date = DATE '{CRAFTED_DAY}'")
    duplicate = [flag for flag in flags if flag[0] == "duplicate_charge"]
    assert [(flag[1], flag[2]) for flag in duplicate] == [(second.transaction_id, str(first.transaction_id))]
    # flags are warnings by default: both charges still post
    receipts = world.reader().receipts_for_transaction_ids([str(first.transaction_id), str(second.transaction_id)])
    assert len(receipts) == 2
    suggestions = rows(world, "SELECT transaction_id, rank, division, customer_no, reasons "
                              "FROM pipeline.exception_suggestions ORDER BY transaction_id, rank")
    top = [s for s in suggestions if s[0] == stranger.transaction_id and s[1] == 1]
    assert top and (top[0][2], top[0][3]) == (owner.division, owner.customer_no)
    assert "name similarity" in top[0][4] and "amount equals" in top[0][4]
    best = dict(rows(world, "SELECT transaction_id, best_suggestion FROM pipeline.receivable_exceptions"))
    assert best[stranger.transaction_id].startswith(f"{owner.division}-{owner.customer_no} (")
    materialized = result.asset_materializations_for_node("payment_anomalies")[0].metadata
    assert materialized["by_rule"].value["duplicate_charge"] == 1


def test_a_generated_day_with_no_planted_anomaly_runs_clean(world):
    result = world.run_day(FIRST_DAY)
    assert result.success and all(checks_of(result).values())
    counted = rows(world, "SELECT count(*) FROM pipeline.payment_anomalies")[0][0]
    payments = rows(world, "SELECT count(*) FROM pipeline.paytrace_transactions")[0][0]
    assert payments > 0 and counted <= max(1, payments // 10)


def test_a_rule_in_hold_from_posting_holds_the_payment_until_cleared(world, monkeypatch, tmp_path):
    config = tmp_path / "hold.yaml"
    config.write_text((REPO / "config" / "example.yaml").read_text()
                      + "\nanomalies:\n  hold_from_posting: [duplicate_charge]\n")
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    first, second, _, _ = _crafted_day(world)
    result = world.run_day(CRAFTED_DAY)
    assert result.success and all(checks_of(result).values())
    assert world.reader().receipt_for_transaction_id(str(second.transaction_id)) is None
    assert world.reader().receipt_for_transaction_id(str(first.transaction_id)) is not None
    held = rows(world, "SELECT transaction_id, action FROM pipeline.receivable_exceptions "
                       "WHERE kind = 'held_by_anomaly'")
    assert [h[0] for h in held] == [second.transaction_id]
    assert f"duplicate_charge:{second.transaction_id}" in held[0][1]

    config.write_text(config.read_text() + f"  cleared: ['duplicate_charge:{second.transaction_id}']\n")
    again = world.run_day(CRAFTED_DAY)
    assert again.success and all(checks_of(again).values())
    assert world.reader().receipt_for_transaction_id(str(second.transaction_id)) is not None
    assert world.run_day(CRAFTED_DAY).success
    assert len(world.reader().receipts_for_transaction_ids([str(second.transaction_id)])) == 1
