"""The warehouse I/O manager: DuckDB tables per asset, a partition's rows replaced on each run.

It differs from `DuckDBPandasIOManager` in ways that matter for a ledger pipeline:
- an empty partition still gets its table (typed; the partition column DATE), so a day with no
  exceptions loads downstream as an empty frame instead of failing on a missing table, and a
  re-run that resolves every exception leaves an empty slice rather than yesterday's rows;
- rows are inserted by column name, and an all-null column becomes VARCHAR, not DuckDB's NULL
  type that would refuse the first real value; an object column of dates becomes DATE;
- a table holding no rows yet (made from empty frames, whose column types are guesses) is made
  again from the first frame with rows;
- a column a newer version adds is added to the existing table (older rows get NULL), so an
  upgrade does not need the warehouse rebuilt;
- a table of snapshots (asset metadata `AS_OF`) loads, for a window of days, the latest snapshot
  stored on or before its first day with those stored inside it: a range run stores Sage once, as
  it found it, instead of one copy a day (a year's run would otherwise write the whole open-item
  file 365 times), and a later day's input is the snapshot it lives under (`ranges.as_of`).
"""

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pandas as pd
from dagster import InputContext, OutputContext
from dagster_duckdb import DuckDBIOManager, DuckDBResource
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from sage_paytrace_pipeline.defs.dagster_internals import (
    DbIOManager,
    DbTypeHandler,
    TableSlice,
    use_db_client,
)

_F = TypeVar("_F", bound=Callable[..., Any])
# Asset metadata of a snapshot table: a day's input is the latest snapshot on or before the day.
AS_OF = {"warehouse/load": "as_of"}


class WarehouseTypeHandler(DuckDBPandasTypeHandler):
    def handle_output(self, context: OutputContext, table_slice: TableSlice, obj: pd.DataFrame, connection) -> None:
        table = f"{table_slice.schema}.{table_slice.table}"
        exists = _table_exists(connection, table_slice)
        if exists and not obj.empty and _is_empty(connection, table):
            # made from empty frames so far, its column types are guesses (a column with no values is
            # NULL, object or float); the first rows decide them
            connection.execute(f"DROP TABLE {table}")
            exists = False
        if not exists:
            _create_typed(connection, table, obj, _partition_columns(table_slice))
        else:
            _add_new_columns(connection, table, obj)
        if not obj.empty:
            connection.register("warehouse_rows", obj)
            try:
                connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM warehouse_rows")
            finally:
                connection.unregister("warehouse_rows")
        count_key = "dagster/partition_row_count" if context.has_partition_key else "dagster/row_count"
        context.add_output_metadata({count_key: len(obj)})

    def load_input(self, context: InputContext, table_slice: TableSlice, connection) -> pd.DataFrame:
        if not (_loads_as_of(context) and table_slice.partition_dimensions and context.asset_partition_keys):
            return super().load_input(context, table_slice, connection)
        (dimension,) = table_slice.partition_dimensions
        start, end = cast("tuple[datetime, datetime]", dimension.partitions)
        table, column = f"{table_slice.schema}.{table_slice.table}", dimension.partition_expr
        columns = ", ".join(table_slice.columns) if table_slice.columns else "*"
        return connection.execute(
            f"SELECT {columns} FROM {table} WHERE {column} < ?::DATE AND {column} >= coalesce("
            f"(SELECT max({column}) FROM {table} WHERE {column} <= ?::DATE), ?::DATE)",
            [end.date(), start.date(), start.date()]).fetchdf()


