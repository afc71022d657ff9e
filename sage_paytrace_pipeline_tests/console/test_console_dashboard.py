"""The reconciliation dashboard: its figures are the warehouse tables' sums, to the cent, by day and month."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal
from sage_paytrace_pipeline_tests.console.conftest import log_in


def _add_month(warehouse) -> None:
    """Posting log rows (one rejected), batches by deposit status with fees, and a chargeback case.
    555003 is confirmed in Sage though PayTrace's row is absent: the day shows 19.99 more posted than sold."""
    log = pd.DataFrame({
        "transaction_id": [555001, 555003, 555004], "business_date": [date(2026, 11, 18)] * 3,
        "amount_cents": [20000, 1999, 777], "state": ["confirmed", "confirmed", "rejected"]})
    batches = pd.DataFrame({
        "batch_number": [1, 2, 3, 4], "closed_date": [date(2026, 11, 18), date(2026, 11, 18), date(2026, 11, 19),
                                                      date(2026, 10, 31)],
        "deposit_status": ["matched", "short", "missing", "matched"], "gross_cents": [20000, 10001, 5000, 3333],
        "deposit_cents": [19420, 9700, None, 3233], "fee_cents": [580, 290, None, 100]})
    cases = pd.DataFrame({"case_number": ["CB-1"], "received_date": [date(2026, 11, 19)], "amount_cents": [4599]})
    connection = duckdb.connect(str(warehouse))
    try:
        for table, frame in (("sage_posting_log", log), ("settlement_reconciliation", batches),
                             ("dispute_case_store", cases)):
            connection.register("frame", frame)
            connection.execute(f"CREATE OR REPLACE TABLE pipeline.{table} AS SELECT * FROM frame")
            connection.unregister("frame")
    finally:
        connection.close()


def _cell(page: str, period: str, figure: str) -> str:
    row = re.search(rf'<tr data-period="{period}">(.*?)</tr>', page, re.S)
    assert row, f"the page has a row for {period}"
    found = re.search(rf'data-figure="{figure}">([^<]*)<', row.group(1))
    assert found, f"{period} shows {figure}"
    return found.group(1).strip()


def _money(warehouse, sql: str) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return format_decimal(cents_to_decimal(int(connection.execute(sql).fetchall()[0][0] or 0)))


def test_the_dashboard_shows_the_tables_to_the_cent(client, home):
    _add_month(home.warehouse)
    log_in(client, "vera")
    page = client.get("/dashboard").text
    w = home.warehouse
    day = "2026-11-18"
    assert _cell(page, day, "sales_cents") == _money(
        w, f"SELECT sum(amount_cents) FROM pipeline.paytrace_transactions WHERE transaction_type = 'SALE' "
           f"AND business_date = '{day}'") == "200.00"
    assert _cell(page, day, "receipts_cents") == _money(
        w, f"SELECT sum(amount_cents) FROM pipeline.sage_posting_log WHERE state = 'confirmed' "
           f"AND business_date = '{day}'") == "219.99"
    assert _cell(page, day, "receipts_count") == "2"
    assert _cell(page, day, "fee_cents") == _money(
        w, f"SELECT sum(fee_cents) FROM pipeline.settlement_reconciliation WHERE closed_date = '{day}'")
    assert _cell(page, day, "fee_rate") == "2.90 %"  # 870 of 30001, half-even to the hundredth of a percent
    assert (_cell(page, day, "batches_matched"), _cell(page, day, "batches_short")) == ("1", "1")
    assert _cell(page, "2026-11-19", "batches_missing") == "1"
    assert _cell(page, "2026-11-19", "refund_cents") == "30.00"
    assert _cell(page, "2026-11-19", "chargeback_cents") == "45.99"
    month = "2026-11"
    assert _cell(page, month, "fee_cents") == _money(
        w, "SELECT sum(fee_cents) FROM pipeline.settlement_reconciliation WHERE closed_date >= '2026-11-01'")
    assert _cell(page, "2026-10", "deposited_cents") == "32.33"
    # every open exception is counted on its day, and the count links to the queue of that day
    opened = sum(int(n) for n in re.findall(r'data-figure="exceptions_opened">(\d+)<', page.split("By day")[0]))
    assert opened == len(re.findall(r'data-key="', client.get("/exceptions").text))
    assert 'href="/rows/sales_cents?period=2026-11-18" data-figure="sales_cents"' in page
    assert "<svg" in page and "<rect" in page


def test_decisions_count_as_decided_on_their_day(client, home):
    token = log_in(client, "carl")
    keys = re.findall(r'data-key="([0-9a-f]+)"', client.get("/exceptions?severity=warning").text)
    from sage_paytrace_pipeline.console.sources import item_key

    warnings = [k for k in keys if k in {item_key("settlement", "deposit_short", "batch:77"),
                                         item_key("settlement", "deposit_late", "batch:78")}]
    assert len(warnings) == 2
    response = client.post("/exceptions/review", data={"csrf": token, "key": warnings, "reason": "bank fee",
                                                       "back": "/exceptions"})
    assert response.status_code == 303
    page = client.get("/dashboard").text
    today = date.today().isoformat()
    assert _cell(page, today, "exceptions_decided") == "2"


