"""`WarehouseIOManager` on a real DuckDB file: typed tables even when empty, a partition replaced per run."""

from dataclasses import dataclass
from datetime import date, datetime

import dagster as dg
import duckdb
import pandas as pd
import pytest

from sage_paytrace_pipeline.defs.warehouse import AS_OF, WarehouseIOManager

DAYS = dg.DailyPartitionsDefinition(start_date="2026-03-01")
MONDAY, TUESDAY = "2026-03-02", "2026-03-03"
SEEN: list[pd.DataFrame] = []  # what the downstream asset loaded


class Rows(dg.Config):
    rows: int = 0
    note: str | None = None


def exceptions_frame(day: str, rows: int, note: str | None) -> pd.DataFrame:
    business_date = date.fromisoformat(day)
    return pd.DataFrame({
        "business_date": pd.Series([business_date] * rows, dtype=object),
        "transaction_id": pd.Series(range(5000, 5000 + rows), dtype="int64"),
        "amount_cents": pd.Series([1234] * rows, dtype="int64"),
        "kind": pd.Series(["unmapped_payment_type"] * rows, dtype=object),
        "note": pd.Series([note] * rows, dtype=object),  # all null unless a note is given
    })


@dg.asset(partitions_def=DAYS, metadata={"partition_expr": "business_date"})
def day_exceptions(context: dg.AssetExecutionContext, config: Rows) -> pd.DataFrame:
    return exceptions_frame(context.partition_key, config.rows, config.note)


@dg.asset(partitions_def=DAYS, metadata={"partition_expr": "business_date"})
def exception_report(day_exceptions: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(day_exceptions)
    return day_exceptions.assign(reported=True)


@dataclass(frozen=True)
class Warehouse:
    """A DuckDB file behind `WarehouseIOManager`, and runs of the assets above into it."""

    path: str
    instance: dg.DagsterInstance

    def materialize(self, day: str, rows: int, note: str | None = None, *, assets=(day_exceptions,)):
        result = dg.materialize(
            list(assets), partition_key=day, instance=self.instance,
            resources={"io_manager": WarehouseIOManager(database=self.path, schema="pipeline")},
            run_config=dg.RunConfig({"day_exceptions": Rows(rows=rows, note=note)}),
        )
        assert result.success
        return result

    def table(self, name: str = "day_exceptions") -> tuple[dict[str, str], list[tuple]]:
        with duckdb.connect(self.path, read_only=True) as connection:
            types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                            "WHERE table_schema = 'pipeline' AND table_name = ?", [name]).fetchall())
            rows = connection.execute(f"SELECT business_date, transaction_id, amount_cents, kind, note FROM "
                                      f"pipeline.{name} ORDER BY business_date, transaction_id").fetchall()
        return types, rows


