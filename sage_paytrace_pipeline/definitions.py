"""The code location: every Dagster object under `defs/` is collected by `load_from_defs_folder`."""

from pathlib import Path

import dagster as dg

from sage_paytrace_pipeline.config import require_environment
from sage_paytrace_pipeline.defs.operator_errors import (
    install_excepthook,
    remember_groups,
    running_the_plain_cli,
)
from sage_paytrace_pipeline.defs.settings import load_time_config


@dg.definitions
def defs() -> dg.Definitions:
    # `dagster asset materialize -m ...` builds these in its own process: a config mistake or a
    # selection Dagster refuses is printed there as one sentence, not a traceback
    # (defs/operator_errors.py). Installed when the definitions are built, not when imported.
    install_excepthook()
    # The config first: a bad key stops the load with its own message, not inside Dagster's
    # report of which file under defs/ failed to build.
    load_time_config()
    if running_the_plain_cli():  # the run starts in this process: say what is missing before it does
        require_environment()
    definitions = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    remember_groups(definitions)
    return definitions
