"""The `disputes` assets materialized with real resources: a demo company, a DuckDB warehouse, and the
deadline alerts delivered to a local Slack-style webhook receiver, once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.defs.disputes.assets import build_dispute_assets
from sage_paytrace_pipeline.defs.disputes.automation import build_dispute_automation, dispute_report_sensor
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import CONFIG_VARIABLE, PipelineSettings
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.defs.alerts.receivers import webhook_receiver
from sage_paytrace_pipeline_tests.domain.disputes.samples import report

ZONE = "America/Los_Angeles"


def _day(offset: int) -> str:
    return (datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=offset)).strftime("%m/%d/%Y")


def _rows() -> tuple[str, ...]:
    # C1 is due in 3 days (warned now), C2 in 30 (announced only), C3 is won (closed: nothing).
    return (
        f"C1,,Chargeback,{_day(-2)},VI,13.1,Not received,120.00,120.00,{_day(-20)},402155XXXXXX1111,A1,,,"
        f"{_day(10)},{_day(3)},15.00",
        f"C2,,Retrieval,{_day(-1)},MC,4853,Not as described,75.00,75.00,{_day(-15)},540011XXXXXX2222,,,,,{_day(30)},",
        f"C3,,Chargeback,{_day(-9)},VI,10.4,Fraud,40.00,40.00,{_day(-25)},402155XXXXXX3333,,,,,{_day(5)},",
        f"C3,,Won,{_day(-1)},VI,10.4,Fraud,40.00,40.00,{_day(-25)},402155XXXXXX3333,,,,,,",
    )


@pytest.fixture
def world(tmp_path, monkeypatch):
    company = tmp_path / "company.db"
    create_demo_company(company, seed=3, customers=10, today=date(2026, 3, 2))
    (tmp_path / "dispute_reports").mkdir()
    (tmp_path / "dispute_reports" / "november.csv").write_bytes(report(*_rows()))
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({
        "merchant": {"time_zone": ZONE},
        "alerts": {"slack": {}},
        "disputes": {"chargeback_account": "1250-00", "warn_days_before_due": 5},
    }))
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    return config_path, company, warehouse


def _materialize(config_path, company, warehouse) -> dg.ExecuteInProcessResult:
    return dg.materialize(build_dispute_assets(load_config(config_path)), resources={
        "settings": PipelineSettings(config_path=str(config_path), check_environment=False),
        "sage100": Sage100Resource(database=str(company)),
        "warehouse": DuckDBResource(database=str(warehouse)),
    })


def test_cases_posted_and_deadline_alerts_delivered_once(world, monkeypatch):
    config_path, company, warehouse = world
    with webhook_receiver("/services/T0/B0/SECRET") as slack:
        monkeypatch.setenv("SAGE_PAYTRACE_SLACK_WEBHOOK_URL", slack.url)
        first = _materialize(config_path, company, warehouse)
        second = _materialize(config_path, company, warehouse)
    assert first.success and second.success
    texts = [post["json"]["text"] for post in slack.posts]
    assert len(texts) == 3  # once each, never again on the second run
    assert any("New dispute case C1" in t for t in texts) and any("New dispute case C2" in t for t in texts)
    (warning,) = [t for t in texts if "Dispute case C1 due in 3 days" in t]
    assert "What to send: invoice and proof of delivery" in warning
    cases = first.output_for_node("dispute_assets", "dispute_cases").set_index("case_number")
    assert cases.loc["C3", "status"] == "won" and cases.loc["C1", "status"] == "open"
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks == {"dispute_entries_balance": True, "no_case_posted_twice": True,
                      "every_chargeback_debit_has_a_case": True}
    log = second.output_for_node("dispute_assets", "dispute_postings")
    assert sorted(log["reference"]) == ["PT-DC1-CB", "PT-DC3-CB", "PT-DC3-WN"]
    connection = duckdb.connect(str(warehouse))
    try:
        sent = connection.execute("SELECT case_number, kind, channel FROM pipeline.dispute_alerts_sent "
                                  "ORDER BY case_number, kind").fetchall()
    finally:
        connection.close()
    assert sent == [("C1", "due_soon", "slack"), ("C1", "new_case", "slack"), ("C2", "new_case", "slack")]


def test_without_the_section_nothing_runs_and_there_is_no_sensor(tmp_path):
    config_path = tmp_path / "config.yaml"
    config_path.write_text("{}\n")
    assert build_dispute_automation(load_config(config_path)).sensors in (None, [], ())


def test_report_sensor_asks_one_run_per_new_file(world, monkeypatch):
    config_path, _, _ = world
    monkeypatch.setenv(CONFIG_VARIABLE, str(config_path))
    context = dg.build_sensor_context()
    first = dispute_report_sensor(context)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    again = dispute_report_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)
    (config_path.parent / "dispute_reports" / "copy.csv").write_bytes(report(*_rows()))  # same content
    assert isinstance(dispute_report_sensor(dg.build_sensor_context(cursor=first.cursor)), dg.SkipReason)
    assert pd.notna(first.cursor)


def test_under_a_conversion_the_assets_book_the_case_in_the_sage_currency_at_the_sales_recorded_rate(tmp_path):
    """A CAD company: C1's sale was posted at its day's rate (the receivables posting log recorded it); the case
    is booked in CAD, the sale's money at that rate, the processor's at the chargeback day's (the rates file)."""
    from decimal import Decimal

    from sage_paytrace_pipeline.domain.currency import convert_cents
    from sage_paytrace_pipeline.receivables.posting_log import Intent, PostingLog

    today = datetime.now(ZoneInfo(ZONE)).date()
    sale_day, case_day = today - timedelta(days=20), today - timedelta(days=2)
    sale_rate, case_rate = Decimal("1.3517"), Decimal("1.3791")
    company = tmp_path / "company.db"
    create_demo_company(company, seed=3, customers=10, today=date(2026, 3, 2))
    (tmp_path / "dispute_reports").mkdir()
    (tmp_path / "dispute_reports" / "november.csv").write_bytes(report(_rows()[0]))  # C1: 120.00 + 15.00 fee
    (tmp_path / "rates.csv").write_text(f"date,rate\n{sale_day},{sale_rate}\n{case_day},{case_rate}\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({
        "merchant": {"time_zone": ZONE},
        "currency": {"paytrace": "USD", "sage": "CAD", "rates_file": "rates.csv", "max_rate_age_days": 0,
                     "exchange_difference_account": "7950-00"},
        "disputes": {"chargeback_account": "1250-00"},
    }))
    warehouse = tmp_path / "warehouse.duckdb"
    sage_cents = convert_cents(12_000, sale_rate)
    with duckdb.connect(str(warehouse)) as connection:
        sales = pd.DataFrame({"business_date": [sale_day], "transaction_id": [901], "transaction_type": ["SALE"],  # noqa: F841
                              "status": ["SETTLED"], "amount_cents": [12_000], "card_last4": ["1111"],
                              "approval_code": ["A1"], "invoice_id": [""]})
        connection.execute("CREATE SCHEMA pipeline")
        connection.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM sales")
        log = PostingLog(connection, "receivables")
        log.record_intents([Intent(
            transaction_id=901, business_date=sale_day, division="01", customer_no="ABF", amount_cents=sage_cents,
            payment_type="VISA", payload_sha256="x", link_json="{}", applications_json=(
                f'[{{"invoice_no": "1", "amount_cents": {sage_cents}, "paytrace_amount_cents": 12000, '
                f'"fx_rate": "{sale_rate}"}}]'))])
        log.record_confirmed(None, 901, deposit_no="1", entry_no="1", found_in_sage=False)

    result = _materialize(config_path, company, warehouse)

    assert result.success
    exceptions = result.output_for_node("dispute_assets", "dispute_exceptions")
    assert exceptions.empty, exceptions[["kind", "problem"]].to_string()
    posted = result.output_for_node("dispute_assets", "dispute_postings").set_index("reference")
    chargeback = convert_cents(12_000, case_rate)
    fee = convert_cents(13_500, case_rate) - chargeback
    assert posted.loc["PT-DC1-CB", "amount_cents"] == sage_cents + fee + max(chargeback - sage_cents, 0)
    assert posted.loc["PT-DC1-CB", "paytrace_amount_cents"] == 13_500
    assert posted.loc["PT-DC1-CB", "fx_rate"] == f"{sale_rate}/{case_rate}"
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks.values()), checks