def test_a_month_shows_its_days_and_a_missing_warehouse_shows_nothing(client, home):
    _add_month(home.warehouse)
    log_in(client, "vera")
    page = client.get("/dashboard?month=2026-10").text
    assert 'data-period="2026-10-31"' in page and 'data-period="2026-11-18"' not in page.split("By day")[1]
    home.warehouse.unlink()
    assert "No run has written the warehouse yet" in client.get("/dashboard").text


def test_the_dashboard_needs_a_user(client):
    response = client.get("/dashboard")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_sale_seen_again_counts_once_on_its_first_day_in_its_latest_state(client, home):
    with duckdb.connect(str(home.warehouse)) as connection:  # sale 555001 seen again settled, then voided the day after
        connection.execute("INSERT INTO pipeline.paytrace_transactions VALUES "
                           "('2026-11-20', 555001, 'SALE', 'SETTLED', 20000, '0100042', '1111'), "
                           "('2026-11-21', 555001, 'SALE', 'VOIDED', 20000, '0100042', '1111'), "
                           "('2026-11-20', 555009, 'SALE', 'SETTLED', 1234, '0100043', '4242')")
    log_in(client, "vera")
    page = client.get("/dashboard").text
    assert _cell(page, "2026-11-18", "sales_count") == "0", "voided in the end: no longer an approved sale"
    assert (_cell(page, "2026-11-20", "sales_count"), _cell(page, "2026-11-20", "sales_cents")) == ("1", "12.34")
    assert 'data-period="2026-11-21"' not in page


def test_every_figure_links_to_the_rows_it_adds_up(client, home):
    _add_month(home.warehouse)
    log_in(client, "vera")
    page = client.get("/dashboard").text
    links = re.findall(r'<a href="/rows/(\w+)\?period=([\d-]+)" data-figure="(\w+)">([^<]*)<', page)
    figures = {figure for figure, _, _, _ in links}
    assert {"sales_cents", "receipts_count", "batches_short", "fee_cents", "chargeback_cents", "clearing"} <= figures
    checked = 0
    for figure, period, _, shown in links:
        if figure == "clearing":
            continue
        rows = client.get(f"/rows/{figure}?period={period}")
        assert rows.status_code == 200, (figure, period)
        count = re.search(r'data-figure="count">(\d+)<', rows.text).group(1)
        total = re.search(r'data-figure="total_cents">([^<]*)<', rows.text)
        if figure.endswith("_cents"):
            assert total is not None and total.group(1) == shown.strip(), (figure, period)
        else:
            assert count == shown.strip(), (figure, period)
        checked += 1
    assert checked >= 30
    batches = client.get("/rows/batches_missing?period=2026-11-19").text
    assert '<td data-column="batch_number">3</td>' in batches
    assert client.get("/rows/nonsense?period=2026-11").status_code == 404
    assert client.get("/rows/sales_cents?period=2026-11-18'--").status_code == 404
    redirect = client.get("/rows/exceptions_opened?period=2026-11-18")
    assert redirect.status_code == 303 and redirect.headers["location"] == "/exceptions?day=2026-11-18"


def test_the_card_clearing_balance_is_sages_gl_to_the_cent(home, tmp_path):
    import shutil
    import sqlite3
    from decimal import Decimal

    from starlette.testclient import TestClient

    from sage_paytrace_pipeline.console.server import app_from_environment
    from sage_paytrace_pipeline.sage100.documents import ReceiptLine
    from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
    from sage_paytrace_pipeline_tests.sage100.writer_support import customer_with_open_invoices, receipt

    sage = tmp_path / "sage.sqlite3"
    shutil.copy(home.sage, sage)
    division, customer, invoices = customer_with_open_invoices(sage, 1)
    DemoCompanyWriter(sage).post_card_receipt(receipt(  # Dr the Visa clearing account 12.34 on 2026-03-02
        division, customer, [ReceiptLine(invoice_no=invoices[0][0], amount="12.34")], transaction_id="880001"))
    with sqlite3.connect(sage) as connection:
        expected = connection.execute("""
            SELECT g.Account, sum(CAST(d.DebitAmount AS NUMERIC)) - sum(CAST(d.CreditAmount AS NUMERIC))
            FROM GL_DetailPosting d JOIN GL_Account g USING (AccountKey)
            WHERE d.AccountKey IN (SELECT AssetAcctKey FROM AR_PaymentType WHERE PaymentMethod = 'R')
               OR g.Account = '1060-00' GROUP BY g.Account""").fetchall()
    client = TestClient(app_from_environment({**home.environ, "SAGE100_DATABASE": str(sage)}), follow_redirects=False)
    log_in(client, "vera")
    page = client.get("/dashboard").text
    shown = dict(re.findall(r'<tr data-account="([\d-]+)">.*?data-figure="clearing_cents">([^<]*)<', page, re.S))
    assert shown == {account: format_decimal(Decimal(str(balance)).quantize(Decimal("0.01")))
                     for account, balance in expected} | {a: "0.00" for a in shown if a not in dict(expected)}
    assert "1061-00" in shown
    lines = client.get("/rows/clearing?period=2026-03-02").text
    assert "12.34" in lines and "Card clearing in Sage" in lines
