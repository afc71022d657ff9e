"""Recorded suggestion decisions read back from the warehouse are what the ranking learns from."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from sage_paytrace_pipeline.anomalies.decisions import Suggestion, decided, record
from sage_paytrace_pipeline.domain.suggestions import SuggestionPolicy
from sage_paytrace_pipeline.domain.suggestions.learning import learned_policy

NOW = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def suggestion(transaction_id: int, reasons: str) -> Suggestion:
    return Suggestion(transaction_id, date(2026, 3, 4), 1, "customer", "01", "ACME", "", 40.0, reasons, "")


def test_no_decisions_table_means_rules(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        assert decided(connection).empty
        assert learned_policy(decided(connection), SuggestionPolicy()) == SuggestionPolicy()


def test_recorded_decisions_teach_the_ranking(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        for number in range(20):
            record(connection, suggestion(number, "same ZIP"), "rejected", by="mjones", now=NOW)
            record(connection, suggestion(100 + number, "same e-mail domain"), "accepted", by="mjones", now=NOW)
        examples = decided(connection)
    assert len(examples) == 40 and set(examples["decision"]) == {"accepted", "rejected"}
    learned = learned_policy(examples, SuggestionPolicy(learn_after=30))
    assert learned.zip_code < SuggestionPolicy().zip_code < SuggestionPolicy().email_domain < learned.email_domain
