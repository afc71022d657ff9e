"""The pipeline configuration as the code location sees it.

Partitions and the schedule need the merchant's time zone, first day and batch cutoff when the
definitions load, so the YAML file named by SAGE_PAYTRACE_CONFIG is read at load time: a bad key
stops the code location with the key's path. Without the variable the documented defaults apply
(the UI still loads), and `PipelineSettings` fails every run at its start naming each missing
variable, so nothing runs half-configured.
"""

from __future__ import annotations

import os
from functools import cache

import dagster as dg
from pydantic import PrivateAttr

from sage_paytrace_pipeline.config import (
    ConfigError,
    PipelineConfig,
    load_config,
    require_environment,
)

CONFIG_VARIABLE = "SAGE_PAYTRACE_CONFIG"


@cache
def load_time_config() -> PipelineConfig:
    """The config the definitions are built from (read once per process)."""
    path = os.environ.get(CONFIG_VARIABLE)
    return load_config(path) if path else PipelineConfig()


class MissingEnvironmentError(ConfigError, dg.DagsterError):
    """Required variables are not set. A `DagsterError`, so Dagster reports this one line as the
    run's error instead of wrapping it in "Error executing resource_fn on ResourceDefinition"."""


class PipelineSettings(dg.ConfigurableResource):
    """The validated YAML configuration for a run; checks the whole environment when the run starts.

    Every asset takes it, so the first step of any run fails on a missing variable or a bad key,
    before anything is read or written.
    """

    config_path: str
    # Off only where a test hands every resource over explicitly instead of through the environment.
    check_environment: bool = True

    _config: PipelineConfig | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.check_environment:
            try:
                require_environment()
            except ConfigError as error:
                raise MissingEnvironmentError(str(error)) from None
        self._config = load_config(self.config_path)

    def config(self) -> PipelineConfig:
        if self._config is None:  # direct calls in tests skip setup_for_execution
            self._config = load_config(self.config_path)
        return self._config
