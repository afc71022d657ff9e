"""Writing off what the processor receivable holds for a batch, by a recorded decision, on the demo company:
posted once to the cent (PT-W…), read back from Sage, refused decisions write nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy
from sage_paytrace_pipeline.domain.settlement.write_offs import WRITE_OFF_REFUSED, resolved_by_write_offs
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.day import post_journal_entries
from sage_paytrace_pipeline.settlement.write_offs import (
    WriteOffRefused,
    WriteOffStore,
    receivable_in_sage,
    record_write_off,
    write_off_plan,
)
from sage_paytrace_pipeline_tests.domain.settlement.builders import MON, NEXT_MON, TUE, Scenario
from sage_paytrace_pipeline_tests.sage100.conftest import company, company_template, writer  # noqa: F401 (fixtures)
from sage_paytrace_pipeline_tests.settlement.test_short_deposits import RECEIVABLE, balances, gl_journal_lines

BAD_DEBT = "6170-00"  # Bad Debt Expense in the demo chart
CONFIG = PipelineConfig(settlement=SettlementPolicy(discount_method="monthly"))
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def short_and_missing(company: Path, writer) -> Sage100Reader:  # noqa: F811
    """Batch 1 deposited 3.50 short, batch 2 (40.00) never deposited: 43.50 in the processor receivable."""
    reader = Sage100Reader.for_sqlite(company)
    scenario = Scenario().batch(1, MON).batch(2, MON)
    scenario.sale(1, "VISA", 10_000)
    scenario.sale(2, "VISA", 4_000)
    scenario.deposit(TUE, 9_650)
    post_journal_entries(writer, gl_journal_lines(scenario, reader))
    return reader


def posted_lines(plan) -> pd.DataFrame:
    """The plan's lines as the settlement asset hands them to `post_journal_entries`."""
    return plan.lines.merge(plan.entries.drop(columns=["debit_cents", "credit_cents"]), on="reference", how="left")


@pytest.fixture
def store(tmp_path):
    store = WriteOffStore(duckdb.connect(str(tmp_path / "warehouse.duckdb")))
    yield store
    store.connection.close()


def test_a_write_off_clears_the_receivable_once_to_the_cent_and_resolves_the_exception(company, writer, store):  # noqa: F811
    before = balances(Sage100Reader.for_sqlite(company), [RECEIVABLE, BAD_DEBT])
    reader = short_and_missing(company, writer)
    held = receivable_in_sage(reader, RECEIVABLE)
    assert (held.open_for(1), held.open_for(2)) == (350, 4_000)

    missing = record_write_off(store, CONFIG, reader, batch_number=2, account=BAD_DEBT, reason="Processor: never "
                               "funded", by="ann", decided_on=NEXT_MON)
    assert (missing.amount_cents, missing.open_cents) == (4_000, 4_000)
    short = record_write_off(store, CONFIG, reader, batch_number=1, account=BAD_DEBT, reason="Rounding dispute lost",
                             by="ann", decided_on=NEXT_MON, amount_cents=350)
    plan = write_off_plan(CONFIG, reader, store.decisions())
    assert plan.exceptions.empty
    assert plan.entries[["reference", "debit_cents", "credit_cents"]].values.tolist() == [
        [f"PT-W2-{missing.decision_id}", 4_000, 4_000], [f"PT-W1-{short.decision_id}", 350, 350]]
    assert plan.lines.groupby("reference")[["debit_cents", "credit_cents"]].sum().pipe(
        lambda sums: (sums["debit_cents"] == sums["credit_cents"]).all())

    posted = post_journal_entries(writer, posted_lines(plan))
    assert posted["created"].all() and len(posted) == 2
    moved = {account: balance - before[account]
             for account, balance in balances(reader, [RECEIVABLE, BAD_DEBT]).items()}
    assert moved == {RECEIVABLE: Decimal("0.00"), BAD_DEBT: Decimal("43.50")}

    # the next run reads the write-offs back from Sage: nothing more to post, the batches resolved
    again = write_off_plan(CONFIG, reader, store.decisions())
    assert again.entries.empty and again.exceptions.empty
    assert not post_journal_entries(writer, posted_lines(plan))["created"].any()  # and Sage posts a reference once
    assert balances(reader, [RECEIVABLE])[RECEIVABLE] == before[RECEIVABLE]
    exceptions = pd.DataFrame({"kind": ["deposit_missing", "deposit_variance", "deposit_missing"],
                               "severity": ["error", "error", "error"], "batch_number": [2, 1, 7],
                               "source_ids": ["", "", ""], "problem": ["", "", ""], "action": ["", "", ""]})
    resolved = resolved_by_write_offs(exceptions, again.resolved)
    assert resolved["severity"].tolist() == ["info", "info", "error"]
    assert resolved["action"].iloc[0].startswith(f"resolved: written off $40.00 (entry PT-W2-{missing.decision_id}")

    with pytest.raises(WriteOffRefused, match="holds nothing for batch 2"):
        record_write_off(store, CONFIG, reader, batch_number=2, account=BAD_DEBT, reason="again", by="bob",
                         decided_on=NEXT_MON)


