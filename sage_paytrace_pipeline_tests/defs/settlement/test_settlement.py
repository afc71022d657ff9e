"""Settlement end to end: a generated fortnight, its bank statements, and the settlement job."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.sage100.documents import CardReceipt, ReceiptLine
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.generator import (
    MerchantProfile,
    generate_activity,
)
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline_tests.conftest import SANDBOX_START
from sage_paytrace_pipeline_tests.defs.conftest import point_at_folder, statements_in_bank_folder
from sage_paytrace_pipeline_tests.defs.receivables.conftest import REPO

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 13)
pytestmark = pytest.mark.slow


def days():
    day = FIRST
    while day <= LAST:
        yield day
        day += timedelta(days=1)


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """One fortnight for the whole module, run as two range runs and the statements' run."""
    path = tmp_path_factory.mktemp("settlement")
    app = create_app(path / "paytrace.sqlite3")
    engine = app.state.engine
    engine.set_clock(at=SANDBOX_START)
    plan, summary = generate_activity(FIRST, LAST, seed=5, profile=MerchantProfile(customers=12))
    assert apply_plan(engine, plan).failures == []
    create_demo_company(path / "sage.sqlite3", seed=5, activity=summary, customers=40)
    # Unapplied payments stay out of Sage (not the default): deposited batches then hold sales not in
    # Sage, which the parking test needs; the fortnight's payers are all known customers.
    config = (REPO / "config" / "example.yaml").read_text()
    assert "  post_unapplied_as_prepayment: true" in config
    (path / "config.yaml").write_text(config.replace("  post_unapplied_as_prepayment: true",
                                                     "  post_unapplied_as_prepayment: false"))
    truth = statements_in_bank_folder(engine, path, seed=5)
    with serve_in_thread(app) as base_url, pytest.MonkeyPatch.context() as monkeypatch:
        point_at_folder(monkeypatch, base_url, path)
        definitions = defs()
        with dg.DagsterInstance.ephemeral() as instance:
            def run(job: str, day: date | None = None, *, through: date | None = None) -> dg.ExecuteInProcessResult:
                days_of_range = {"dagster/asset_partition_range_start": day.isoformat(),
                                 "dagster/asset_partition_range_end": through.isoformat()} if day and through else None
                result = definitions.resolve_job_def(job).execute_in_process(
                    partition_key=day.isoformat() if day and not through else None, tags=days_of_range,
                    instance=instance, raise_on_error=False)
                assert result.success, job
                return result

            # the fortnight as range runs (one run works its days in order, as day-by-day runs would:
            # defs/test_range_runs.py compares the two)
            run("paytrace_daily_job", FIRST, through=LAST)
            run("bank_statements_job")
            results = [run("settlement_daily_job", FIRST, through=LAST)]
            yield {"run": run, "results": results, "truth": truth, "path": path}


