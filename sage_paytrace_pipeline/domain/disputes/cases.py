"""Report rows -> each case's stage history (every stage kept, once) and one summary row per case.

A report is often cumulative (the same stage printed again in the next file): a (case, stage)
pair is kept once, from its earliest activity. A case whose own number links to no sale takes the
sale of the case it points back to (a pre-arbitration under a new number).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sage_paytrace_pipeline.domain.disputes.linking import LINKED
from sage_paytrace_pipeline.domain.disputes.reasons import evidence_for, family_of, network_of
from sage_paytrace_pipeline.domain.disputes.stages import OUTCOMES, in_stage_order, money_moves, out_of_order


def stage_history(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (case, stage) in stage order per chain, with `chain`, `network`, `reason_family`,
    the money each stage moves (stages.money_moves) and `out_of_order`."""
    history = rows.sort_values(["activity_date", "source_file", "source_line"], kind="stable")
    history = history.drop_duplicates(["case_number", "stage"], keep="first").copy()
    history["chain"] = history["original_case_number"].where(history["original_case_number"] != "",
                                                             history["case_number"])
    history = in_stage_order(history)
    history["network"] = network_of(history["card_type"], history["reason_code"])
    history["reason_family"] = family_of(history["network"], history["reason_code"])
    history["out_of_order"] = out_of_order(history).to_numpy()
    return pd.concat([history, money_moves(history)], axis=1)


# The columns of `case_summary` (an empty frame of cases keeps them, so the warehouse table has a shape).
CASE_COLUMNS = ["case_number", "chain", "stage", "stages", "status", "received_date", "last_activity_date",
                "merchant_due_date", "network_due_date", "network", "reason_code", "reason_family", "reason_text",
                "amount_cents", "transaction_amount_cents", "held_cents", "card_last4", "transaction_date",
                "reference", "evidence", "sale_transaction_id", "link", "link_rule", "candidates"]


def no_cases() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in CASE_COLUMNS})


def case_summary(history: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """One row per case: its current stage and status, the stages it went through, dates, reason,
    sale link and what to send."""
    by_case = history.groupby("case_number", sort=False)
    first = by_case.first()
    last = by_case.last()
    due = history.dropna(subset=["merchant_due_date"]).groupby("case_number")
    network_due = history.dropna(subset=["network_due_date"]).groupby("case_number")
    cases = pd.DataFrame({
        "case_number": first.index,
        "chain": first["chain"].to_numpy(),
        "stage": last["stage"].to_numpy(),
        "stages": by_case["stage"].agg(" > ".join).to_numpy(),
        "status": np.where(last["stage"].isin(OUTCOMES), last["stage"], "open"),
        "received_date": first["activity_date"].to_numpy(),
        "last_activity_date": last["activity_date"].to_numpy(),
        "merchant_due_date": due["merchant_due_date"].last().reindex(first.index).to_numpy(),
        "network_due_date": network_due["network_due_date"].last().reindex(first.index).to_numpy(),
        "network": last["network"].to_numpy(),
        "reason_code": last["reason_code"].to_numpy(),
        "reason_family": last["reason_family"].to_numpy(),
        "reason_text": last["reason_text"].to_numpy(),
        "amount_cents": last["amount_cents"].to_numpy(),
        "transaction_amount_cents": first["transaction_amount_cents"].to_numpy(),
        "held_cents": last["held_cents"].to_numpy(),
        "card_last4": first["card_last4"].to_numpy(),
        "transaction_date": first["transaction_date"].to_numpy(),
        "reference": first["reference"].to_numpy(),
    })
    cases["evidence"] = evidence_for(cases["reason_family"], cases["stage"])
    cases = cases.merge(links, on="case_number", how="left")
    return _inherit_chain_link(cases).reset_index(drop=True)


def _inherit_chain_link(cases: pd.DataFrame) -> pd.DataFrame:
    roots = cases.loc[cases["link"] == LINKED, ["case_number", "sale_transaction_id"]].rename(
        columns={"case_number": "chain", "sale_transaction_id": "root_sale"})
    cases = cases.merge(roots, on="chain", how="left")
    inherit = (cases["link"] != LINKED) & cases["root_sale"].notna()
    cases.loc[inherit, "sale_transaction_id"] = cases.loc[inherit, "root_sale"]
    cases.loc[inherit, "link"] = LINKED
    cases.loc[inherit, "link_rule"] = "original_case"
    return cases.drop(columns="root_sale")
