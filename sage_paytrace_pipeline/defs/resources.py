"""Resources of the code location, wired from environment variables (never literal secrets)."""

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb_pandas import DuckDBPandasIOManager

from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.paytrace.settings import PRODUCTION_URL

WAREHOUSE_SCHEMA = "pipeline"


def warehouse_path() -> str:
    """The DuckDB file; its folder is created so a first `dagster dev` does not fail on it."""
    path = Path(os.environ.get("SAGE_PAYTRACE_WAREHOUSE", ".sage_paytrace/warehouse.duckdb"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "paytrace": PayTraceResource(
                api_url=os.environ.get("PAYTRACE_API_URL", PRODUCTION_URL),
                username=dg.EnvVar("PAYTRACE_USERNAME"),
                password=dg.EnvVar("PAYTRACE_PASSWORD"),
                integrator_id=os.environ.get("PAYTRACE_INTEGRATOR_ID", ""),
                time_zone=os.environ.get("PAYTRACE_TIME_ZONE", "America/Los_Angeles"),
            ),
            "sage100": Sage100Resource(database=dg.EnvVar("SAGE100_DATABASE")),
            "io_manager": DuckDBPandasIOManager(
                database=warehouse_path(),
                schema=WAREHOUSE_SCHEMA,
            ),
        }
    )
