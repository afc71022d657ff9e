"""The pipeline configuration as the code location sees it.

Partitions and the schedule need the merchant's time zone, first day and batch cutoff when the
definitions load, so the YAML file named by SAGE_PAYTRACE_CONFIG is read at load time: a bad key
stops the code location with the key's path. Without the variable the documented defaults apply
(the UI still loads), and `PipelineSettings` fails every run at its start naming each missing
variable, so nothing runs half-configured.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import dagster as dg
from pydantic import PrivateAttr

from sage_paytrace_pipeline.config import (
    ConfigError,
    PipelineConfig,
    debugging,
    load_config,
    require_environment,
)
from sage_paytrace_pipeline.defs.dagster_internals import OperatorError

CONFIG_VARIABLE = "SAGE_PAYTRACE_CONFIG"


def load_time_config() -> PipelineConfig:
    """The config the definitions are built from: read once per file and version of it, so a process
    that loads definitions again after the variable or the file changed (a test session, the demo)
    never builds them from another config."""
    path = os.environ.get(CONFIG_VARIABLE)
    return _config_at(path, _version(path))


def _version(path: str | None) -> tuple[int, int] | None:
    try:
        stat = os.stat(path) if path else None
    except OSError:
        return None  # load_config names the missing file
    return (stat.st_mtime_ns, stat.st_size) if stat else None


@cache
def _config_at(path: str | None, version: tuple[int, int] | None) -> PipelineConfig:  # version: the cache key
    with operator_errors(ConfigLoadError):
        return load_config(path) if path else PipelineConfig()


@contextmanager
def operator_errors(shown_as: type[OperatorError]) -> Iterator[None]:
    """A `ConfigError` inside becomes `shown_as`: its sentence alone wherever Dagster shows it (the
    code location's error, a run's failure). SAGE_PAYTRACE_DEBUG=1 keeps the original and its traceback."""
    try:
        yield
    except ConfigError as error:
        if debugging() or isinstance(error, OperatorError):
            raise
        raise shown_as(str(error)) from None


class MissingEnvironmentError(OperatorError, ConfigError):
    """Required variables are not set. An `OperatorError`, so Dagster reports this one line as the
    run's error (in the UI too, with no stack under it) instead of wrapping it in "Error executing
    resource_fn on ResourceDefinition"."""


class ConfigLoadError(OperatorError, ConfigError):
    """The config file cannot be used: the code location does not load, and the UI says why in one line."""


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
            with operator_errors(MissingEnvironmentError):
                require_environment()
        with operator_errors(ConfigLoadError):
            self._config = load_config(self.config_path)

    def config(self) -> PipelineConfig:
        if self._config is None:  # direct calls in tests skip setup_for_execution
            self._config = load_config(self.config_path)
        return self._config
