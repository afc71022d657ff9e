"""`sage-paytrace suggestions accept|reject`: a decision becomes a customer link the next run uses, recorded with who
and when."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.receivables.invoice_choices import read_choices

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
DAY = date(2026, 3, 4)


@pytest.fixture
def stored(tmp_path, monkeypatch) -> Path:
    """A warehouse holding a day's suggestions: a vault payer (customers), a keyed payer, an unapplied payment."""
    suggestions = pd.DataFrame({
        "business_date": [DAY] * 4, "transaction_id": [11, 11, 12, 13], "exception_kind": [
            "ambiguous_customer", "ambiguous_customer", "unknown_customer", "unapplied_payment"],
        "rank": [1, 2, 1, 1], "target": ["customer", "customer", "customer", "invoice"],
        "division": ["01"] * 4, "customer_no": ["ACMEWST", "ACMEEST", "BAKER", "BAKER"],
        "invoice_nos": ["", "", "", "0000601"], "score": [60.0, 35.0, 40.0, 45.0],
        "reasons": ["same e-mail; amount equals one of its open invoices", "same e-mail", "name similarity 96",
                    "amount equals its balance"]})
    payments = pd.DataFrame({"business_date": [DAY] * 3, "transaction_id": [11, 12, 13],
                             "customer_id": ["VAULT-11", None, "VAULT-13"]})
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA pipeline")
        for name, frame in (("exception_suggestions", suggestions), ("paytrace_transactions", payments)):
            connection.register("rows", frame)
            connection.execute(f"CREATE TABLE pipeline.{name} AS SELECT * FROM rows")
            connection.unregister("rows")
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())
    monkeypatch.setenv("SAGE_PAYTRACE_WAREHOUSE", str(path))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    return path


def decisions(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("SELECT transaction_id, rank, customer_no, decision, decided_by "
                                  "FROM pipeline.suggestion_decisions ORDER BY decided_at").fetchall()


def test_accepting_a_customer_links_the_vault_id_and_records_who(stored, capsys):
    assert main(["suggestions", "reject", "11", "--candidate", "2", "--by", "ana"]) == 0
    assert main(["suggestions", "accept", "11", "--by", "ana"]) == 0
    assert "linked vault customer VAULT-11 to 01-ACMEWST" in capsys.readouterr().out
    config = load_config(Path(os.environ["SAGE_PAYTRACE_CONFIG"]))
    assert config.customer_links == {"VAULT-11": "01-ACMEWST"}
    assert decisions(stored) == [(11, 2, "ACMEEST", "rejected", "ana"), (11, 1, "ACMEWST", "accepted", "ana")]


@pytest.mark.parametrize(("argv", "says"), [
    (["suggestions", "accept", "12"], "no PayTrace vault customer id"),
    (["suggestions", "accept", "13"], "invoice(s) 0000601 of 01-BAKER"),
    (["suggestions", "accept", "11", "--candidate", "3"], "--candidate 3 is not one"),
    (["suggestions", "accept", "99"], "transaction 99 has no suggestions"),
])
def test_what_cannot_become_a_link_is_refused_and_nothing_recorded(stored, capsys, argv, says):
    assert main(argv) == 1
    assert says in capsys.readouterr().err
    with duckdb.connect(str(stored), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "suggestion_decisions" not in tables


def test_accepting_one_invoice_becomes_the_consoles_invoice_choice(stored, capsys):
    # With a decisions store (a `console:` section) an accepted invoice suggestion is recorded as the
    # console's "apply to an invoice" is: the next run gives the payment that invoice (receivables).
    config = Path(os.environ["SAGE_PAYTRACE_CONFIG"])
    config.write_text(config.read_text() + "\nconsole:\n  users:\n    ana:\n      role: clerk\n")
    assert main(["suggestions", "accept", "13", "--by", "ana"]) == 0
    assert "applied transaction 13 to invoice 0000601 of 01-BAKER" in capsys.readouterr().out
    choices = read_choices(f"sqlite:///{stored.parent / 'console.sqlite3'}", [13])
    assert choices.to_dict("records") == [{"transaction_id": 13, "division": "01", "customer_no": "BAKER",
                                           "invoice_no": "0000601", "decided_by": "ana"}]
    assert decisions(stored) == [(13, 1, "BAKER", "accepted", "ana")]
