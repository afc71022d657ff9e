"""The sync's memory in a real DuckDB file: what a run saves is what the next run loads, the cache of
unplaced profiles and Sage's fingerprint included."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.customers.state_store import SyncStateStore
from sage_paytrace_pipeline.domain.customer_sync import SyncPolicy, SyncState, plan_sync
from sage_paytrace_pipeline_tests.domain.customer_sync.frames import PAYMENT_TYPES, customer, inputs, profile


def test_the_unplaced_profiles_cache_survives_a_save_and_a_load(tmp_path: Path) -> None:
    sync = inputs([profile("V3", "Cy Doe", email="shared@x.example", zip_code="99202"),
                   profile("V4", "Nobody Known", email="nobody@x.example", zip_code="10001")],
                  [customer("CY1", "Cy Doe", email="shared@x.example", zip_code="99202"),
                   customer("CY2", "Cy Doe", email="shared@x.example", zip_code="99202")])
    policy = SyncPolicy(payment_types=PAYMENT_TYPES)
    first = plan_sync(sync, SyncState(), policy)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        SyncStateStore(connection).save(first.state)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        loaded = SyncStateStore(connection).load()
    assert loaded.sage_fingerprint == first.state.sage_fingerprint != ""
    pd.testing.assert_frame_equal(loaded.unmatched.sort_values("vault_id", ignore_index=True),
                                  first.state.unmatched.astype(str).sort_values("vault_id", ignore_index=True),
                                  check_dtype=False)
    again = plan_sync(sync, loaded, policy)
    assert again.cascaded == 0 and again.exceptions["vault_id"].tolist() == first.exceptions["vault_id"].tolist()
