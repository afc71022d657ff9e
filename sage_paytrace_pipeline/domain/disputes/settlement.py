"""The case behind a chargeback netted in a deposit, named in the settlement exception that reports it.

Settlement sees only a short deposit whose description says chargeback/adjustment; the dispute
report knows the case. They are paired by amount: a stage that took the netted amount (alone, or
with its case fee). One case per netted deposit; a shortfall no case explains says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.money import format_cents

_DEPOSIT_VARIANCE = "deposit_variance"
_NETTED = "netted_adjustment"


def name_netted_cases(exceptions: pd.DataFrame, matches: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    """`exceptions` with each netted-chargeback row's problem naming its dispute case (or that none is known)."""
    if exceptions.empty or matches.empty or "method" not in matches:
        return exceptions
    netted = matches.loc[(matches["method"] == _NETTED) & (matches["adjustment_cents"] > 0),
                         ["batch_number", "adjustment_cents"]].drop_duplicates("batch_number")
    if netted.empty:
        return exceptions
    taken = stages[stages["taken_cents"] > 0] if len(stages) else pd.DataFrame(
        columns=["case_number", "taken_cents", "fee_cents"])
    amount = taken["taken_cents"].astype("int64")
    with_fee = amount + taken["fee_cents"].astype("Int64").fillna(0).astype("int64")
    numbers = taken["case_number"].to_numpy()
    by_amount = pd.concat([pd.DataFrame({"cents": amount.to_numpy(), "case_number": numbers}),
                           pd.DataFrame({"cents": with_fee.to_numpy(), "case_number": numbers})])
    cases = by_amount.drop_duplicates().groupby("cents")["case_number"].agg(lambda c: ", ".join(sorted(set(c))))
    netted = netted.assign(cases=netted["adjustment_cents"].map(cases).fillna(""))
    named = exceptions.merge(netted[["batch_number", "adjustment_cents", "cases"]], on="batch_number", how="left")
    target = ((named["kind"] == _DEPOSIT_VARIANCE) & named["adjustment_cents"].notna()).to_numpy()
    known = target & (named["cases"].fillna("") != "").to_numpy()
    note = np.where(known, "; dispute case " + named["cases"].fillna("").astype(str),
                    "; no dispute case in the processor's reports takes "
                    + pd.Series(format_cents(named["adjustment_cents"].fillna(0).astype("int64"))).to_numpy())
    out = exceptions.copy()
    out["problem"] = np.where(target, out["problem"].astype(str).to_numpy() + note, out["problem"].to_numpy())
    return out
