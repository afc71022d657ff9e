"""A short fault campaign end to end: three days through the real pipeline on a real Dagster instance
while PayTrace fails in every way, the Sage demo company fails mid-deposit, a run worker is killed
between Sage and the warehouse, two workers run one day at once and a GL journal write fails. Sage
must then hold each approved payment exactly once, every balance right to the cent."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.sandbox.reliability.campaign import CampaignOptions, run_campaign

pytestmark = pytest.mark.slow  # about three minutes on two cores

PAYTRACE_KINDS = {"http_500", "http_502", "http_503", "http_504", "http_429", "html_block", "latency",
                  "timeout_after_commit", "drop_connection"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_campaign(CampaignOptions(days=3, seed=1, home=tmp_path_factory.mktemp("campaign") / "faults"))


def test_every_fault_kind_was_injected(report):
    faults = report["faults"]
    assert set(faults["paytrace_during_runs"]) >= PAYTRACE_KINDS, faults["paytrace_during_runs"]
    assert {"timeout_after_commit", "drop_connection", "http_503"} <= set(faults["paytrace_during_web_store_sales"])
    assert faults["tokens_expired"] > 0 and faults["tokens_issued"] > report["runs"]["total"]
    assert faults["sage_demo_company"] == {"post_card_receipt:crash": 1, "post_card_receipt:fail": 1,
                                           "post_journal_entry:fail": 1}
    assert (faults["workers_killed"], faults["concurrent_runs"]) == (1, 2)


def test_every_failure_is_visible_and_every_day_ends_posted(report):
    runs = report["runs"]
    assert runs["gave_up"] == [] and runs["failed"] >= 1 and runs["re_runs"] >= 1, runs["failures"]  # the kill
    assert runs["retried_steps"] >= 4, "the export bursts and the Sage write failures are retried steps"
    assert report["faults"]["sage_faults_unseen"] == 0, "each Sage fault failed or retried a step (or killed a worker)"


def test_sage_holds_each_approved_payment_exactly_once_and_the_books_balance(report):
    books = report["books"]
    assert books["approved_sales"] > 50
    assert books["posted_once"] + books["excepted"] == books["approved_sales"]
    for problem in ("duplicates", "missing", "posted_not_approved", "amount_mismatches", "invoice_balance_errors",
                    "unbalanced_journals", "duplicate_journal_entries", "double_charges"):
        assert books[problem] == [], problem
    assert books["invoices_checked"] > 100 and books["journals_checked"] > 0
    assert report["ok"]
