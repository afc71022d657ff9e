"""Queue sources of the areas whose warehouse tables are not exception tables of `sage-paytrace exceptions
list`: the store's orders that cannot go to Sage (`store_exceptions`, keyed by order, no severity: errors,
an order waits until fixed) and the anomaly flags (`payment_anomalies`: a rule, a severity, a payment).

Each reads its table once per warehouse state (read only) into the queue's COLUMNS; info rows are left
out as the exception list leaves them out; a table no run has written yet gives no items.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.exception_list import COLUMNS, SCHEMA

STORE_TABLE, ANOMALY_TABLE = "store_exceptions", "payment_anomalies"


def store_items(frame: pd.DataFrame) -> pd.DataFrame:
    return _items(frame, area="store", kind=_text(frame, "kind"), severity=_text(frame, "severity", "error"),
                  source_ids="order:" + _text(frame, "order_key"),
                  problem=_text(frame, "number").map(lambda n: f"order {n}: " if n else "") + _text(frame, "problem"),
                  action=_text(frame, "action"))


def anomaly_items(frame: pd.DataFrame) -> pd.DataFrame:
    transaction = _text(frame, "transaction_id")
    batch = _text(frame, "batch_number")
    ids = ("paytrace:" + transaction).where(transaction != "", "batch:" + batch)
    return _items(frame, area="anomalies", kind="anomaly_" + _text(frame, "rule"),
                  severity=_text(frame, "severity", "warning"), source_ids=ids,
                  problem=_text(frame, "explanation"),
                  action="check the payment and mark it reviewed with what you found; a payment held from "
                         "posting is released by adding '" + _text(frame, "rule") + ":" + transaction
                         + "' to anomalies.cleared in the config, then re-running the day")


def read_table(warehouse: Path, table: str, to_items: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """The table's rows as queue items (COLUMNS); none while no run has written the table."""
    if not warehouse.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                                     "AND table_name = ?", [SCHEMA, table]).fetchall()[0][0]
        frame = connection.execute(f'SELECT * FROM {SCHEMA}."{table}"').df() if present else pd.DataFrame()
    finally:
        connection.close()
    items = to_items(frame.reset_index(drop=True))
    return items[items["severity"] != "info"].reset_index(drop=True)


def _items(frame: pd.DataFrame, **columns) -> pd.DataFrame:
    count = len(frame)
    day = (frame["business_date"].astype("string").str.slice(0, 10).astype(object)
           if "business_date" in frame.columns else pd.Series([None] * count, dtype=object))
    values = {"business_day": day}
    for name, value in columns.items():
        values[name] = value if isinstance(value, pd.Series) else pd.Series([value] * count, dtype=object)
    return pd.DataFrame(values, columns=list(COLUMNS)).astype(object)


def _text(frame: pd.DataFrame, column: str, default: str = "") -> pd.Series:
    if column not in frame.columns:
        return pd.Series([default] * len(frame), index=frame.index, dtype=object)
    values = frame[column]
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values):
        values = values.astype("Int64")
    return values.astype("string").fillna(default).astype(object)
