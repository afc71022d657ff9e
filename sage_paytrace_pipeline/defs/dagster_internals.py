"""The only place this project reaches into Dagster's private modules (`dagster._...`), and why.

Dagster 1.13 exports no public name for these, and each is needed:
- `DbIOManager`, `DbTypeHandler`, `TableSlice`: the extension points of the database IO managers.
  `dagster_duckdb.DuckDBIOManager.type_handlers()` and `create_io_manager()` are declared with them,
  and `defs/warehouse.py` overrides both (typed empty partitions, a connection closed on errors).
- `SerializableErrorInfo`: the error a failed step's event carries (`step_failure_data.error`),
  which the run-failure alerts unwrap and describe.
- `use_db_client`: `DbIOManager` takes its database client only as a private attribute, and the
  stock DuckDB client leaks its connection when a step fails.

Kept in one module so a Dagster upgrade that moves them breaks here, in one place, and the rest of
the code imports only `dagster` and this module.
"""

from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TableSlice,
)
from dagster._utils.error import SerializableErrorInfo

__all__ = ["DbIOManager", "DbTypeHandler", "SerializableErrorInfo", "TableSlice", "use_db_client"]


def use_db_client(manager: DbIOManager, client: DbClient) -> DbIOManager:
    """The manager, now reading and writing through `client`."""
    manager._db_client = client
    return manager
