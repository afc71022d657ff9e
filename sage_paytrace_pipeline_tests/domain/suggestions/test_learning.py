"""Evidence weights learned from people's decisions: rules until enough decisions, then the data."""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.domain.suggestions import SuggestionPolicy
from sage_paytrace_pipeline.domain.suggestions.learning import evidence_matrix, learned_policy
from sage_paytrace_pipeline.domain.suggestions.policy import CUSTOMER_REASONS
from sage_paytrace_pipeline_tests.domain.suggestions.test_suggestions import payer, ranked, run

ZIP_AND_NAME = "name similarity 92; same ZIP"
DOMAIN = "same e-mail domain"


def decisions(*groups: tuple[str, str, int]) -> pd.DataFrame:
    """(reasons, decision, how many) groups as the decisions table holds them."""
    rows = [("customer", reasons, decision) for reasons, decision, count in groups for _ in range(count)]
    return pd.DataFrame(rows, columns=["target", "reasons", "decision"])


# In this firm's history the clerks kept turning down look-alike names in the payer's ZIP and kept
# accepting the customer whose business e-mail domain the payer used.
HISTORY = decisions((ZIP_AND_NAME, "rejected", 30), (DOMAIN, "accepted", 25), (ZIP_AND_NAME, "accepted", 3),
                    (DOMAIN, "rejected", 2))


def test_the_reasons_read_back_as_the_evidence_they_name():
    matrix = evidence_matrix(pd.Series(["same e-mail; name similarity 80; same ZIP", "", None]), SuggestionPolicy())
    assert matrix.loc[0, "email"] == 1 and matrix.loc[0, "zip_code"] == 1 and matrix.loc[0, "email_domain"] == 0
    assert matrix.loc[0, "name"] == (80 - 60) / 40
    assert matrix.loc[[1, 2]].to_numpy().sum() == 0
    assert set(matrix.columns) == {*CUSTOMER_REASONS, "name"}


def test_rules_rank_until_enough_decisions_with_both_outcomes_exist():
    policy = SuggestionPolicy(learn_after=30)
    assert learned_policy(HISTORY.head(29), policy) == policy
    assert learned_policy(decisions((DOMAIN, "accepted", 40)), policy) == policy  # nothing to tell apart
    assert learned_policy(HISTORY, SuggestionPolicy(learn_after=0)) == SuggestionPolicy(learn_after=0)
    invoices_only = HISTORY.assign(target="invoice")
    assert learned_policy(invoices_only, policy) == policy


def test_decisions_move_the_weights_of_the_evidence_they_saw_and_no_other():
    rules = SuggestionPolicy()
    learned = learned_policy(HISTORY, rules)
    assert learned.email_domain > rules.email_domain
    assert learned.zip_code < rules.zip_code and learned.name < rules.name
    for untouched in ("vault_history", "email", "reference_exact", "amount_open_invoice", "inactive"):
        assert getattr(learned, untouched) == getattr(rules, untouched)


def test_learned_weights_put_the_customer_clerks_choose_first():
    # The payer writes from Acme's domain but its name and ZIP look like Baker Plumbing's.
    someone = payer(9, 4_200, email="jane@acme-ind.com", name="Baker Plumbing", zip5="98101")
    by_rules = run({9: "unknown_customer"}, [someone])
    assert ranked(by_rules, 9)[0] == "01-BAKER"
    by_decisions = run({9: "unknown_customer"}, [someone], policy=learned_policy(HISTORY, SuggestionPolicy()))
    assert ranked(by_decisions, 9)[0] in {"01-ACMEEST", "01-ACMEWST"}
    assert "same e-mail domain" in by_decisions[by_decisions["rank"] == 1].iloc[0]["reasons"]
