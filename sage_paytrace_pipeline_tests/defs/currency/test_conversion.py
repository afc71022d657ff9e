"""Currency conversion end to end: a US-dollar PayTrace merchant, a Canadian-dollar Sage company.

A generated week on the sandboxes with a rates file lacking one day: receipts in CAD applied to the
(CAD) invoices at each business day's rate, with the rate and both amounts recorded; the day without
a rate excepted, then posted exactly once after its rate is added; the settlement entries balanced,
clearing back to zero and the realized exchange difference booked.

Then three crafted card sales posted intraday on a later day: one voided after its receipt posted (the
receipt reversed as posted, in CAD), one refunded the next day (another rate) first in part, then
the rest: both refunds in CAD at the sale's rate, together exactly what the receipt debited; the
third refunded from Sage: a clerk's CAD credit memo for the whole receipt, approved by another
person, sent to PayTrace as exactly the sale's USD and recorded against the memo, never recorded a
second time when PayTrace's refund comes back.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.domain.currency import convert_cents
from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents, round_to_cent
from sage_paytrace_pipeline.paytrace.client import PayTraceClient
from sage_paytrace_pipeline.paytrace.models import Address, CardInput
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline.refunds.requests import approve_request, request_refund
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.generator import MerchantProfile, generate_activity
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.settlement.refunds import refunds_in_sage_currency
from sage_paytrace_pipeline_tests.conftest import SANDBOX_START, SandboxApi, SandboxHandle
from sage_paytrace_pipeline_tests.defs.conftest import point_at_folder, statements_in_bank_folder
from sage_paytrace_pipeline_tests.defs.receivables.conftest import REPO
from sage_paytrace_pipeline_tests.defs.settlement.test_settlement import clearing_net_by_deposit

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 8)
NO_RATE = date(2026, 3, 4)  # the rates file lacks this day (and max_rate_age_days is 0)
SALE_DAY, REFUND_DAY = date(2026, 3, 9), date(2026, 3, 10)  # the crafted sales, and their refunds
CARD = CardInput(number="4012000098765439", expiration_month=12, expiration_year=2029, csc="999")
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
    """The example config (refunds both ways, every Sage request approved by a person) with a USD
    merchant and a CAD company."""
    text = (REPO / "config" / "example.yaml").read_text()
    assert "request_marker: card_payment_type" in text and "auto_approve_up_to: 0 " in text
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
    statements_in_bank_folder(engine, path, seed=11)
    with serve_in_thread(app) as base_url, pytest.MonkeyPatch.context() as monkeypatch:
        point_at_folder(monkeypatch, base_url, path)
        definitions = defs()
        with dg.DagsterInstance.ephemeral() as instance:
            def run(job: str, day: date | None = None) -> dg.ExecuteInProcessResult:
                result = definitions.resolve_job_def(job).execute_in_process(
                    partition_key=day.isoformat() if day else None, instance=instance, raise_on_error=False)
                assert result.success, (job, [(event.step_key, str(event.step_failure_data.error.cause))
                                              for event in result.get_step_failure_events()
                                              if event.step_failure_data.error is not None])
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
            handle = SandboxHandle(base_url, path / "paytrace.sqlite3", engine, DEFAULT_USERNAME, DEFAULT_PASSWORD)
            crafted = _sale_refunded_and_sale_voided(handle, path, lambda day: run("paytrace_daily_job", day))
            yield {"path": path, "before": before, "results": first + after, "crafted": crafted}


def _sale_refunded_and_sale_voided(handle: SandboxHandle, path, run_day) -> dict:
    """Two keyed sales on SALE_DAY paying two CAD invoices (USD amounts whose CAD value fits the
    balance), posted intraday; one voided after posting; the other refunded on REFUND_DAY in two parts."""
    reader = Sage100Reader.for_sqlite(path / "sage.sqlite3")
    names = {(c.division, c.customer_no): c.name for c in reader.customers()}
    invoices, owners = [], set()
    for invoice in reader.open_invoices():
        if invoice.invoice_type == "IN" and invoice.balance > Decimal("50.00") and invoice.customer_no not in owners:
            invoices.append(invoice)
            owners.add(invoice.customer_no)
    refunded, voided, requested = invoices[:3]
    handle.engine.set_clock(at=datetime(2026, 3, 9, 9, 0))
    def client() -> PayTraceClient:
        return PayTraceClient(handle.base_url, username=handle.username, password=handle.password,
                              integrator_id="SPPTEST00001", time_zone="America/Los_Angeles")

    per_usd = int(rate_of(SALE_DAY) * 10_000)  # USD cents whose CAD value fits the balance
    usd = {invoice.invoice_no: decimal_to_cents(invoice.balance) * 10_000 // per_usd
           for invoice in (refunded, voided, requested)}
    with client() as paytrace:
        sales = {invoice.invoice_no: paytrace.sale_keyed(
            CARD, amount=cents_to_decimal(usd[invoice.invoice_no]),
            invoice_id=f"WEB{invoice.invoice_no}", description=f"Payment for invoice #{invoice.invoice_no}",
            billing_address=Address(name=names[(invoice.division, invoice.customer_no)]))
            for invoice in (refunded, voided, requested)}
        stranger, owner = _stranger_paying_an_invoice_in_usd(paytrace, reader, taken=owners)
    run_day(SALE_DAY)  # intraday: the receipts post
    sale_id, voided_id = sales[refunded.invoice_no].transaction_id, sales[voided.invoice_no].transaction_id
    asked_id = sales[requested.invoice_no].transaction_id
    receipts = {int(r.transaction_id): decimal_to_cents(r.amount)
                for r in reader.receipts_for_transaction_ids([str(sale_id), str(voided_id), str(asked_id)])}
    handle.engine.set_clock(at=datetime(2026, 3, 9, 12, 0))
    with client() as paytrace:
        paytrace.void(voided_id)
        paytrace.settle()
    run_day(SALE_DAY)  # the void after posting: the receipt is reversed
    handle.engine.set_clock(at=datetime(2026, 3, 10, 10, 0))
    charged = usd[refunded.invoice_no]
    api = SandboxApi(handle)
    try:
        refund_ids = []
        for cents in (1001, charged - 1001):  # a part, then the rest
            status, answer = api.post("/v1/transactions/refund/for_transaction",
                                      {"transaction_id": sale_id, "amount": str(cents_to_decimal(cents))})
            assert status == 200 and answer["success"], answer
            refund_ids.append(int(answer["transaction_id"]))
    finally:
        api.close()
    # a clerk refunds the third sale's whole receipt from Sage: a CAD credit memo (alice), approved by bob
    with duckdb.connect(str(path / "warehouse.duckdb")) as connection:
        request_id = request_refund(
            reader, DemoCompanyWriter(path / "sage.sqlite3"), RequestStore(connection), sale_transaction_id=asked_id,
            amount=cents_to_decimal(receipts[asked_id]), reason="returned", requested_by="alice",
            memo_date=REFUND_DAY).request_id
    run_day(REFUND_DAY)  # the PayTrace refunds recorded; the request awaits a person (auto_approve_up_to: 0)
    with duckdb.connect(str(path / "warehouse.duckdb")) as connection:
        approve_request(RequestStore(connection), request_id, approver="bob")
    run_day(REFUND_DAY)  # the request sent to PayTrace and recorded against the memo
    run_day(REFUND_DAY)  # PayTrace's refund of the request in the day's export: not recorded again
    with sqlite3.connect(path / "sage.sqlite3") as connection:
        posted = sorted(connection.execute("SELECT * FROM AR_CashReceiptsHeader").fetchall(), key=repr)
    run_day(REFUND_DAY)  # once more: nothing is written twice
    with sqlite3.connect(path / "sage.sqlite3") as connection:
        again = sorted(connection.execute("SELECT * FROM AR_CashReceiptsHeader").fetchall(), key=repr)
    return {"sale": sale_id, "voided": voided_id, "receipts": receipts, "refunds": refund_ids,
            "charged": charged, "invoices": {"refunded": refunded, "voided": voided}, "unchanged": posted == again,
            "asked": asked_id, "asked_usd": usd[requested.invoice_no], "request": request_id,
            "stranger": stranger, "owner": owner}


def _stranger_paying_an_invoice_in_usd(paytrace: PayTraceClient, reader: Sage100Reader, *, taken: set[str]):
    """A payer matching cannot place (the owner's name from another ZIP) paying, in USD, exactly what one of
    the owner's CAD invoices is owed at the day's rate: an unknown customer whose best candidate is
    that owner, by name and by the amount in CAD."""
    customers = {(c.division, c.customer_no): c for c in reader.customers()}
    for invoice in reader.open_invoices():
        owner = customers[(invoice.division, invoice.customer_no)]
        usd = round(Decimal(decimal_to_cents(invoice.balance)) / rate_of(SALE_DAY))
        if (invoice.invoice_type == "IN" and owner.customer_no not in taken
                and convert_cents(usd, rate_of(SALE_DAY)) == decimal_to_cents(invoice.balance)):
            break
    sale = paytrace.sale_keyed(CARD, amount=cents_to_decimal(usd), description="thank you",
                               billing_address=Address(name=owner.name, zip="99999"))
    return sale.transaction_id, (owner.division, owner.customer_no)


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


def test_suggestions_weigh_amounts_in_cad_against_the_cad_balances(week):
    """An unknown payer's candidates: "amount equals" compares the CAD amount matching used (the business
    day's rate) with the CAD balances, never the USD charge."""
    crafted = week["crafted"]
    top = rows(week["path"], "SELECT division, customer_no, reasons FROM pipeline.exception_suggestions "
                             f"WHERE transaction_id = {crafted['stranger']} AND rank = 1")
    assert len(top) == 1 and top[0][:2] == crafted["owner"]
    assert "name similarity" in top[0][2] and "amount equals" in top[0][2]


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
    week_refunds = rows(path, "SELECT count(*) FROM pipeline.sage_refund_log WHERE kind = 'refund' "
                              f"AND state = 'confirmed' AND business_date <= '{LAST}'")[0][0]
    refund_lines = rows(path, "SELECT fx_rate FROM pipeline.gl_journal_entries WHERE role = 'clearing' "
                              "AND debit_cents > 0 AND comment LIKE '%refunds batch%'")
    assert week_refunds and refund_lines and all(rate for rate, in refund_lines)  # at the refunds' recorded rates
    assert all(rate for _, role, *_, rate in lines if role in ("bank", "merchant_fees"))
    gl = sage_rows(path, "SELECT d.DocumentNo, sum(CAST(ROUND(d.DebitAmount * 100) AS INTEGER)), "
                         "sum(CAST(ROUND(d.CreditAmount * 100) AS INTEGER)) FROM GL_DetailPosting d "
                         "WHERE d.SourceJournal = 'GJ' GROUP BY d.DocumentNo")
    assert gl and all(debit == credit for _, debit, credit in gl)
    exchange = sage_rows(path, "SELECT count(*) FROM GL_DetailPosting d JOIN GL_Account a USING (AccountKey) "
                               "WHERE a.Account = '7950-00'")[0][0]
    assert exchange > 0


def test_refunds_are_in_cad_at_their_sales_rate_and_give_back_exactly_the_receipt(week):
    path, crafted = week["path"], week["crafted"]
    sale, receipts = crafted["sale"], crafted["receipts"]
    assert receipts[sale] == convert_cents(crafted["charged"], rate_of(SALE_DAY))
    log = {refund: values for refund, *values in rows(
        path, "SELECT transaction_id, amount_cents, sage_amount_cents, fx_rate, state FROM pipeline.sage_refund_log "
              "WHERE kind = 'refund'")}
    first, rest = crafted["refunds"]
    assert log[first] == [1001, convert_cents(1001, rate_of(SALE_DAY)), str(rate_of(SALE_DAY)), "confirmed"]
    assert log[rest][0] == crafted["charged"] - 1001 and log[rest][2:] == [str(rate_of(SALE_DAY)), "confirmed"]
    assert rate_of(REFUND_DAY) != rate_of(SALE_DAY)  # the refund day's rate was not used
    in_sage = {int(r.transaction_id): decimal_to_cents(r.amount) for r in Sage100Reader.for_sqlite(
        path / "sage.sqlite3").card_refunds_for_transaction_ids(map(str, crafted["refunds"]))}
    assert in_sage == {first: log[first][1], rest: log[rest][1]}
    assert sum(in_sage.values()) == receipts[sale]  # clearing: credited back exactly what the receipt debited
    # the generated week's refunds too: each recorded with its rate and both amounts
    assert all(rate and sage_cents for _, sage_cents, rate, state in log.values() if state == "confirmed")
    balances = {i.invoice_no: i.balance for i in Sage100Reader.for_sqlite(path / "sage.sqlite3").open_invoices(
        with_balance_only=False) if i.invoice_type == "IN"}
    # refunded: the memos credit what the card refunds pay back, the invoice stays as the receipt left it;
    # voided: the receipt's reversal reopens the invoice in full
    refunded, voided = crafted["invoices"]["refunded"], crafted["invoices"]["voided"]
    assert balances[refunded.invoice_no] == refunded.balance - cents_to_decimal(receipts[sale])
    assert balances[voided.invoice_no] == voided.balance
    assert crafted["unchanged"]
    assert rows(path, "SELECT count(*) FROM pipeline.refund_exceptions WHERE kind = 'missing_exchange_rate'")[0][0] == 0


def test_a_void_after_posting_reverses_the_receipt_as_posted_in_cad(week):
    path, crafted = week["path"], week["crafted"]
    reversal = rows(path, "SELECT amount_cents, state FROM pipeline.sage_refund_log WHERE kind = 'receipt_reversal' "
                          f"AND transaction_id = {crafted['voided']}")
    assert reversal == [(crafted["receipts"][crafted["voided"]], "confirmed")]


def test_a_refund_asked_for_in_sage_returns_exactly_the_sales_usd_and_is_recorded_once_in_cad(week):
    path, crafted = week["path"], week["crafted"]
    asked, cad = crafted["asked"], crafted["receipts"][crafted["asked"]]
    assert cad == convert_cents(crafted["asked_usd"], rate_of(SALE_DAY))
    [(state, action, memo_cad, usd, rate, refund_id)] = rows(
        path, "SELECT state, action, amount_cents, paytrace_amount_cents, fx_rate, paytrace_transaction_id "
              f"FROM pipeline.refund_requests WHERE request_id = '{crafted['request']}'")
    assert (state, action, memo_cad, usd, rate) == ("recorded", "refund", cad, crafted["asked_usd"],
                                                    str(rate_of(SALE_DAY)))
    charged = rows(path, f"SELECT amount_cents FROM pipeline.paytrace_transactions WHERE transaction_id = {refund_id}")
    assert charged and {amount for amount, in charged} == {crafted["asked_usd"]}  # PayTrace refunded the sale's USD
    in_sage = Sage100Reader.for_sqlite(path / "sage.sqlite3").card_refunds_for_transaction_ids([str(refund_id)])
    assert [decimal_to_cents(refund.amount) for refund in in_sage] == [cad]  # once, the memo's CAD
    assert rows(path, f"SELECT count(*) FROM pipeline.sage_refund_log WHERE transaction_id = {refund_id}") == [(0,)]
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as connection:
        # settlement debits clearing with what the memo credited: the receipt's CAD, so clearing nets to zero
        assert refunds_in_sage_currency(connection, [refund_id]) == {refund_id: (cad, str(rate_of(SALE_DAY)))}
    assert asked in crafted["receipts"] and crafted["unchanged"]
