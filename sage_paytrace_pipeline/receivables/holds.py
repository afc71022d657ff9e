"""Payments an anomaly holds from posting until a person clears the flag (`anomalies.hold_from_posting`).

Off by default: flags are then warnings only and nothing here runs. When on, the day's flags
(`payment_anomalies`, materialized before posting) are read from the warehouse and the held
payments' applications are left out of the posting, each with an exception saying how to clear it.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.anomalies import AnomalyPolicy, empty_flags, held_payments
from sage_paytrace_pipeline.domain.matching.exceptions import empty_exceptions, exception_rows

HELD = "held_by_anomaly"


def flags_of_day(connection: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    exists = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                "AND table_name = 'payment_anomalies'").fetchall()[0][0]
    if not exists:
        return empty_flags()
    return connection.execute("SELECT * FROM pipeline.payment_anomalies WHERE business_date = ?", [day]).df()


def hold_flagged(applications: pd.DataFrame, flags: pd.DataFrame,
                 policy: AnomalyPolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(applications still to post, one exception per held payment)."""
    held = held_payments(flags, policy)
    held = held[held["transaction_id"].isin(applications["transaction_id"])]
    if held.empty:
        return applications, empty_exceptions()
    held = held.assign(transaction_id=held["transaction_id"].astype("int64")).drop_duplicates("transaction_id")
    tid = held["transaction_id"].astype(str).to_numpy(dtype=object)
    rule = held["rule"].astype(str).to_numpy(dtype=object)
    exceptions = exception_rows(
        HELD, "error", held["transaction_id"].to_numpy(), source_ids="paytrace:" + tid + " rule:" + rule,
        problem="transaction " + tid + " was held from posting by the " + rule + " rule: "
                + held["explanation"].astype(str).to_numpy(dtype=object),
        action="If the payment is genuine, clear the flag by adding '" + rule + ":" + tid + "' to anomalies.cleared "
               "in the config and re-run the day; if not, void or refund it in PayTrace (it is not in Sage)")
    return applications[~applications["transaction_id"].isin(held["transaction_id"])], exceptions
