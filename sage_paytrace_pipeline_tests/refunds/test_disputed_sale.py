"""A refund of a sale under dispute is never sent: the chargeback took the money back already."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline.disputes.case_store import build_cases, sales_under_dispute, save
from sage_paytrace_pipeline.domain.disputes.linking import approved_sales
from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat, read_report
from sage_paytrace_pipeline.refunds.sending import send_requests
from sage_paytrace_pipeline_tests.domain.disputes import samples
from sage_paytrace_pipeline_tests.refunds.test_sending import (  # noqa: F401 (store is a fixture)
    NO_REFUNDS,
    SALE,
    TODAY,
    Ledger,
    ScriptedPayTrace,
    approved,
    store,
)

CASE_ON_SALE = samples.LOST_CB.replace("INV-1004", "").replace("80.00", "20.00")


def _dispute(store, *rows: str) -> dict[int, str]:  # noqa: F811 (the fixture)
    report = read_report(Path("r.csv"), samples.report(*rows), DisputeReportFormat())
    sales = approved_sales(pd.DataFrame({
        "transaction_id": [SALE], "transaction_type": ["SALE"], "status": ["SETTLED"], "business_date": ["2026-11-01"],
        "amount_cents": [2000], "card_last4": ["3333"], "approval_code": [""], "invoice_id": ["INV1"]}))
    save(store.connection, *build_cases(report.rows, sales))
    return sales_under_dispute(store.connection)


def test_refund_of_a_disputed_sale_is_blocked_with_an_exception(store):  # noqa: F811 (the fixture)
    key = approved(store)
    disputed = _dispute(store, CASE_ON_SALE)
    assert disputed == {SALE: "C400"}
    client = ScriptedPayTrace(["SETTLED"])
    outcome = send_requests(store, client, Ledger(), refunds=NO_REFUNDS, today=TODAY, dry_run=False,
                            disputed=disputed)
    assert client.calls == []
    assert store.get(key).state == "approved"  # waits; nothing sent
    row = outcome.exceptions.iloc[0]
    assert (row["kind"], row["transaction_id"]) == ("refund_blocked_sale_disputed", SALE)
    assert "case C400" in row["problem"]


def test_a_lost_case_keeps_the_block_a_won_one_lifts_it(store):  # noqa: F811 (the fixture)
    key = approved(store)
    assert _dispute(store, CASE_ON_SALE, samples.LOST.replace("80.00", "20.00")) == {SALE: "C400"}
    won = samples.WON.replace("C200", "C400").replace("1250.00", "20.00").replace("2222", "3333")
    disputed = _dispute(store, CASE_ON_SALE, won)
    assert disputed == {}
    client = ScriptedPayTrace(["SETTLED"])
    send_requests(store, client, Ledger(), refunds=NO_REFUNDS, today=TODAY, dry_run=False, disputed=disputed)
    assert [c[0] for c in client.calls] == ["refund"]
    assert store.get(key).state == "recorded"
