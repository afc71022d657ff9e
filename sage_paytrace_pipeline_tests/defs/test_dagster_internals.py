"""The private Dagster calls this project relies on, checked against the installed Dagster."""

import dagster as dg

from sage_paytrace_pipeline.defs.dagster_internals import free_pool_slots


def test_an_interrupted_runs_pool_slot_is_given_back():
    # The demo's instance has one slot per pool: a run interrupted while holding it (Ctrl-C, a
    # test's timeout) would make every later run in the process wait for it forever.
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb", 1)
        assert storage.claim_concurrency_slot("duckdb", "interrupted-run", "post_cash_receipts").is_claimed
        assert not storage.claim_concurrency_slot("duckdb", "next-run", "match_payments").is_claimed

        free_pool_slots(instance, "interrupted-run")

        assert storage.get_concurrency_info("duckdb").active_slot_count == 0
        assert storage.claim_concurrency_slot("duckdb", "next-run", "match_payments").is_claimed


def test_freeing_a_run_that_holds_nothing_changes_nothing():
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb", 1)
        assert storage.claim_concurrency_slot("duckdb", "running", "match_payments").is_claimed

        free_pool_slots(instance, "finished-normally")

        assert storage.get_concurrency_info("duckdb").active_run_ids == {"running"}
