"""The invariants of the receivables assets, as inline asset-check results (ERROR severity).

`applications_sum_to_payment` and `no_transaction_posted_twice` guard money: their specs (in
assets.py) are blocking, so a failure stops what depends on the asset.

Each one reads only the partition at hand; Sage facts come from one read-back look-up by
transaction id, so "posted" means what Sage holds, not what the log believes.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, split_eligible
from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.sage100.models import PostedReceipt

POSTED_STATES = ("confirmed", "written")
_SHOWN = 20  # ids listed in a failing check's metadata


def _result(name: str, asset: str, failing: list, checked: int, what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key=asset, passed=not failing, severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} of {checked} {what}" if failing else f"all {checked} {what} pass",
        metadata={"checked": checked, "failing": len(failing),
                  "failing_transaction_ids": dg.MetadataValue.json([int(tid) for tid in sorted(failing)[:_SHOWN]])},
    )


def applications_sum_to_payment(applications: pd.DataFrame, payments: pd.DataFrame) -> dg.AssetCheckResult:
    applied = applications.groupby("transaction_id")["amount_cents"].sum()
    amounts = payments.drop_duplicates("transaction_id").set_index("transaction_id")["amount_cents"]
    difference = applied - amounts.reindex(applied.index)
    failing = difference[difference.isna() | (difference != 0)].index.tolist()
    return _result("applications_sum_to_payment", "payment_applications", failing, len(applied),
                   "payments whose applications sum to the payment")


def no_transaction_posted_twice(in_sage: dict[int, list[PostedReceipt]]) -> dg.AssetCheckResult:
    failing = [tid for tid, found in in_sage.items() if len(found) > 1]
    return _result("no_transaction_posted_twice", "sage_cash_receipts", failing, len(in_sage),
                   "transactions held by at most one Sage receipt")


def receipts_in_sage_match_log(receipts: pd.DataFrame, in_sage: dict[int, list[PostedReceipt]]) -> dg.AssetCheckResult:
    confirmed = receipts[receipts["state"] == "confirmed"]
    failing = [int(row.transaction_id) for row in confirmed.itertuples(index=False)
               if not _same(row, in_sage.get(int(row.transaction_id), []))]
    return _result("receipts_in_sage_match_log", "sage_cash_receipts", failing, len(confirmed),
                   "confirmed log rows found in Sage with the same customer and amount")


def _same(row, found: list[PostedReceipt]) -> bool:
    return len(found) == 1 and (found[0].division, found[0].customer_no, decimal_to_cents(found[0].amount)) == (
        row.division, row.customer_no, int(row.amount_cents))


def every_approved_sale_posted_or_excepted(payments: pd.DataFrame, receipts: pd.DataFrame, exceptions: pd.DataFrame,
                                           policy: MatchingPolicy) -> dg.AssetCheckResult:
    eligible, _, _ = split_eligible(payments, policy)
    posted = set(receipts.loc[receipts["state"].isin(POSTED_STATES), "transaction_id"].astype("int64"))
    excepted = set(exceptions["transaction_id"].dropna().astype("int64"))
    sales = set(eligible["transaction_id"].astype("int64"))
    return _result("every_approved_sale_posted_or_excepted", "receivable_exceptions", sorted(sales - posted - excepted),
                   len(sales), "approved sales posted in Sage or listed as an exception")