class WarehouseIOManager(DuckDBIOManager):
    """`DuckDBPandasIOManager` with the empty-partition and typing fixes above."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [WarehouseTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        # the stock client leaks its connection on errors
        return use_db_client(super().create_io_manager(context), ClosingDuckDbClient())


# dagster_duckdb's connection context managers close the connection only when the block ends
# normally. A step that fails inside one (a Sage write error while the posting log is open) keeps
# the file's lock for as long as the error lives, so every other run process fails on "Could not
# set lock". These close it on the way out of any block.


class ClosingDuckDbClient(DuckDbClient):
    @staticmethod
    @contextmanager
    def connect(context, table_slice):
        make_folder_for(context.resource_config["database"])
        with _closing(DuckDbClient.connect(context, table_slice)) as connection:
            yield connection


class WarehouseResource(DuckDBResource):
    """`DuckDBResource` whose `get_connection` closes the connection when the block raises, too."""

    @contextmanager
    def get_connection(self):
        make_folder_for(self.database)
        with _closing(super().get_connection()) as connection:
            yield connection


def make_folder_for(database: str) -> None:
    """The warehouse file's folder, made when the warehouse is first opened (so a first run does not
    fail on it) and not when the definitions load (loading them must create nothing)."""
    if database and database != ":memory:" and not database.startswith("md:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def _closing(stock):
    connection = stock.__enter__()
    try:
        yield connection
    finally:
        connection.close()  # closing twice is harmless; the stock manager closes after a clean exit
        stock.__exit__(None, None, None)


# The catalog is read through duckdb_tables() / duckdb_columns(): information_schema is a view over
# them that costs several times more per query, and every output of every step asks.


def _loads_as_of(context: InputContext) -> bool:
    upstream = context.upstream_output
    metadata = (upstream.definition_metadata if upstream is not None else None) or {}
    return all(metadata.get(key) == value for key, value in AS_OF.items())


def _table_exists(connection, table_slice: TableSlice) -> bool:
    found = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
        [table_slice.schema, table_slice.table]).fetchall()  # fetchall: DuckDB refuses new work on a half-read result
    return bool(found[0][0])


def _columns(connection, table: str) -> list[tuple[str, str]]:
    """(name, type) of each column of `schema.table`, in order."""
    schema, name = table.split(".", 1)
    return connection.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
                              "AND table_name = ? ORDER BY column_index", [schema, name]).fetchall()


def _partition_columns(table_slice: TableSlice) -> set[str]:
    return {dimension.partition_expr for dimension in table_slice.partition_dimensions or []}


def _create_typed(connection, table: str, obj: pd.DataFrame, partition_columns: set[str]) -> None:
    connection.register("warehouse_prototype", obj.head(0))
    try:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM warehouse_prototype")
    finally:
        connection.unregister("warehouse_prototype")
    for name, data_type in _columns(connection, table):
        if data_type in ('"NULL"', "NULL"):
            wanted = "DATE" if name in partition_columns or _holds_dates(obj[name]) else "VARCHAR"
            connection.execute(f'ALTER TABLE {table} ALTER "{name}" TYPE {wanted}')


def _holds_dates(column: pd.Series) -> bool:
    """An object column of `datetime.date` values (pandas has no date dtype): typed DATE, not text."""
    first = column.first_valid_index()
    value = None if first is None else column[first]
    return isinstance(value, date) and not isinstance(value, datetime)


def _is_empty(connection, table: str) -> bool:
    return connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0


def _add_new_columns(connection, table: str, obj: pd.DataFrame) -> None:
    existing = {name for name, _ in _columns(connection, table)}
    missing = [name for name in obj.columns if name not in existing]
    if not missing:
        return
    connection.register("warehouse_prototype", obj[missing].head(0))
    try:
        types = dict(connection.execute("SELECT column_name, column_type FROM "
                                        "(DESCRIBE SELECT * FROM warehouse_prototype)").fetchall())
    finally:
        connection.unregister("warehouse_prototype")
    for name in missing:
        data_type = types.get(name, "VARCHAR")
        data_type = "VARCHAR" if data_type in ('"NULL"', "NULL") else data_type
        connection.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {data_type}')


def holding_the_warehouse(compute: _F) -> _F:
    """Keeps one warehouse connection open while an asset that takes the `warehouse` resource computes
    and its outputs are stored (a generator's outputs are stored as it yields them).

    Opening DuckDB starts a database instance (threads, buffers, catalog): tens of milliseconds on a
    quiet machine, hundreds on a busy one, and a day's run opened the file some forty times (each
    input, each output, each `get_connection`). While one connection is open, further ones on the
    same file in the process share its instance and open in microseconds. Held for the step only, so
    the file is free between steps for other runs (the `duckdb` pool lets one step at a time hold it).
    """
    if not inspect.isgeneratorfunction(compute):
        return compute

    @functools.wraps(compute)
    def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
        warehouse = kwargs.get("warehouse")
        if not isinstance(warehouse, DuckDBResource):
            yield from compute(*args, **kwargs)
            return
        with warehouse.get_connection():
            yield from compute(*args, **kwargs)

    return cast(_F, generator)