def rows(path, sql):
    with duckdb.connect(str(path / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_funded_batch_is_matched_and_the_planted_missing_deposit_is_an_exception(settled):
    truth = settled["truth"]
    missing = {tuple(entry.batch_numbers) for entry in truth.entries if entry.amount_cents is None}
    statuses = {(batch, group): status for batch, group, status in rows(
        settled["path"], "SELECT batch_number, funding_group, deposit_status FROM pipeline.settlement_reconciliation")}
    assert missing and all(statuses[(batches[0], "CARDS")] == "missing" for batches in missing)
    funded = [entry for entry in truth.entries if entry.kind == "deposit" and entry.amount_cents is not None]
    matched = {(batch, deposit): fee for batch, deposit, fee in rows(
        settled["path"], "SELECT batch_number, deposit_cents, fee_cents FROM pipeline.settlement_reconciliation "
                         "WHERE deposit_status = 'matched'")}
    for entry in funded:
        if not entry.problems or entry.problems == ["amex_separate"]:
            # the fee booked is exactly gross minus what the bank deposited
            assert matched[(entry.batch_numbers[0], entry.amount_cents)] == entry.gross_cents - entry.amount_cents
    kinds = {kind for (kind,) in rows(settled["path"], "SELECT kind FROM pipeline.settlement_exceptions")}
    assert "deposit_missing" in kinds
    # the planted missing deposit's batch left clearing for the processor receivable (gl_accounts default 1260-00)
    posted = {reference for (reference,) in rows(settled["path"], "SELECT reference FROM pipeline.sage_gl_postings")}
    assert all(any(reference.startswith(f"PT-M{batches[0]}-") for reference in posted) for batches in missing)


def test_journals_balance_clearing_nets_to_zero_and_a_rerun_posts_nothing(settled):
    checks = [check for result in settled["results"] for check in result.get_asset_check_evaluations()]
    assert checks and all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]
    assert {"journals_balance", "clearing_nets_to_zero"} <= {check.check_name for check in checks}
    posted = rows(settled["path"], "SELECT count(*), count(DISTINCT reference) FROM pipeline.sage_gl_postings")[0]
    assert posted[0] == posted[1] > 0
    with sqlite3.connect(settled["path"] / "sage.sqlite3") as connection:
        before = connection.execute(
            "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting").fetchall()
    for day in days():
        settled["run"]("settlement_daily_job", day)
    with sqlite3.connect(settled["path"] / "sage.sqlite3") as connection:
        assert connection.execute(
            "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting").fetchall() == before


def test_a_malformed_statement_is_reported_with_its_line_and_the_others_still_load(settled):
    folder = settled["path"] / "bank_statements"
    (folder / "broken.bai").write_text("01,BANK,MERCHANT,260316,0800,1,,,2/\n02,GARBAGE\n")
    (folder / "extra.csv").write_text("not,a,statement\n")
    result = settled["run"]("bank_statements_job")
    refused = rows(settled["path"], "SELECT file, line, problem FROM pipeline.bank_statement_exceptions ORDER BY file")
    assert [row[0] for row in refused] == ["broken.bai", "extra.csv"]
    assert refused[0][1] >= 1 and refused[0][2]
    metadata = next(m.metadata for m in result.asset_materializations_for_node("bank_statements")
                    if m.asset_key.to_user_string() == "bank_deposits")
    assert metadata["files_loaded_now"].value == 0 and metadata["files_already_loaded"].value > 0
    assert json.dumps(metadata["lines"].value)
    (check,) = result.get_asset_check_evaluations()  # a warning: the run succeeds, the alert sensors see it
    assert (check.check_name, check.passed, check.severity) == ("statement_files_loaded", False,
                                                                dg.AssetCheckSeverity.WARN)
    assert "2 statement files refused" in check.description and "under bank.csv in the config" in check.description


def sage_rows(path, sql, parameters=()):
    with sqlite3.connect(path / "sage.sqlite3") as connection:
        return connection.execute(sql, parameters).fetchall()


def clearing_net_by_deposit(path) -> dict[tuple[int, str], int]:
    """Computed from Sage alone, per expected deposit (batch, CARDS/AMEX) whose entry is posted: its
    receipts' lines on the card clearing accounts (CreditCardTransactionID ends the comment), its
    refunds' card refunds recorded in Sage by the refund flow ("Card refund <id> ..." in the sales
    journal), plus the lines of its journal entries (PT-B<batch>-<yymmdd>-<group>, PT-S<transaction>),
    in cents."""
    clearing = {key for (key,) in sage_rows(
        path, "SELECT AccountKey FROM GL_Account WHERE AccountDesc LIKE '%Clearing'")}
    lines = sage_rows(path, "SELECT AccountKey, SourceJournal, DocumentNo, PostingComment, "
                            "CAST(ROUND(DebitAmount * 100) AS INTEGER) - CAST(ROUND(CreditAmount * 100) AS INTEGER) "
                            "FROM GL_DetailPosting")
    references = dict(sage_rows(path, "SELECT EntryNo, UDF_PAYTRACE_REF FROM GL_GeneralJournalHistory "
                                      "WHERE UDF_PAYTRACE_REF LIKE 'PT-%'"))
    deposit_of = {transaction: (int(batch), "AMEX" if brand == "AMEX" else "CARDS")
                  for transaction, batch, brand in rows(
        path, "SELECT DISTINCT CAST(transaction_id AS VARCHAR), batch_number, card_brand "
              "FROM pipeline.paytrace_batch_transactions")}
    nets: dict[tuple[int, str], int] = {}
    for account, journal, document, comment, cents in lines:
        reference = references.get(document, "") if journal == "GJ" else ""
        if account not in clearing:
            continue
        if journal == "CR":
            key = deposit_of.get(str(comment or " ").split()[-1])
        elif journal == "SJ" and str(comment or "").startswith("Card refund "):
            key = deposit_of.get(str(comment).split()[2])
        elif reference.startswith("PT-B"):
            key = (int(reference.split("-")[1][1:]), reference.split("-")[-1])
        elif reference.startswith("PT-S"):
            key = deposit_of.get(reference[4:])
        else:
            continue
        if key is not None:
            nets[key] = nets.get(key, 0) + int(cents)
    deposited = {(int(reference.split("-")[1][1:]), reference.split("-")[-1])
                 for reference in references.values() if reference.startswith("PT-B")}
    return {key: net for key, net in nets.items() if key in deposited}


def parked_sales_in_sage(path) -> dict[int, int]:
    """transaction id -> cents still parked in gl_accounts.unposted_sales (credits less reclass debits)."""
    parked: dict[int, int] = {}
    for comment, cents in sage_rows(path, "SELECT PostingComment, CAST(ROUND(CreditAmount * 100) AS INTEGER) - "
                                          "CAST(ROUND(DebitAmount * 100) AS INTEGER) FROM GL_DetailPosting "
                                          "WHERE PostingComment LIKE '% in AR: sale %'"):
        parked[int(comment.split()[-1])] = parked.get(int(comment.split()[-1]), 0) + cents
    return parked


def post_by_hand(path, transaction_id: int) -> None:
    """What an AR clerk does for an unidentified payment: enter it in Sage on a customer's account,
    with PayTrace's transaction id on the receipt."""
    config = load_config(path / "config.yaml")
    (day, brand, cents), = rows(path, "SELECT business_date, card_brand, amount_cents "
                                      "FROM pipeline.paytrace_transactions "
                                      f"WHERE transaction_id = {transaction_id}")
    (division, customer), = sage_rows(
        path, "SELECT ARDivisionNo, CustomerNo FROM AR_Customer ORDER BY CustomerNo LIMIT 1")
    receipt = CardReceipt(
        transaction_id=str(transaction_id), division=division, customer_no=customer, deposit_date=day,
        bank_code=config.sage.bank_code, deposit_description=f"CLERK {day}",
        payment_type=config.sage.payment_types[brand], amount=cents_to_decimal(cents),
        lines=(ReceiptLine(invoice_no="HAND01", amount=cents_to_decimal(cents), prepayment=True),))
    assert DemoCompanyWriter(path / "sage.sqlite3").post_card_receipt(receipt).created


def test_sales_not_in_sage_are_parked_then_moved_to_clearing_when_their_receipt_posts(settled):
    """The pipeline left some payments unposted (receivable exceptions); their batches were deposited.
    Clearing nets to zero for every deposit, parked sales wait in unposted sales; once a clerk posts
    one, the next runs move it to clearing, and a re-run changes nothing."""
    path = settled["path"]
    parked = parked_sales_in_sage(path)
    assert parked and all(cents > 0 for cents in parked.values())
    assert all(net == 0 for net in clearing_net_by_deposit(path).values()), clearing_net_by_deposit(path)
    kinds = {kind for (kind,) in rows(path, "SELECT kind FROM pipeline.settlement_exceptions")}
    assert "batch_transactions_not_posted" in kinds

    transaction_id = min(parked)
    post_by_hand(path, transaction_id)
    (day,), = rows(path, "SELECT business_date FROM pipeline.paytrace_transactions "
                         f"WHERE transaction_id = {transaction_id}")
    settled["run"]("paytrace_daily_job", day)  # the log confirms it from Sage
    result = settled["run"]("settlement_daily_job", day)

    reclass = sage_rows(path, "SELECT EntryNo FROM GL_GeneralJournalHistory WHERE UDF_PAYTRACE_REF = ?",
                        (f"PT-S{transaction_id}",))
    assert len(reclass) == 1
    after = parked_sales_in_sage(path)
    assert after[transaction_id] == 0 and {t: c for t, c in after.items() if t != transaction_id} == {
        t: c for t, c in parked.items() if t != transaction_id}
    nets = clearing_net_by_deposit(path)
    assert nets and all(net == 0 for net in nets.values()), nets
    assert all(check.passed for check in result.get_asset_check_evaluations())

    before = sage_rows(path, "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting")
    settled["run"]("settlement_daily_job", day)
    assert sage_rows(path, "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting") == before


def balance(reader, account: str) -> Decimal:
    key = next(gl.account_key for gl in reader.gl_accounts() if gl.account == account)
    return sum((Decimal(str(row["DebitAmount"])) - Decimal(str(row["CreditAmount"]))
                for row in reader.rows_where("GL_DetailPosting", "AccountKey", key, ["DebitAmount", "CreditAmount"])),
               Decimal("0"))


def test_a_recorded_write_off_clears_the_missing_deposit_once_and_resolves_its_exception(settled):
    """A person decides the planted missing deposit will never come: the next settlement run posts
    PT-W… once, the receivable holds nothing more for the batch and its exception reads resolved."""
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader
    from sage_paytrace_pipeline.settlement.write_offs import WriteOffStore, receivable_in_sage, record_write_off

    path = settled["path"]
    batch = next(entry.batch_numbers[0] for entry in settled["truth"].entries if entry.amount_cents is None)
    reader = Sage100Reader.for_sqlite(path / "sage.sqlite3")
    owed = receivable_in_sage(reader, "1260-00").open_for(batch)
    assert owed > 0
    bad_debt = balance(reader, "6170-00")
    with duckdb.connect(str(path / "warehouse.duckdb")) as connection:
        decision = record_write_off(WriteOffStore(connection), load_config(path / "config.yaml"), reader,
                                    batch_number=batch, account="6170-00", reason="never funded", by="ann",
                                    decided_on=LAST)
    assert decision.amount_cents == owed
    (day,), = rows(path, f"SELECT DISTINCT business_date FROM pipeline.settlement_reconciliation "
                         f"WHERE batch_number = {batch}")
    settled["run"]("settlement_daily_job", day)
    reference = f"PT-W{batch}-{decision.decision_id}"
    assert rows(path, f"SELECT created FROM pipeline.sage_gl_postings WHERE reference = '{reference}'") == [(True,)]
    assert receivable_in_sage(reader, "1260-00").open_for(batch) == 0
    assert balance(reader, "6170-00") - bad_debt == cents_to_decimal(owed)
    (severity, action), = rows(path, "SELECT severity, action FROM pipeline.settlement_exceptions "
                                     f"WHERE kind = 'deposit_missing' AND batch_number = {batch}")
    assert severity == "info" and action.startswith("resolved: written off") and reference in action

    before = sage_rows(path, "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting")
    settled["run"]("settlement_daily_job", day)
    assert sage_rows(path, "SELECT count(*), sum(DebitAmount), sum(CreditAmount) FROM GL_DetailPosting") == before
    # read back from Sage as written: nothing is planned for the decision again, its exception still resolved
    assert rows(path, f"SELECT created FROM pipeline.sage_gl_postings WHERE reference = '{reference}'") == []
    assert rows(path, "SELECT severity FROM pipeline.settlement_exceptions "
                      f"WHERE kind = 'deposit_missing' AND batch_number = {batch}") == [("info",)]
