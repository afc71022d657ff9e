"""What the rules judge a day against, read from the warehouse in one query per table.

Every reader returns a typed, empty frame before the table exists (the first day, a new
warehouse): a missing history means fewer flags, never a failed run.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies.history import IndexedHistory, KeyIndex, RangeIndex
from sage_paytrace_pipeline.domain.anomalies.keys import PREPARED, USED, invoice_text, prepared_together, text
from sage_paytrace_pipeline.paytrace.frames import TRANSACTION_COLUMNS

_BATCH_DTYPES = {"batch_number": "int64", "closed_at": "datetime64[ns, UTC]", "sales_cents": "int64",
                 "fee_cents": "int64", "business_date": "object"}


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    # duckdb_columns(), not information_schema: that view over it costs several times more, and the
    # step asks for every day of a range
    rows = connection.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'pipeline' "
                              "AND table_name = ?", [table]).fetchall()
    return {row[0] for row in rows}


def typed_transactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Warehouse rows as `TRANSACTION_COLUMNS` (a column an older table lacks is empty)."""
    frame = frame.reindex(columns=list(TRANSACTION_COLUMNS))
    for column in ("created_at", "settled_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["business_date"] = pd.to_datetime(frame["business_date"]).dt.date
    return frame.astype({k: v for k, v in TRANSACTION_COLUMNS.items() if not k.endswith("_at") and v != "object"})


def transactions_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Stored PayTrace transactions with start <= business_date <= end."""
    present = _columns(connection, "paytrace_transactions")
    if not present:
        return typed_transactions(pd.DataFrame())
    wanted = [column for column in TRANSACTION_COLUMNS if column in present]
    frame = connection.execute(f"SELECT {', '.join(wanted)} FROM pipeline.paytrace_transactions "
                               "WHERE business_date BETWEEN ? AND ? ORDER BY transaction_id", [start, end]).df()
    return typed_transactions(frame)


def earlier_transactions(connection: duckdb.DuckDBPyConnection, day: date, days: int) -> pd.DataFrame:
    return transactions_between(connection, day - timedelta(days=days), day - timedelta(days=1))


def applications_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Stored payment applications (transaction_id, invoice_no, amount_cents, business_date)."""
    if not {"transaction_id", "invoice_no", "amount_cents"} <= _columns(connection, "payment_applications"):
        return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "invoice_no": pd.Series(dtype=object),
                             "amount_cents": pd.Series(dtype="int64"), "business_date": pd.Series(dtype=object)})
    return connection.execute("SELECT transaction_id, invoice_no, amount_cents, business_date "
                              "FROM pipeline.payment_applications WHERE business_date BETWEEN ? AND ?",
                              [start, end]).df()


def batch_fees_between(connection: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Per settled batch: sales and the fee the deposit showed (settlement's reconciliation), by closing day."""
    present = _columns(connection, "settlement_reconciliation")
    sales = "gross_cents" if "gross_cents" in present else "sales_cents"
    if not {"batch_number", "fee_cents", sales, "business_date"} <= present:
        return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in _BATCH_DTYPES.items()})
    frame = connection.execute(
        f"SELECT batch_number, min(business_date) AS business_date, sum(coalesce({sales}, 0)) AS sales_cents, "
        "sum(coalesce(fee_cents, 0)) AS fee_cents FROM pipeline.settlement_reconciliation "
        "WHERE business_date BETWEEN ? AND ? AND fee_cents IS NOT NULL GROUP BY batch_number", [start, end]).df()
    frame["closed_at"] = pd.to_datetime(frame["business_date"]).dt.tz_localize("UTC")
    return frame.astype({k: v for k, v in _BATCH_DTYPES.items() if v != "object"})


def vault_links_before(connection: duckdb.DuckDBPyConnection, day: date, days: int) -> pd.DataFrame:
    """(customer_id, division, customer_no): vault ids earlier days' payments were matched to."""
    return _vault_links_between(connection, day - timedelta(days=days), day - timedelta(days=1))


def _vault_links_between(connection: duckdb.DuckDBPyConnection, start: date, end: date, *,
                         dated: bool = False) -> pd.DataFrame:
    """Distinct (customer_id, division, customer_no) of the links with start <= business_date <= end; `dated`:
    distinct per business_date, with it."""
    day = ", l.business_date" if dated else ""
    columns = ("customer_id", "division", "customer_no", *(["business_date"] if dated else []))
    empty = pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    if not _columns(connection, "customer_links") or not _columns(connection, "paytrace_transactions"):
        return empty
    return connection.execute(
        f"SELECT DISTINCT t.customer_id, l.division, l.customer_no{day} FROM pipeline.customer_links l "
        "JOIN pipeline.paytrace_transactions t USING (transaction_id) "
        "WHERE l.business_date BETWEEN ? AND ? AND coalesce(t.customer_id, '') <> ''", [start, end]).df()


