"""The dispute flow's money invariants, as asset checks on `dispute_postings`."""

from __future__ import annotations

import dagster as dg
import pandas as pd

_SHOWN = 20


def dispute_entries_balance(lines: pd.DataFrame) -> dg.AssetCheckResult:
    """Every planned entry's debits equal its credits (cents)."""
    totals = lines.groupby("reference")[["debit_cents", "credit_cents"]].sum() if len(lines) else pd.DataFrame(
        columns=["debit_cents", "credit_cents"])
    failing = sorted(totals.index[totals["debit_cents"] != totals["credit_cents"]])
    return dg.AssetCheckResult(
        check_name="dispute_entries_balance", asset_key="dispute_postings", passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} entries do not balance" if failing else f"all {len(totals)} entries balance",
        metadata={"entries": len(totals), "failing_references": dg.MetadataValue.json(failing[:_SHOWN])})


def no_case_posted_twice(log: pd.DataFrame) -> dg.AssetCheckResult:
    """One posted entry (and re-opened invoice) per case and stage, and no Sage entry shared by two references."""
    posted = log[log["state"] == "posted"]
    # PT-D: the GL entry; PT-O / PT-A: the invoice re-opened / re-applied (disputes.reopen_invoice)
    posted = posted.assign(document=posted["reference"].astype(str).str[:4])
    twice = posted[posted.duplicated(["case_number", "stage", "document"], keep=False)]
    shared = posted[(posted["entry_no"].fillna("") != "") & posted.duplicated("entry_no", keep=False)]
    failing = sorted(set(twice["reference"]) | set(shared["reference"]))
    return dg.AssetCheckResult(
        check_name="no_case_posted_twice", asset_key="dispute_postings", passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} entries posted twice" if failing
        else f"each of {len(posted)} case stages posted once",
        metadata={"posted": len(posted), "failing_references": dg.MetadataValue.json(failing[:_SHOWN])})


def every_chargeback_debit_has_a_case(chargeback_debits: pd.DataFrame, stages: pd.DataFrame) -> dg.AssetCheckResult:
    """Each chargeback the settlement entries booked (a netted shortfall or its own bank debit, Dr
    gl_accounts.chargebacks) has a case stage that took that amount (with or without its fee).

    Matched by amount, one debit per stage: the debits of an amount beyond the stages of that amount fail."""
    if chargeback_debits.empty:
        return dg.AssetCheckResult(check_name="every_chargeback_debit_has_a_case", asset_key="dispute_cases",
                                   passed=True, description="no chargeback debit booked by settlement",
                                   metadata={"debits": 0})
    taken = stages[stages["taken_cents"] > 0] if len(stages) else pd.DataFrame(
        columns=["taken_cents", "fee_cents"])
    amount = taken["taken_cents"].astype("int64")
    with_fee = amount + taken["fee_cents"].astype("Int64").fillna(0).astype("int64")
    # Each stage that took money covers one debit of its amount, or of its amount plus its fee.
    per_stage = pd.concat([pd.DataFrame({"stage": taken.index, "cents": amount.to_numpy()}),
                           pd.DataFrame({"stage": taken.index, "cents": with_fee.to_numpy()})]).drop_duplicates()
    available = per_stage["cents"].value_counts()
    debits = chargeback_debits["debit_cents"].astype("int64")
    needed = debits.value_counts()
    short = needed.subtract(available.reindex(needed.index).fillna(0)).clip(lower=0)
    failing = chargeback_debits[debits.isin(short[short > 0].index)]
    return dg.AssetCheckResult(
        check_name="every_chargeback_debit_has_a_case", asset_key="dispute_cases", passed=failing.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{int(short.sum())} chargeback debits have no case in the dispute reports" if not failing.empty
        else f"each of {len(debits)} chargeback debits has a case",
        metadata={"debits": len(debits), "without_case": int(short.sum()),
                  "debits_without_case": dg.MetadataValue.json(
                      failing[["reference", "posting_date", "debit_cents"]].astype(str).head(_SHOWN)
                      .to_dict("records"))})
