"""The root dagster.yaml is a working production instance on the local PostgreSQL."""

import os
import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from sage_paytrace_pipeline_tests.defs.paytrace.test_assets import load_two_days, materialize_day

REPO = Path(__file__).resolve().parents[1]
PG_DEFAULTS = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "postgres",
               "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": "test"}


@pytest.fixture
def postgres_instance_home(tmp_path, monkeypatch) -> Path:
    for name, value in PG_DEFAULTS.items():
        monkeypatch.setenv(name, os.environ.get(name, value))
    try:
        psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=os.environ["DAGSTER_PG_PORT"],
                         user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"],
                         dbname=os.environ["DAGSTER_PG_DB"], connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {os.environ['DAGSTER_PG_HOST']}:{os.environ['DAGSTER_PG_PORT']}: {error}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")  # artifacts stay out of the repo
    return home


@pytest.mark.postgres
def test_production_instance_settings(postgres_instance_home):
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        settings = instance.get_concurrency_config()
        assert settings.pool_config.default_pool_limit == 1
        assert settings.run_queue_config.max_concurrent_runs == 4
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2


@pytest.mark.postgres
@pytest.mark.slow
def test_a_day_materializes_on_the_postgres_instance(postgres_instance_home, paytrace_sandbox, tmp_path):
    load_two_days(paytrace_sandbox)
    with dg.DagsterInstance.from_config(str(postgres_instance_home)) as instance:
        result = materialize_day(paytrace_sandbox, tmp_path / "wh.duckdb", instance=instance)
        assert result.success
        record = instance.get_latest_materialization_event(dg.AssetKey("paytrace_transactions"))
        assert record is not None and record.run_id == result.run_id
