"""The sandbox's dispute reports read back by the production flow: every shape of case, agreeing with the
bank's netted chargeback."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.disputes.flow import run_disputes
from sage_paytrace_pipeline.sandbox.bank.funding import BankEntry
from sage_paytrace_pipeline.sandbox.disputes import write_dispute_reports
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401

FIRST = date(2026, 11, 2)


def _sales() -> pd.DataFrame:
    ids = range(900_001, 900_013)
    return pd.DataFrame({
        "business_date": [FIRST + timedelta(days=i % 4) for i in range(12)],
        "transaction_id": list(ids), "transaction_type": "SALE", "status": "SETTLED",
        "batch_number": [10 + i % 4 for i in range(12)],
        "amount_cents": [10_000 + 1_111 * i for i in range(12)],
        "card_brand": ["VISA", "MASTERCARD", "AMEX", "DISCOVER"] * 3,
        "card_last4": [f"{4000 + i}" for i in range(12)],
        "approval_code": [f"AP{i:04d}" for i in range(12)],
        "invoice_id": [f"INV{i}" if i % 2 else "" for i in range(12)],
    })


def _short_deposit() -> BankEntry:
    return BankEntry(kind="deposit", account_id="123", currency="USD", posted_date=date(2026, 11, 6),
                     bank_reference="1", batch_numbers=[11], brand_group="VISA/MC/DISC", gross_cents=50_000,
                     fees_cents=1_000, expected_net_cents=49_000, amount_cents=46_500, problems=["short"],
                     memo="DEPOSIT BATCH 11 CHGBK ADJ -25.00")


def test_every_shape_reads_back_through_the_flow(tmp_path, writer):  # noqa: F811 (the fixture)
    sales = _sales()
    truth = write_dispute_reports(sales, [_short_deposit()], tmp_path / "reports")
    warehouse = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    warehouse.execute("CREATE SCHEMA pipeline")
    warehouse.register("sales", sales)
    warehouse.execute("CREATE TABLE pipeline.paytrace_transactions AS SELECT * FROM sales")
    config = PipelineConfig.model_validate({"disputes": {"chargeback_account": "1250-00"}})

    run = run_disputes(warehouse, config, tmp_path / "reports", writer, as_of=date(2026, 12, 31), run_id="r1")

    cases = run.cases.set_index("case_number")
    netted = next(c for c in truth.cases if c.shape == "netted")
    assert netted.amount_cents == 2_500  # what the bank netted from batch 11's deposit
    assert cases.loc[netted.case_number, "amount_cents"] == 2_500
    assert sales.set_index("transaction_id").loc[cases.loc[netted.case_number, "sale_transaction_id"],
                                                 "batch_number"] == 11
    for case in truth.cases:
        assert cases.loc[case.case_number, "stages"] == " > ".join(case.stages)
        if case.sale_transaction_id is not None:
            assert cases.loc[case.case_number, "sale_transaction_id"] == case.sale_transaction_id
    assert cases.loc["U001", "link"] == "unknown"
    kinds = run.exceptions.groupby("kind")["source_ids"].agg(list).to_dict()
    assert kinds["dispute_report_malformed"] == [f"{truth.malformed_file}:{truth.malformed_line}"]
    assert kinds["dispute_sale_unknown"] == ["dispute:U001"]
    assert "dispute_stage_out_of_order" not in kinds
    # the retrieval moves no money; the pre-arbitration after P001's win takes it again
    assert sorted(run.posting.posted) == ["PT-DL001-CB", "PT-DN001-CB", "PT-DP001-CB", "PT-DP001-WN", "PT-DP002-PA",
                                          "PT-DU001-CB", "PT-DW001-CB", "PT-DW001-WN"]
    warehouse.close()