@pytest.fixture(scope="module")
def instance():
    """One for the module: a new instance per run costs more than the run itself."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def warehouse(tmp_path, instance) -> Warehouse:
    return Warehouse(str(tmp_path / "warehouse.duckdb"), instance)


def test_empty_then_rows_then_empty_again_replaces_the_partition(warehouse):
    first = warehouse.materialize(MONDAY, 0)
    types, rows = warehouse.table()
    assert types == {"business_date": "DATE", "transaction_id": "BIGINT", "amount_cents": "BIGINT",
                     "kind": "VARCHAR", "note": "VARCHAR"}  # typed though no row ever arrived
    assert rows == []
    metadata = first.asset_materializations_for_node("day_exceptions")[0].metadata
    assert metadata["dagster/partition_row_count"].value == 0

    warehouse.materialize(MONDAY, 2)
    warehouse.materialize(TUESDAY, 1, note="needs a payment type")
    _, rows = warehouse.table()
    monday, tuesday = date(2026, 3, 2), date(2026, 3, 3)
    assert rows == [(monday, 5000, 1234, "unmapped_payment_type", None),
                    (monday, 5001, 1234, "unmapped_payment_type", None),
                    (tuesday, 5000, 1234, "unmapped_payment_type", "needs a payment type")]

    warehouse.materialize(MONDAY, 3)  # a re-run replaces the day's rows, never adds to them
    assert [row[:2] for row in warehouse.table()[1]] == [
        (monday, 5000), (monday, 5001), (monday, 5002), (tuesday, 5000)]

    last = warehouse.materialize(MONDAY, 0)  # every exception resolved
    _, rows = warehouse.table()
    assert rows == [(tuesday, 5000, 1234, "unmapped_payment_type", "needs a payment type")]
    assert last.asset_materializations_for_node("day_exceptions")[0].metadata[
        "dagster/partition_row_count"].value == 0


def test_an_all_null_column_of_the_first_rows_takes_text_later(warehouse):
    warehouse.materialize(MONDAY, 2)  # note is all null: VARCHAR, not DuckDB's NULL type
    assert warehouse.table()[0]["note"] == "VARCHAR"
    warehouse.materialize(TUESDAY, 1, note="a real value")
    assert [row[4] for row in warehouse.table()[1]] == [None, None, "a real value"]


@dg.asset(name="day_exceptions", partitions_def=DAYS, metadata={"partition_expr": "business_date"})
def day_exceptions_untyped_when_empty(context: dg.AssetExecutionContext, config: Rows) -> pd.DataFrame:
    """As pandas hands it over after a merge of nothing: an empty frame whose text columns are float."""
    frame = exceptions_frame(context.partition_key, config.rows, config.note)
    return frame.astype({"kind": "float64", "note": "float64"}) if frame.empty else frame


def test_a_table_made_from_empty_frames_takes_the_types_of_the_first_rows(warehouse):
    warehouse.materialize(MONDAY, 0, assets=(day_exceptions_untyped_when_empty,))
    assert warehouse.table()[0]["kind"] == "DOUBLE"  # a guess: no row has said otherwise yet
    warehouse.materialize(TUESDAY, 1, note="text", assets=(day_exceptions_untyped_when_empty,))
    types, rows = warehouse.table()
    assert (types["kind"], types["note"], types["business_date"]) == ("VARCHAR", "VARCHAR", "DATE")
    assert rows == [(date(2026, 3, 3), 5000, 1234, "unmapped_payment_type", "text")]
    warehouse.materialize(MONDAY, 0, assets=(day_exceptions_untyped_when_empty,))  # empty again: rows stay
    assert len(warehouse.table()[1]) == 1


def test_downstream_loads_an_empty_partition_as_an_empty_frame(warehouse):
    SEEN.clear()
    warehouse.materialize(TUESDAY, 1)
    warehouse.materialize(MONDAY, 0, assets=(day_exceptions, exception_report))

    [empty] = SEEN
    assert empty.empty
    assert list(empty.columns) == ["business_date", "transaction_id", "amount_cents", "kind", "note"]
    types, rows = warehouse.table("exception_report")
    assert rows == [] and types["reported"] == "BOOLEAN"

    warehouse.materialize(TUESDAY, 1, assets=(day_exceptions, exception_report))
    full = SEEN[-1]
    assert full["transaction_id"].tolist() == [5000]
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()  # typed the same as a partition with rows
    assert [row[:2] for row in warehouse.table("exception_report")[1]] == [(datetime(2026, 3, 3), 5000)]


def test_a_column_added_by_a_newer_version_is_added_to_the_existing_table(tmp_path):
    import datetime as _dt

    import duckdb as _duckdb
    import pandas as _pd

    from sage_paytrace_pipeline.defs.warehouse import _add_new_columns

    with _duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute("CREATE SCHEMA pipeline; CREATE TABLE pipeline.t (business_date DATE, a BIGINT)")
        frame = _pd.DataFrame({"business_date": [_dt.date(2026, 3, 2)], "a": [1], "b": _pd.Series([7], dtype="Int64"),
                               "c": _pd.Series(["x"], dtype="string")})
        _add_new_columns(connection, "pipeline.t", frame)
        connection.register("rows", frame)
        connection.execute("INSERT INTO pipeline.t BY NAME SELECT * FROM rows")
        types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                        "WHERE table_name = 't'").fetchall())
        assert types == {"business_date": "DATE", "a": "BIGINT", "b": "BIGINT", "c": "VARCHAR"}
        assert connection.execute("SELECT b, c FROM pipeline.t").fetchall() == [(7, "x")]


@dg.asset(partitions_def=DAYS, metadata={"partition_expr": "business_date", **AS_OF})
def snapshot(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """As the snapshot assets do: one snapshot for the run, dated its first day."""
    first = context.partition_time_window.start.date()
    return pd.DataFrame({"business_date": [first, first], "customer_no": [f"C{first.day}", "SAME"]})


@dg.asset(partitions_def=DAYS, metadata={"partition_expr": "business_date"})
def snapshot_reader(context: dg.AssetExecutionContext, snapshot: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(snapshot)
    return snapshot.assign(read_for=context.partition_time_window.start.date())


def _range(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def test_a_snapshot_table_loads_the_snapshot_each_day_lives_under(warehouse):
    from sage_paytrace_pipeline.defs.ranges import as_of

    resources = {"io_manager": WarehouseIOManager(database=warehouse.path, schema="pipeline")}
    SEEN.clear()
    # a range run: the snapshot stored once, for Monday; Tuesday and Wednesday live under it
    assert dg.materialize([snapshot, snapshot_reader], tags=_range(MONDAY, "2026-03-04"),
                          instance=warehouse.instance, resources=resources).success
    stored = duckdb.connect(warehouse.path, read_only=True)
    try:
        assert stored.execute("SELECT count(*) FROM pipeline.snapshot").fetchone() == (2,)
    finally:
        stored.close()
    assert sorted(SEEN[-1]["customer_no"]) == ["C2", "SAME"]
    # a later run of Wednesday alone reads Monday's snapshot; a run before any snapshot reads nothing
    assert dg.materialize([snapshot, snapshot_reader], partition_key="2026-03-04", instance=warehouse.instance,
                          resources=resources, selection=[snapshot_reader]).success
    assert sorted(SEEN[-1]["customer_no"]) == ["C2", "SAME"]
    assert dg.materialize([snapshot, snapshot_reader], partition_key="2026-03-01", instance=warehouse.instance,
                          resources=resources, selection=[snapshot_reader]).success
    assert SEEN[-1].empty
    # Wednesday's own snapshot, once stored, is Wednesday's input; Tuesday still lives under Monday's
    assert dg.materialize([snapshot], partition_key="2026-03-04", instance=warehouse.instance,
                          resources=resources).success
    assert dg.materialize([snapshot, snapshot_reader], tags=_range(TUESDAY, "2026-03-04"),
                          instance=warehouse.instance, resources=resources, selection=[snapshot_reader]).success
    both = SEEN[-1]
    assert sorted(as_of(both, date(2026, 3, 3))["customer_no"]) == ["C2", "SAME"]
    assert sorted(as_of(both, date(2026, 3, 4))["customer_no"]) == ["C4", "SAME"]
    assert as_of(both, date(2026, 3, 1)).empty
