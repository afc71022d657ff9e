from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sage_paytrace_pipeline.domain.disputes.report import DisputeReportError, DisputeReportFormat, read_report
from sage_paytrace_pipeline_tests.domain.disputes import samples

PATH = Path("disputes_2026_11.csv")


def test_default_layout_with_preamble_and_trailer():
    data = samples.report(samples.RETRIEVAL, samples.CHARGEBACK, samples.PRE_ARB)
    rows = read_report(PATH, data, DisputeReportFormat()).rows
    assert list(rows["case_number"]) == ["R100", "C200", "P300"]
    assert list(rows["stage"]) == ["retrieval", "chargeback", "pre_arbitration"]
    assert list(rows["source_line"]) == [4, 5, 6]
    chargeback = rows.iloc[1]
    assert chargeback["amount_cents"] == 125_000  # "(1,250.00)": the size of the debit
    assert chargeback["fee_cents"] == 1500
    assert chargeback["card_last4"] == "2222"
    assert chargeback["merchant_due_date"] == date(2026, 12, 10)
    assert chargeback["network_due_date"] == date(2026, 12, 18)
    assert rows.iloc[2]["original_case_number"] == "C200"
    assert rows.iloc[0]["reference"] == "INV-1001"
    assert rows.iloc[0]["merchant_due_date"] == date(2026, 11, 20)
    assert rows.iloc[0]["network_due_date"] is None
    assert "402155" not in rows.to_csv()  # only the last 4 of the masked number are kept


def test_configured_columns_and_date_format():
    layout = DisputeReportFormat(case_number_column="Case #", stage_column="Status", amount_column="Dispute Amt",
                                 activity_date_column="Received", reason_code_column="Reason",
                                 transaction_date_column="Txn Date", account_number_column="Card",
                                 date_format="%Y-%m-%d", delimiter=";")
    data = (b"Case #;Status;Received;Reason;Dispute Amt;Txn Date;Card\n"
            b"9001;chargeback;2026-11-03;13.3;45.10;2026-10-30;xxxx4444\n")
    rows = read_report(PATH, data, layout).rows
    assert rows.iloc[0][["case_number", "stage", "amount_cents", "card_last4"]].tolist() == [
        "9001", "chargeback", 4510, "4444"]
    assert rows.iloc[0]["activity_date"] == date(2026, 11, 3)
    assert rows.iloc[0]["fee_cents"] is None or rows["fee_cents"].isna().all()


@pytest.mark.parametrize(("bad_row", "line", "words"), [
    (samples.CHARGEBACK.replace("11/03/2026", "2026-11-03", 1), 5, "does not match"),
    (samples.CHARGEBACK.replace("CHARGEBACK", "ESCALATED", 1), 5, "not one this pipeline knows"),
    (samples.CHARGEBACK.replace('"(1,250.00)"', '"12,50"', 1), 5, "is not an amount"),
    (samples.CHARGEBACK.replace("540011XXXXXX2222", "XXXX", 1), 5, "last 4"),
    (samples.CHARGEBACK + ",extra,extra,extra,extra", 5, "fields, the header has"),
])
def test_malformed_file_names_file_and_line_and_loads_nothing(bad_row, line, words):
    data = samples.report(samples.RETRIEVAL, bad_row, samples.PRE_ARB)
    with pytest.raises(DisputeReportError) as caught:
        read_report(PATH, data, DisputeReportFormat())
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith("disputes_2026_11.csv:5: ")
    assert "Fix:" in str(caught.value)


def test_truncated_row_in_the_middle_is_not_a_trailer():
    data = samples.report(samples.RETRIEVAL, "C200,,CHARGEBACK", samples.PRE_ARB)
    with pytest.raises(DisputeReportError, match=r":5: row has 3 fields"):
        read_report(PATH, data, DisputeReportFormat())


def test_missing_header_column_and_no_header():
    with pytest.raises(DisputeReportError, match=r":3: column\(s\) 'Case Amount' not in the header"):
        read_report(PATH, samples.report(samples.RETRIEVAL).replace(b"Case Amount", b"Amount"),
                    DisputeReportFormat())
    with pytest.raises(DisputeReportError, match=r":1: no header naming 'Case Number'"):
        read_report(PATH, b"Date,Amount\n11/01/2026,10.00\n", DisputeReportFormat())


def test_content_hash_identifies_the_file():
    one = read_report(PATH, samples.report(samples.RETRIEVAL), DisputeReportFormat())
    again = read_report(Path("renamed.csv"), samples.report(samples.RETRIEVAL), DisputeReportFormat())
    assert one.sha256 == again.sha256
