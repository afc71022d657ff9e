from __future__ import annotations

from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.disputes.case_store import sales_under_dispute, saved_cases
from sage_paytrace_pipeline.disputes.flow import run_disputes
from sage_paytrace_pipeline.disputes.posting import PostingLog
from sage_paytrace_pipeline.disputes.report_store import ReportStore
from sage_paytrace_pipeline_tests.domain.disputes import samples
from sage_paytrace_pipeline_tests.sage100.writer_support import account_key, dump, money, query

AS_OF = date(2026, 12, 1)
UNKNOWN = samples.LOST_CB.replace("C400", "C900").replace("3333", "9999").replace("INV-1004", "")


def _drop(folder, name: str, *rows: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(samples.report(*rows))


def _balance(company, account: str) -> Decimal:
    rows = query(company, "SELECT DebitAmount, CreditAmount FROM GL_DetailPosting WHERE AccountKey = ? "
                 "AND SourceJournal = 'GJ'", (account_key(company, account),))
    return sum((money(d) - money(c) for d, c in rows), Decimal("0.00"))


def test_month_of_reports_posts_each_case_and_stage_once(tmp_path, warehouse, config, company, writer):
    folder = tmp_path / "dispute_reports"
    _drop(folder, "week1.csv", samples.RETRIEVAL, samples.CHARGEBACK, samples.LOST_CB, UNKNOWN)
    _drop(folder, "week4.csv", samples.REPRESENTMENT, samples.WON, samples.PRE_ARB, samples.LOST,
          samples.CHARGEBACK)  # cumulative: the chargeback again
    (folder / "broken.csv").write_bytes(samples.report(samples.CHARGEBACK.replace("11/03/2026", "2026-11-03")))

    run = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1")

    assert sorted(run.load.loaded) == ["week1.csv", "week4.csv"]
    kinds = run.exceptions.groupby("kind")["source_ids"].agg(list).to_dict()
    assert kinds["dispute_report_malformed"] == ["broken.csv:4"]
    assert kinds["dispute_sale_unknown"] == ["dispute:C900"]
    cases = saved_cases(warehouse).set_index("case_number")
    assert cases.loc["C200", ["stages", "status", "sale_transaction_id"]].tolist() == [
        "chargeback > representment > won", "won", 502]
    assert cases.loc["P300", ["stage", "status", "sale_transaction_id"]].tolist() == ["pre_arbitration", "open", 502]
    assert cases.loc["C400", "status"] == "lost"
    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC200-WN", "PT-DC400-CB", "PT-DC400-LS",
                                          "PT-DC900-CB", "PT-DP300-PA"]
    # Receivable: C200 taken and given back, P300 re-debited and open, C400 moved to bad debt, C900 open.
    assert _balance(company, "1250-00") == Decimal("1250.00") + Decimal("80.00")
    assert _balance(company, "6170-00") == Decimal("80.00")
    assert _balance(company, "6150-00") == Decimal("15.00") + Decimal("15.00") + Decimal("15.00")  # C200's own fee
    # what settlement booked to chargebacks is moved out of it: cases taken + fees (C200's twice: P300)
    assert _balance(company, "6160-00") == -(Decimal("1250.00") * 2 + Decimal("80.00") + Decimal("80.00")
                                            + Decimal("45.00"))
    # C200 won: the processor owes it back until its credit reaches the bank (settlement's PT-CR entry)
    assert _balance(company, "1260-00") == Decimal("1250.00")
    debits, credits = query(company, "SELECT SUM(CAST(DebitAmount AS NUMERIC)), SUM(CAST(CreditAmount AS NUMERIC)) "
                            "FROM GL_DetailPosting WHERE SourceJournal = 'GJ'")[0]
    assert money(debits) == money(credits)

    before = dump(company)
    again = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r2")
    assert again.load.loaded == [] and again.load.already_loaded == 2
    assert again.posting.posted == []
    assert dump(company) == before
    assert len(ReportStore(warehouse).files()) == 2
    assert set(PostingLog(warehouse, "r3").frame()["state"]) == {"posted"}


def test_a_crash_after_sage_posted_is_adopted_not_posted_again(tmp_path, warehouse, config, company, writer):
    folder = tmp_path / "dispute_reports"
    _drop(folder, "week1.csv", samples.CHARGEBACK)
    run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r1")
    warehouse.execute("UPDATE pipeline.dispute_posting_log SET state = 'intent'")  # the answer was lost
    before = dump(company)
    again = run_disputes(warehouse, config, folder, writer, as_of=AS_OF, run_id="r2")
    assert again.posting.posted == ["PT-DC200-CB"]  # sent again, Sage answers with the entry it has
    assert dump(company) == before


def test_entries_wait_for_their_date_and_refunds_are_blocked_on_open_cases(tmp_path, warehouse, config, writer):
    folder = tmp_path / "dispute_reports"
    ambiguous = samples.LOST_CB.replace("C400", "C800").replace("3333", "5555").replace("INV-1004", "") \
        .replace("80.00", "77.00").replace("11/01/2026", "11/02/2026")
    _drop(folder, "week1.csv", samples.CHARGEBACK, samples.WON, samples.LOST_CB, ambiguous, samples.RETRIEVAL)
    run = run_disputes(warehouse, config, folder, writer, as_of=date(2026, 11, 10), run_id="r1")
    assert sorted(run.posting.posted) == ["PT-DC200-CB", "PT-DC400-CB", "PT-DC800-CB"]  # the win is dated 11/20
    # C200 is won (closed); C400 open; C800 ambiguous: both candidates blocked; R100 a retrieval, open.
    assert sales_under_dispute(warehouse) == {501: "R100", 503: "C400", 505: "C800", 506: "C800"}