def test_refused_decisions_write_nothing(company, writer, store):  # noqa: F811
    reader = short_and_missing(company, writer)
    refusals = [
        (dict(batch_number=3, account=BAD_DEBT), "holds nothing for batch 3: check the batch number"),
        (dict(batch_number=1, account=BAD_DEBT, amount_cents=351), r"\$3.51 is more than the \$3.50"),
        (dict(batch_number=1, account="9999-00"), "9999-00 is not an active Sage account"),
        (dict(batch_number=1, account=RECEIVABLE), "other than the processor receivable"),
        (dict(batch_number=1, account=BAD_DEBT, reason="  "), "say why"),
    ]
    for arguments, message in refusals:
        with pytest.raises(WriteOffRefused, match=message):
            record_write_off(store, CONFIG, reader, **{"reason": "x", "by": "ann", "decided_on": NEXT_MON,
                                                       **arguments})
    assert store.decisions().empty
    partial = record_write_off(store, CONFIG, reader, batch_number=2, account=BAD_DEBT, reason="part", by="ann",
                               decided_on=NEXT_MON, amount_cents=1_000)
    with pytest.raises(WriteOffRefused, match=r"\$30.01 is more than the \$30.00"):  # the decided 10.00 counts
        record_write_off(store, CONFIG, reader, batch_number=2, account=BAD_DEBT, reason="rest", by="ann",
                         decided_on=NEXT_MON, amount_cents=3_001)
    assert store.decisions()["decision_id"].tolist() == [partial.decision_id]


def test_a_decision_the_books_no_longer_allow_is_refused_by_the_run_and_posts_nothing(company, writer, store):  # noqa: F811
    reader = short_and_missing(company, writer)
    store.add(1, BAD_DEBT, amount_cents=500, reason="typed by hand", by="ann", decided_on=NEXT_MON)  # above 3.50
    plan = write_off_plan(CONFIG, reader, store.decisions())
    assert plan.entries.empty
    assert plan.exceptions["kind"].tolist() == [WRITE_OFF_REFUSED]
    assert "holds only $3.50 for batch 1" in plan.exceptions["problem"].iloc[0]
    assert "cancel-write-off 1" in plan.exceptions["action"].iloc[0]


def test_the_cli_records_lists_and_cancels_a_decision(company, writer, tmp_path, monkeypatch, capsys):  # noqa: F811
    short_and_missing(company, writer)
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())
    monkeypatch.setenv("SAGE100_DATABASE", str(company))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    assert main(["settlement", "write-off", "2", "--account", BAD_DEBT, "--reason", "never funded", "--by",
                 "ann"]) == 0
    assert "write-off #1 by ann: $40.00 of batch 2's $40.00 in the processor receivable to 6170-00" in \
        capsys.readouterr().out
    assert main(["settlement", "write-off", "2", "--account", BAD_DEBT, "--reason", "twice", "--by", "ann"]) == 1
    assert "holds nothing for batch 2 ($40.00 of it decided already" in capsys.readouterr().err
    assert main(["settlement", "write-offs"]) == 0
    assert capsys.readouterr().out.startswith("#1\tbatch 2\tall open\t6170-00\tby ann")
    assert main(["settlement", "cancel-write-off", "1", "--by", "ann"]) == 0
    assert "write-off #1 cancelled" in capsys.readouterr().out
    assert main(["settlement", "write-offs"]) == 0
    assert capsys.readouterr().out == ""
