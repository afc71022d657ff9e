"""Customers and vault cards in sync both ways (issue 15), as pure frame logic.

`fields`: the billing fields both systems hold and how each side's value is compared;
`linking`: which Sage customer each vault profile belongs to (stored link, then the payment cascade);
`plan`: the differences to write (Sage customers and cards, PayTrace profiles) and the decisions.
"""

from sage_paytrace_pipeline.domain.customer_sync.plan import (
    CONFLICT_POLICIES,
    INACTIVE_POLICIES,
    SyncInputs,
    SyncPlan,
    SyncPolicy,
    SyncState,
    plan_sync,
)

__all__ = ["CONFLICT_POLICIES", "INACTIVE_POLICIES", "SyncInputs", "SyncPlan", "SyncPolicy", "SyncState", "plan_sync"]
