from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from sage_paytrace_pipeline.domain.disputes.cases import case_summary, stage_history
from sage_paytrace_pipeline.domain.disputes.linking import approved_sales, link_cases, link_exceptions
from sage_paytrace_pipeline.domain.disputes.postings import DisputeAccounts, plan_postings, posting_reference
from sage_paytrace_pipeline.domain.disputes.reasons import family_of, network_of
from sage_paytrace_pipeline.domain.disputes.report import DisputeReportFormat, read_report
from sage_paytrace_pipeline.domain.disputes.stages import normalize_stage
from sage_paytrace_pipeline_tests.domain.disputes import samples

ACCOUNTS = DisputeAccounts(settled="6160-00", chargeback="1250-00", fee="6150-00", loss="6165-00")


def _rows(*rows: str):
    return read_report(Path("r.csv"), samples.report(*rows), DisputeReportFormat()).rows


def _sales() -> pd.DataFrame:
    return approved_sales(pd.DataFrame({
        "transaction_id": [501, 502, 503, 504, 505, 506],
        "transaction_type": ["SALE"] * 6,
        "status": ["SETTLED", "SETTLED", "SETTLED", "VOIDED", "SETTLED", "SETTLED"],
        "business_date": [date(2026, 10, 28), date(2026, 10, 31), date(2026, 11, 1), date(2026, 10, 31),
                          date(2026, 11, 2), date(2026, 11, 2)],
        "amount_cents": [12_000, 125_000, 8_000, 125_000, 7_700, 7_700],
        "card_last4": ["1111", "2222", "3333", "2222", "5555", "5555"],
        "approval_code": ["A1B2C3", "z9y8x7", "", "Z9Y8X7", "", ""],
        "invoice_id": ["INV-1001", "", "INV-1004", "", "", ""],
    }))


def test_stage_names_and_reason_families():
    assert [normalize_stage(s) for s in ("PRE-ARBITRATION", "Second Chargeback", "Retrieval Request", "Expired",
                                         "escalated")] == ["pre_arbitration", "pre_arbitration", "retrieval", "lost",
                                                           None]
    codes = pd.Series(["10.4", "13.1", "4837", "4853", "C08", "UA02", "83", "ZZ9Z9"])
    networks = network_of(pd.Series([""] * 8), codes)
    assert list(networks) == ["VISA", "VISA", "MASTERCARD", "MASTERCARD", "AMEX", "DISCOVER", "VISA", "UNKNOWN"]
    assert list(family_of(networks, codes)) == ["fraud", "consumer_dispute", "fraud", "consumer_dispute",
                                                "consumer_dispute", "fraud", "fraud", "other"]


def test_stages_in_order_and_money_of_a_won_then_pre_arbitrated_chain():
    # Given out of file order, the pre-arbitration under its own number pointing back to C200.
    history = stage_history(_rows(samples.PRE_ARB, samples.WON, samples.CHARGEBACK, samples.REPRESENTMENT))
    chain = history[history["chain"] == "C200"]
    assert list(chain["stage"]) == ["chargeback", "representment", "won", "pre_arbitration"]
    assert not chain["out_of_order"].any()
    assert list(chain["taken_cents"]) == [125_000, 0, 0, 125_000]  # re-debited after the reversal
    assert list(chain["returned_cents"]) == [0, 0, 125_000, 0]


def test_stage_going_back_is_out_of_order():
    late_retrieval = samples.RETRIEVAL.replace("R100", "C400").replace("11/02/2026", "11/05/2026")
    history = stage_history(_rows(samples.LOST_CB, late_retrieval))
    assert list(history["stage"]) == ["chargeback", "retrieval"]
    assert list(history["out_of_order"]) == [False, True]


