"""The reconciliation dashboard's figures, per business day and per month, read from the warehouse.

Every figure is integer cents or a count straight from the tables the pipeline writes (a table a run has
not written yet gives zeros): PayTrace's approved sales and refunds (`paytrace_transactions`, the latest
row of each transaction), the receipts confirmed in Sage (`sage_posting_log`), the batches' expected
deposits by status with their fees (`settlement_reconciliation`), chargebacks received
(`dispute_case_store`), and the exceptions opened (the open queue's items by day).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import pandas as pd

SCHEMA = "pipeline"
# The figures of a period, in the order the page shows them; each is an integer (cents or a count).
FIGURES = ("sales_count", "sales_cents", "receipts_count", "receipts_cents", "refund_count", "refund_cents",
           "batches_matched", "batches_short", "batches_missing", "batches_pending", "deposited_cents",
           "fee_cents", "fee_base_cents", "chargeback_count", "chargeback_cents", "exceptions_opened",
           "exceptions_decided")
_APPROVED = "upper(transaction_type) IN ('SALE', 'AUTHORIZATION') AND upper(status) IN ('PENDING', 'SETTLED')"
_REFUND = "upper(transaction_type) = 'REFUND' AND upper(status) NOT IN ('VOIDED', 'DECLINED')"

_QUERIES = {
    # approved: what matching posts (MatchingPolicy's eligible types and statuses); refunds not voided or declined.
    # A transaction counts on the first day a run saw it, in the state the latest run saw.
    "paytrace_transactions": f"""
        WITH latest AS (SELECT *, min(business_date) OVER (PARTITION BY transaction_id) AS first_day
                        FROM {SCHEMA}.paytrace_transactions
                        QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY business_date DESC) = 1)
        SELECT CAST(first_day AS DATE) AS day,
               count(*) FILTER (WHERE {_APPROVED}) AS sales_count,
               coalesce(sum(amount_cents) FILTER (WHERE {_APPROVED}), 0) AS sales_cents,
               count(*) FILTER (WHERE {_REFUND}) AS refund_count,
               coalesce(sum(amount_cents) FILTER (WHERE {_REFUND}), 0) AS refund_cents
        FROM latest GROUP BY ALL""",
    "sage_posting_log": f"""
        SELECT CAST(business_date AS DATE) AS day, count(*) AS receipts_count,
               coalesce(sum(amount_cents), 0) AS receipts_cents
        FROM {SCHEMA}.sage_posting_log WHERE state = 'confirmed' GROUP BY ALL""",
    "settlement_reconciliation": f"""
        SELECT CAST(closed_date AS DATE) AS day,
               count(*) FILTER (WHERE deposit_status = 'matched') AS batches_matched,
               count(*) FILTER (WHERE deposit_status IN ('short', 'over')) AS batches_short,
               count(*) FILTER (WHERE deposit_status = 'missing') AS batches_missing,
               count(*) FILTER (WHERE deposit_status = 'pending') AS batches_pending,
               coalesce(sum(deposit_cents) FILTER (WHERE deposit_status <> 'missing'), 0) AS deposited_cents,
               coalesce(sum(fee_cents), 0) AS fee_cents,
               coalesce(sum(gross_cents) FILTER (WHERE fee_cents IS NOT NULL), 0) AS fee_base_cents
        FROM {SCHEMA}.settlement_reconciliation GROUP BY ALL""",
    "dispute_case_store": f"""
        SELECT CAST(received_date AS DATE) AS day, count(*) AS chargeback_count,
               coalesce(sum(amount_cents), 0) AS chargeback_cents
        FROM {SCHEMA}.dispute_case_store GROUP BY ALL""",
}


@dataclass(frozen=True)
class Period:
    """One day (YYYY-MM-DD) or month (YYYY-MM) of figures."""

    label: str
    figures: dict[str, int]

    @property
    def fee_rate(self) -> Decimal | None:
        """Fees over the gross of the batches that have them, in percent to two places (None: no fees yet)."""
        base = self.figures["fee_base_cents"]
        if not base:
            return None
        return (Decimal(self.figures["fee_cents"]) * 100 / Decimal(base)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)

    @property
    def unposted_cents(self) -> int:
        """Approved sales not (yet) confirmed in Sage."""
        return self.figures["sales_cents"] - self.figures["receipts_cents"]


def daily_figures(warehouse: Path, opened: pd.Series | None = None,
                  decided: pd.Series | None = None) -> pd.DataFrame:
    """One row per day (index: the day as YYYY-MM-DD, newest first) with every FIGURE as int64.

    `opened`: the queue's open exceptions counted by business day; `decided`: the console's decisions by day."""
    frames = [_read(warehouse)]
    for name, counts in (("exceptions_opened", opened), ("exceptions_decided", decided)):
        if counts is not None and len(counts):
            frames.append(counts.rename(name).to_frame())
    days = pd.concat([f for f in frames if len(f)] or [frames[0]], axis=1).fillna(0)
    days = days.reindex(columns=list(FIGURES), fill_value=0).astype("int64")
    return days.groupby(level=0).sum().sort_index(ascending=False)


def monthly_figures(days: pd.DataFrame) -> pd.DataFrame:
    return days.groupby(days.index.str.slice(0, 7)).sum().sort_index(ascending=False)


def periods(frame: pd.DataFrame) -> list[Period]:
    return [Period(str(label), {k: int(v) for k, v in row.items()}) for label, row in frame.iterrows()]


def _read(warehouse: Path) -> pd.DataFrame:
    empty = pd.DataFrame(columns=list(FIGURES), index=pd.Index([], dtype=object))
    if not warehouse.is_file():
        return empty
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SCHEMA]).fetchall()}
        frames = []
        for table, sql in _QUERIES.items():
            if table not in present:
                continue
            try:
                frame = connection.execute(sql).df()
            except duckdb.BinderException:  # an older table without a column this figure needs
                continue
            frame = frame[frame["day"].notna()]
            frame.index = pd.to_datetime(frame.pop("day")).dt.strftime("%Y-%m-%d")
            frames.append(frame.groupby(level=0).sum())
    finally:
        connection.close()
    return pd.concat(frames, axis=1) if frames else empty


def bars(days: pd.DataFrame, first: str, second: str, *, width: int = 720, height: int = 160) -> dict:
    """A paired bar chart of two figures over the days (oldest left), as coordinates for the SVG template."""
    shown = days.sort_index().tail(31)
    top = max(int(shown[[first, second]].to_numpy().max()) if len(shown) else 0, 1)
    step = width / max(len(shown), 1)
    bar = max(step / 2 - 1, 1)
    rows = []
    for index, (label, row) in enumerate(shown.iterrows()):
        x = index * step
        rows.append({"label": label, "x1": round(x, 1), "x2": round(x + bar, 1), "width": round(bar, 1),
                     "h1": round(int(row[first]) * height / top, 1), "h2": round(int(row[second]) * height / top, 1),
                     "v1": int(row[first]), "v2": int(row[second])})
    return {"rows": rows, "width": width, "height": height, "top": top}
