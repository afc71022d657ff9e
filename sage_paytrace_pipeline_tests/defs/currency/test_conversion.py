"""Currency conversion end to end: a US-dollar PayTrace merchant, a Canadian-dollar Sage company.

A generated week on the sandboxes with a rates file lacking one day: receipts in CAD applied to the
(CAD) invoices at each business day's rate, with the rate and both amounts recorded; the day without
a rate excepted, then posted exactly once after its rate is added; the settlement entries balanced,
clearing back to zero and the realized exchange difference booked.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.domain.currency import convert_cents
from sage_paytrace_pipeline.domain.money import decimal_to_cents, round_to_cent
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.bank.funding import FundingProfile
from sage_paytrace_pipeline.sandbox.bank.statements import generate_bank_statements, sandbox_batches
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.generator import MerchantProfile, generate_activity
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.conftest import SANDBOX_START
from sage_paytrace_pipeline_tests.defs.receivables.conftest import REPO
from sage_paytrace_pipeline_tests.defs.settlement.test_settlement import clearing_net_by_deposit

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 8)
NO_RATE = date(2026, 3, 4)  # the rates file lacks this day (and max_rate_age_days is 0)
INVOICE_RATE = Decimal("1.3500")  # the CAD invoices were issued at about this rate
pytestmark = pytest.mark.slow


def days(first: date = FIRST, last: date = LAST):
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def rate_of(day: date) -> Decimal:
    """CAD per USD, moving a little every day so deposits are converted at another rate than their sales."""
    return INVOICE_RATE + Decimal(day.toordinal() % 5) / 1000


def write_rates(path, *, without: set[date]) -> None:
    rows = [f"{day.isoformat()},{rate_of(day)}" for day in days(FIRST - timedelta(days=3), LAST + timedelta(days=10))
            if day not in without]
    path.write_text("date,rate\n" + "\n".join(rows) + "\n")


def cad_config() -> str:
    """The example config with PayTrace's refunds recorded in Sage (Sage-initiated requests off: they do
    not convert yet), a USD merchant and a CAD company."""
    text = (REPO / "config" / "example.yaml").read_text()
    assert "request_marker: card_payment_type" in text
    text = text.replace("request_marker: card_payment_type", "request_marker: none")
    return text + ("\ncurrency:\n  paytrace: USD\n  sage: CAD\n  rates_file: rates.csv\n  max_rate_age_days: 0\n"
                   "  exchange_difference_account: \"7950-00\"\n")


def rows(path, sql):
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def sage_rows(path, sql):
    with sqlite3.connect(path / "sage.sqlite3") as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    path = tmp_path_factory.mktemp("currency")
    app = create_app(path / "paytrace.sqlite3")
    engine = app.state.engine
    engine.set_clock(at=SANDBOX_START)
    plan, summary = generate_activity(FIRST, LAST, seed=11, profile=MerchantProfile(customers=10,
                                                                                   payments_per_weekday=10,
                                                                                   payments_per_weekend_day=3))
    assert apply_plan(engine, plan).failures == []
    in_cad = summary.model_copy(update={"invoices": [
        invoice.model_copy(update={"amount": round_to_cent(invoice.amount * INVOICE_RATE)})
        for invoice in summary.invoices]})
    create_demo_company(path / "sage.sqlite3", seed=11, activity=in_cad, customers=30)
    (path / "config.yaml").write_text(cad_config())
    write_rates(path / "rates.csv", without={NO_RATE})
    generate_bank_statements(sandbox_batches(engine), FundingProfile(seed=11), path / "bank", formats=("bai2",))
    (path / "bank_statements").mkdir()
    for statement in (path / "bank" / "bai2").iterdir():
        shutil.copy(statement, path / "bank_statements" / statement.name)
    with serve_in_thread(app) as base_url, pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {
            "PAYTRACE_API_URL": base_url, "PAYTRACE_USERNAME": DEFAULT_USERNAME, "PAYTRACE_PASSWORD": DEFAULT_PASSWORD,
            "SAGE100_DATABASE": str(path / "sage.sqlite3"), "SAGE_PAYTRACE_WAREHOUSE": str(path / "warehouse.duckdb"),
            "SAGE_PAYTRACE_CONFIG": str(path / "config.yaml"),
        }.items():
            monkeypatch.setenv(name, value)
        definitions = defs()
        with dg.DagsterInstance.ephemeral() as instance:
            def run(job: str, day: date | None = None) -> dg.ExecuteInProcessResult:
                result = definitions.resolve_job_def(job).execute_in_process(
                    partition_key=day.isoformat() if day else None, instance=instance, raise_on_error=False)
                assert result.success, job
                return result

            for day in days():
                run("paytrace_daily_job", day)
            run("bank_statements_job")
            first = [run("settlement_daily_job", day) for day in days()]
            before = {
                "exceptions": rows(path, "SELECT transaction_id, problem, action FROM pipeline.receivable_exceptions "
                                         f"WHERE kind = 'missing_exchange_rate' AND business_date = '{NO_RATE}'"),
                "settlement": rows(path, "SELECT kind, problem FROM pipeline.settlement_exceptions "
                                         "WHERE kind = 'missing_exchange_rate'"),
                "posted": rows(path, "SELECT count(*) FROM pipeline.sage_posting_log "
                                     f"WHERE business_date = '{NO_RATE}'")[0][0],
            }
            write_rates(path / "rates.csv", without=set())  # the missing rate is added
            run("paytrace_daily_job", NO_RATE)
            run("paytrace_daily_job", NO_RATE)  # and the day run once more: nothing posts twice
            after = [run("settlement_daily_job", day) for day in days()]
            yield {"path": path, "before": before, "results": first + after}


def test_receipts_are_in_cad_at_the_business_day_rate_with_both_amounts_recorded(week):
    path = week["path"]
    receipts = rows(path, "SELECT r.business_date, r.transaction_id, r.amount_cents, r.paytrace_amount_cents, "
                          "r.fx_rate, t.amount_cents FROM pipeline.sage_cash_receipts r JOIN "
                          "pipeline.paytrace_transactions t USING (transaction_id) WHERE r.state = 'confirmed'")
    assert len(receipts) > 20
    for day, _, sage_cents, paytrace_cents, rate, charged in receipts:
        assert paytrace_cents == charged and Decimal(rate) == rate_of(day)
        assert sage_cents == convert_cents(charged, rate_of(day))
    in_sage = {int(receipt.transaction_id): receipt for receipt in Sage100Reader.for_sqlite(
        path / "sage.sqlite3").receipts_for_transaction_ids(str(tid) for _, tid, *_ in receipts)}
    for _, tid, sage_cents, *_ in receipts:  # Sage holds the CAD amount, its lines on CAD invoices
        assert decimal_to_cents(in_sage[tid].amount) == sage_cents
        assert sum(decimal_to_cents(line.amount) for line in in_sage[tid].lines) == sage_cents
    applied = rows(path, "SELECT transaction_id, sum(amount_cents), sum(paytrace_amount_cents), min(fx_rate), "
                         "count(*) FILTER (WHERE invoice_no <> '' AND method <> 'prepayment') "
                         "FROM pipeline.payment_applications GROUP BY transaction_id")
    by_receipt = {tid: (sage_cents, paytrace_cents) for _, tid, sage_cents, paytrace_cents, *_ in receipts}
    for tid, sage_cents, paytrace_cents, rate, _ in applied:
        if tid in by_receipt:
            assert (sage_cents, paytrace_cents) == by_receipt[tid] and rate
    assert sum(invoices for *_, invoices in applied) > 10  # CAD receipts applied to the CAD invoices


def test_a_day_without_a_rate_is_excepted_then_posted_once_after_the_rate_is_added(week):
    before = week["before"]
    assert before["posted"] == 0 and before["exceptions"]
    _, problem, action = before["exceptions"][0]
    assert f"rate of {NO_RATE}" in problem and f"Add the rate of {NO_RATE}" in action and "rates.csv" in action
    assert any("exchange rate" in text for _, text in before["settlement"])
    path = week["path"]
    waiting = [tid for tid, *_ in before["exceptions"]]
    posted = rows(path, "SELECT transaction_id, state, fx_rate FROM pipeline.sage_cash_receipts "
                        f"WHERE business_date = '{NO_RATE}'")
    assert {tid for tid, *_ in posted} >= set(waiting) and {state for _, state, _ in posted} == {"confirmed"}
    assert {Decimal(rate) for *_, rate in posted} == {rate_of(NO_RATE)}
    twice = sage_rows(path, "SELECT CreditCardTransactionID, count(*) FROM AR_CashReceiptsHeader "
                            "GROUP BY CreditCardTransactionID HAVING count(*) > 1")
    assert twice == []
    assert rows(path, "SELECT count(*) FROM pipeline.receivable_exceptions WHERE kind = 'missing_exchange_rate' "
                      f"AND business_date = '{NO_RATE}'")[0][0] == 0


def test_journals_balance_clearing_nets_to_zero_and_the_exchange_difference_is_booked(week):
    path = week["path"]
    checks = [check for result in week["results"] for check in result.get_asset_check_evaluations()]
    assert all(check.passed for check in checks), [check.check_name for check in checks if not check.passed]
    assert {"journals_balance", "clearing_nets_to_zero"} <= {check.check_name for check in checks}
    nets = clearing_net_by_deposit(path)
    assert nets and all(net == 0 for net in nets.values()), nets
    lines = rows(path, "SELECT reference, role, debit_cents, credit_cents, paytrace_debit_cents, "
                       "paytrace_credit_cents, fx_rate FROM pipeline.gl_journal_entries")
    assert any(role == "exchange_difference" for _, role, *_ in lines)
    assert all(rate for _, role, *_, rate in lines if role in ("bank", "merchant_fees"))
    gl = sage_rows(path, "SELECT d.DocumentNo, sum(CAST(ROUND(d.DebitAmount * 100) AS INTEGER)), "
                         "sum(CAST(ROUND(d.CreditAmount * 100) AS INTEGER)) FROM GL_DetailPosting d "
                         "WHERE d.SourceJournal = 'GJ' GROUP BY d.DocumentNo")
    assert gl and all(debit == credit for _, debit, credit in gl)
    exchange = sage_rows(path, "SELECT count(*) FROM GL_DetailPosting d JOIN GL_Account a USING (AccountKey) "
                               "WHERE a.Account = '7950-00'")[0][0]
    assert exchange > 0
