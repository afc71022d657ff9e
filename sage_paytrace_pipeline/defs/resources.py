"""Resources of the code location, wired from environment variables (never literal secrets).

A variable missing when the definitions load is wired as an empty value instead of `dg.EnvVar`, so
the UI still loads and a run fails in `PipelineSettings` with one line naming every missing variable
and what it is for, rather than with Dagster's config-resolution traceback. Runs load the
definitions in their own process and environment, so the two always agree.
"""

import os

import dagster as dg

from sage_paytrace_pipeline.config import warehouse_file
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
    """The DuckDB file. Its folder is made when the warehouse is first opened (defs/warehouse.py)."""
    return str(warehouse_file())


def _from_environment(variable: str) -> dg.EnvVar | str:
    """`dg.EnvVar` when the variable is set; otherwise empty: optional ones stay off, required ones
    fail the run at `PipelineSettings` with the one-line message (see the module docstring)."""
    return dg.EnvVar(variable) if os.environ.get(variable) else ""


@dg.definitions
def resources() -> dg.Definitions:
    config = load_time_config()
    return dg.Definitions(
        # Every step writes the single-writer warehouse, so steps run one after another anyway;
        # one process per step would only add seconds of imports to each.
        executor=dg.in_process_executor,
        resources={
            "settings": PipelineSettings(config_path=_from_environment(CONFIG_VARIABLE)),
            "paytrace": PayTraceResource(
                api_url=_from_environment("PAYTRACE_API_URL"),
                username=_from_environment("PAYTRACE_USERNAME"),
                password=_from_environment("PAYTRACE_PASSWORD"),
                integrator_id=_from_environment("PAYTRACE_INTEGRATOR_ID"),
                time_zone=config.merchant.time_zone,
            ),
            "sage100": Sage100Resource(
                database=_from_environment("SAGE100_DATABASE"),
                names=dict(config.sage.names),
                posting=config.sage.posting,
                writer=config.sage.writer,
                vi_folder=_from_environment("SAGE100_VI_FOLDER"),
            ),
            "warehouse": WarehouseResource(database=warehouse_path()),
            "io_manager": WarehouseIOManager(database=warehouse_path(), schema=WAREHOUSE_SCHEMA),
        }
    )