def vault_links_of_days(connection: duckdb.DuckDBPyConnection, days: list[date],
                        history: int) -> dict[date, pd.DataFrame]:
    """`vault_links_before(connection, day, history)` for every day of a run, read in one query (the rows'
    order aside, which DISTINCT does not fix either)."""
    if len(days) == 1:
        return {days[0]: vault_links_before(connection, days[0], history)}
    links = _vault_links_between(connection, min(days) - timedelta(days=history), max(days) - timedelta(days=1),
                                 dated=True)
    numbers = _day_numbers(links["business_date"])
    found = {}
    for day in days:
        last = _day_number(day) - 1
        rows = (numbers >= last + 1 - history) & (numbers <= last)
        found[day] = links.loc[rows, ["customer_id", "division", "customer_no"]].drop_duplicates().reset_index(
            drop=True)
    return found


class RangeHistory:
    """The earlier transactions and applications of every day of a run, read in one query each.

    A day's rules see the `history_days` before it; a range run reads the span from the first day's
    history to the last day's once. Its transactions are indexed once by key and day
    (`domain.anomalies.history.RangeIndex`) after `with_keys`, and each day's rules take the rows of their
    keys from the index (`indexed`); before that, or for another use, `earlier_transactions` hands a day its
    slice: the rows (in the order, with the types) `earlier_transactions` returns for that day alone, since
    nothing the step reads is written while it runs. The same for applications.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, days: list[date], history_days: int, *,
                 time_zone: str) -> None:
        """`time_zone`: the merchant's, the hours of the unusual-hour rule."""
        self.history_days = history_days
        self.time_zone = time_zone
        start, end = min(days) - timedelta(days=history_days), max(days) - timedelta(days=1)
        self._transactions = transactions_between(connection, start, end)
        self._transaction_dates = _day_numbers(self._transactions["business_date"])
        self._applications = applications_between(connection, start, end)
        self._application_dates = _day_numbers(self._applications["business_date"])
        self._index: RangeIndex | None = None
        self._applications_by_invoice: KeyIndex | None = None

    def with_keys(self, days: dict[date, pd.DataFrame]) -> dict[date, pd.DataFrame]:
        """The days' transactions with the rules' keys, computed once over them and the history they share
        (`domain.anomalies.keys.prepared_together`); from now on the history's slices carry them, and only
        the columns the rules read, and the history is indexed for `indexed`."""
        prepared = prepared_together([self._transactions, *days.values()])
        self._transactions = prepared[0][[column for column in (*USED, *PREPARED) if column in prepared[0]]]
        self._index = RangeIndex(self._transactions, self._transaction_dates, self.time_zone)
        return dict(zip(days, prepared[1:], strict=True))

    def indexed(self, day: date, transactions: pd.DataFrame) -> IndexedHistory:
        """What the rules read of the day's history, `transactions` being the day's (from `with_keys`)."""
        if self._index is None:
            raise ValueError("the history is indexed by with_keys: call it with the run's days first")
        first, last = self._window(day)
        return IndexedHistory(self._index, first, last, transactions["transaction_id"].astype("int64").to_numpy())

    def _window(self, day: date) -> tuple[int, int]:
        """The day's history as day numbers: from `history_days` before it to the day before."""
        end = _day_number(day) - 1
        return end + 1 - self.history_days, end

    def earlier_transactions(self, day: date) -> pd.DataFrame:
        """`earlier_transactions(connection, day, history_days)`."""
        first, last = self._window(day)
        rows = (self._transaction_dates >= first) & (self._transaction_dates <= last)
        return self._transactions[rows].reset_index(drop=True)

    def earlier_applications(self, day: date, naming: pd.DataFrame | None = None) -> pd.DataFrame:
        """`applications_between(connection, day - history_days, day - 1)`; `naming`: only the applications to
        an invoice one of these transactions names (what the double-payment rule reads of them)."""
        first, last = self._window(day)
        if naming is None:
            rows = np.flatnonzero((self._application_dates >= first) & (self._application_dates <= last))
        else:
            if self._applications_by_invoice is None:  # cleaned as the rule cleans them, once for the run
                self._applications_by_invoice = KeyIndex(
                    text(self._applications, "invoice_no", lambda s: s.str.upper()).to_numpy(),
                    np.where(self._application_dates >= _EPOCH, self._application_dates - _EPOCH, -1))
            named = invoice_text(naming).to_numpy()
            rows = self._applications_by_invoice.positions(named[named != ""], first - _EPOCH, last - _EPOCH)
        return self._applications.take(rows).reset_index(drop=True)


_EPOCH = date(2000, 1, 1).toordinal()  # day numbers from here fold into a `KeyIndex`


def _day_number(day: date) -> int:
    return day.toordinal()


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Business dates (date objects or datetimes; empty ones never match) as day numbers."""
    parsed = pd.to_datetime(dates)
    numbers = parsed.to_numpy(dtype="datetime64[D]").astype("int64") + date(1970, 1, 1).toordinal()
    return np.where(parsed.isna().to_numpy(), np.iinfo("int64").min, numbers)
