"""The checks that guard money are blocking: when one fails, nothing downstream of its asset runs."""

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline.defs.settlement import checks

MONEY_CHECKS = {
    ("payment_applications", "applications_sum_to_payment"),
    ("sage_cash_receipts", "no_transaction_posted_twice"),
    ("gl_journal_entries", "journals_balance"),
    ("sage_gl_postings", "clearing_nets_to_zero"),
    # Refund requests: money leaves only once and never above what a sale allows.
    ("sage_refund_requests", "no_refund_sent_twice"),
    ("sage_refund_requests", "refunds_within_sale"),
    # Dispute cases: each case stage's GL entry balanced and posted once.
    ("dispute_postings", "dispute_entries_balance"),
    ("dispute_postings", "no_case_posted_twice"),
}


def test_the_money_checks_of_the_code_location_are_blocking():
    graph = defs().resolve_asset_graph()
    blocking = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys
                if graph.get_check_spec(key).blocking}
    assert blocking == MONEY_CHECKS


def test_an_unbalanced_journal_stops_the_posting_downstream():
    # One entry whose debits exceed its credits by a cent, checked by the real `journals_balance`.
    lines = pd.DataFrame({"reference": ["PT-DEP-1", "PT-DEP-1"], "debit_cents": [10_001, 0],
                          "credit_cents": [0, 10_000]})
    posted = []

    @dg.asset(check_specs=[dg.AssetCheckSpec("journals_balance", asset="gl_journal_entries", blocking=True)])
    def gl_journal_entries():
        yield dg.Output(lines)
        yield checks.journals_balance(lines)

    @dg.asset(deps=[gl_journal_entries])
    def sage_gl_postings() -> None:
        posted.append("posted")

    result = dg.materialize([gl_journal_entries, sage_gl_postings], raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert not result.success and posted == []
    assert not result.asset_materializations_for_node("sage_gl_postings")
