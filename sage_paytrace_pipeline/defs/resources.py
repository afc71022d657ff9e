"""Resources of the code location, wired from environment variables (never literal secrets)."""

import os
from pathlib import Path

import dagster as dg

from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.defs.settings import (
    CONFIG_VARIABLE,
    PipelineSettings,
    load_time_config,
)
from sage_paytrace_pipeline.defs.warehouse import WarehouseIOManager, WarehouseResource

WAREHOUSE_SCHEMA = "pipeline"


def warehouse_path() -> str:
    """The DuckDB file; its folder is created so a first `dagster dev` does not fail on it."""
    path = Path(os.environ.get("SAGE_PAYTRACE_WAREHOUSE", ".sage_paytrace/warehouse.duckdb"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def _optional(variable: str) -> dg.EnvVar | str:
    return dg.EnvVar(variable) if os.environ.get(variable) else ""


@dg.definitions
def resources() -> dg.Definitions:
    config = load_time_config()
    return dg.Definitions(
        # Every step writes the single-writer warehouse, so steps run one after another anyway;
        # one process per step would only add seconds of imports to each.
        executor=dg.in_process_executor,
        resources={
            "settings": PipelineSettings(config_path=dg.EnvVar(CONFIG_VARIABLE)),
            "paytrace": PayTraceResource(
                api_url=dg.EnvVar("PAYTRACE_API_URL"),
                username=dg.EnvVar("PAYTRACE_USERNAME"),
                password=dg.EnvVar("PAYTRACE_PASSWORD"),
                integrator_id=_optional("PAYTRACE_INTEGRATOR_ID"),
                time_zone=config.merchant.time_zone,
            ),
            "sage100": Sage100Resource(
                database=dg.EnvVar("SAGE100_DATABASE"),
                names=dict(config.sage.names),
                posting=config.sage.posting,
                writer=config.sage.writer,
                vi_folder=_optional("SAGE100_VI_FOLDER"),
            ),
            "warehouse": WarehouseResource(database=warehouse_path()),
            "io_manager": WarehouseIOManager(database=warehouse_path(), schema=WAREHOUSE_SCHEMA),
        }
    )