def test_linking_exact_ambiguous_unknown_and_inherited():
    unknown = samples.LOST_CB.replace("C400", "C900").replace("3333", "9999").replace("INV-1004", "")
    ambiguous = samples.LOST_CB.replace("C400", "C800").replace("3333", "5555").replace("INV-1004", "") \
        .replace("80.00", "77.00").replace("11/01/2026", "11/02/2026")
    pre_arb = samples.PRE_ARB.replace("10/30/2026", "09/01/2026")  # its own keys find no sale
    rows = _rows(samples.RETRIEVAL, samples.CHARGEBACK, pre_arb, samples.LOST_CB, unknown, ambiguous)
    links = link_cases(rows, _sales()).set_index("case_number")
    assert links.loc["R100", ["sale_transaction_id", "link", "link_rule"]].tolist() == [501, "linked", "reference"]
    # auth code compared without case; the voided sale with the same card and amount is no candidate
    assert links.loc["C200", ["sale_transaction_id", "link", "link_rule"]].tolist() == [502, "linked",
                                                                                        "card_amount_date"]
    assert links.loc["C400", "sale_transaction_id"] == 503
    assert links.loc["C900", "link"] == "unknown"
    assert links.loc["C800", ["link", "candidates"]].tolist() == ["ambiguous", "505, 506"]
    assert links.loc["P300", "link"] == "unknown"
    cases = case_summary(stage_history(rows), links.reset_index())
    exceptions = link_exceptions(cases)
    assert sorted(exceptions["kind"]) == ["dispute_sale_ambiguous", "dispute_sale_unknown"]
    assert "505, 506" in exceptions.loc[exceptions["kind"] == "dispute_sale_ambiguous", "source_ids"].item()
    assert "C900" in exceptions.loc[exceptions["kind"] == "dispute_sale_unknown", "problem"].item()
    cases = cases.set_index("case_number")
    assert cases.loc["P300", ["sale_transaction_id", "link_rule"]].tolist() == [502, "original_case"]
    assert cases.loc["R100", "evidence"].startswith("a copy of the sale's receipt")
    assert cases.loc["C200", "status"] == "open"
    assert cases.loc["C200", "merchant_due_date"] == date(2026, 12, 10)


def test_several_cases_on_one_sale():
    second = samples.RETRIEVAL.replace("R100", "C101").replace("Retrieval Request", "Chargeback")
    rows = _rows(samples.RETRIEVAL, second)
    links = link_cases(rows, _sales())
    assert list(links["sale_transaction_id"]) == [501, 501]


def test_postings_balanced_once_per_case_and_stage():
    rows = _rows(samples.CHARGEBACK, samples.REPRESENTMENT, samples.WON, samples.PRE_ARB, samples.LOST_CB,
                 samples.LOST, samples.RETRIEVAL, samples.CHARGEBACK)  # a stage repeated: kept once
    lines = plan_postings(stage_history(rows), ACCOUNTS, case_fee_cents=2500)
    totals = lines.groupby("reference")[["debit_cents", "credit_cents"]].sum()
    assert (totals["debit_cents"] == totals["credit_cents"]).all()
    assert totals["debit_cents"].to_dict() == {
        "PT-DC200-CB": 125_000 + 1500,  # the report's fee wins over the configured one
        "PT-DC200-WN": 125_000,
        "PT-DP300-PA": 125_000,
        "PT-DC400-CB": 8_000 + 2500,
        "PT-DC400-LS": 8_000,
    }
    won = lines[lines["reference"] == "PT-DC200-WN"].set_index("account")
    assert won.loc["6160-00", "debit_cents"] == 125_000 and won.loc["1250-00", "credit_cents"] == 125_000
    assert posting_reference("X" * 40, "chargeback").endswith("-CB")
    assert len(posting_reference("X" * 40, "chargeback")) <= 30


def test_expense_model_posts_only_the_fee():
    accounts = DisputeAccounts(settled="6160-00", chargeback="6160-00", fee="6150-00")
    lines = plan_postings(stage_history(_rows(samples.LOST_CB, samples.LOST)), accounts)
    assert lines.empty  # no fee on the report, none configured: the settlement entry said it all
    lines = plan_postings(stage_history(_rows(samples.LOST_CB, samples.LOST)), accounts, case_fee_cents=1500)
    assert lines[["account", "debit_cents", "credit_cents"]].values.tolist() == [["6150-00", 1500, 0],
                                                                                  ["6160-00", 0, 1500]]


def test_settlement_exception_of_a_netted_chargeback_names_its_case():
    from sage_paytrace_pipeline.domain.disputes.settlement import name_netted_cases
    from sage_paytrace_pipeline.domain.settlement.frames import EXCEPTION_COLUMNS

    stages = stage_history(_rows(samples.CHARGEBACK, samples.LOST_CB))
    exceptions = pd.DataFrame([
        {"kind": "deposit_variance", "severity": "warning", "batch_number": 7, "source_ids": "b7",
         "problem": "short by $1265.00", "action": "match it"},
        {"kind": "deposit_variance", "severity": "warning", "batch_number": 8, "source_ids": "b8",
         "problem": "short by $25.00", "action": "match it"},
        {"kind": "deposit_missing", "severity": "error", "batch_number": 9, "source_ids": "b9",
         "problem": "missing", "action": "wait"},
    ])[list(EXCEPTION_COLUMNS)]
    matches = pd.DataFrame({"batch_number": [7, 8], "method": ["netted_adjustment"] * 2,
                            "adjustment_cents": [126_500, 2_500]})
    named = name_netted_cases(exceptions, matches, stages)
    assert list(named["problem"]) == ["short by $1265.00; dispute case C200",
                                      "short by $25.00; no dispute case in the processor's reports takes $25.00",
                                      "missing"]
    assert list(named.columns) == list(exceptions.columns)
