"""The only place this project reaches into Dagster's private modules (`dagster._...`), and why.

Dagster 1.13 exports no public name for these, and each is needed:
- `DbIOManager`, `DbTypeHandler`, `TableSlice`: the extension points of the database IO managers.
  `dagster_duckdb.DuckDBIOManager.type_handlers()` and `create_io_manager()` are declared with them,
  and `defs/warehouse.py` overrides both (typed empty partitions, a connection closed on errors).
- `SerializableErrorInfo`: the error a failed step's event carries (`step_failure_data.error`),
  which the run-failure alerts unwrap and describe.
- `use_db_client`: `DbIOManager` takes its database client only as a private attribute, and the
  stock DuckDB client leaks its connection when a step fails.
- `DagsterUserCodeProcessError`: the one error Dagster reports by an error description it is handed
  (`serializable_error_info_from_exc_info` hoists it) instead of one it makes from the traceback.
  `OperatorError` uses it so that the UI shows an operator's mistake (a misspelled config key, a
  missing variable) as the project's one sentence, with no stack under it.
- `event_log_storage.free_concurrency_slots_for_run`: a run in the caller's own process that is
  interrupted (Ctrl-C, a test's timeout) keeps its pool slots; Dagster frees them only through run
  monitoring, which in-process runs lack, so the next run would wait for the slot forever.

Kept in one module so a Dagster upgrade that moves them breaks here, in one place, and the rest of
the code imports only `dagster` and this module.
"""

from dagster import DagsterInstance
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TableSlice,
)
from dagster._utils.error import SerializableErrorInfo

__all__ = ["DbIOManager", "DbTypeHandler", "OperatorError", "SerializableErrorInfo", "TableSlice", "free_pool_slots",
           "use_db_client"]


class OperatorError(DagsterUserCodeProcessError):
    """An error whose message says everything an operator needs: Dagster shows the message alone.

    Raised where Dagster catches it as it is (a `DagsterError` passes through Dagster's user-code
    boundaries unwrapped), Dagster describes it by the description given here, which has no stack:
    the code location's load error in the UI and a run's failure read as the one sentence.
    """

    def __init__(self, message: str) -> None:
        description = SerializableErrorInfo(message=f"{message}\n", stack=[], cls_name=type(self).__name__)
        super().__init__(message, user_code_process_error_infos=[description])


def use_db_client(manager: DbIOManager, client: DbClient) -> DbIOManager:
    """The manager, now reading and writing through `client`."""
    manager._db_client = client
    return manager


def free_pool_slots(instance: DagsterInstance, run_id: str) -> None:
    """Give back every pool slot the run still holds (none once a run ended normally)."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
