"""Settlement reconciliation: PayTrace batches <-> Sage card clearing <-> bank deposits, and the GL
journal entries that clear each deposited batch. Pure and vectorized (pandas/numpy), no I/O.

    recon = reconcile(batches, batch_transactions, posted_receipts, deposits, policy=policy, as_of=as_of)
    plan = journal_entries(recon, accounts=GlAccountMap(...))
    documents = to_journal_entries(plan)  # domain.ledger.JournalEntry, balanced
"""

from sage_paytrace_pipeline.domain.settlement.frames import (
    BATCH_COLUMNS,
    DEPOSIT_COLUMNS,
    EXCEPTION_COLUMNS,
    RECEIPT_COLUMNS,
    TRANSACTION_COLUMNS,
    SettlementInputError,
)
from sage_paytrace_pipeline.domain.settlement.journal import (
    GL_ACCOUNT_UNMAPPED,
    UNPOSTED_SALE_RECLASS,
    JournalPlan,
    UnbalancedPlanError,
    deposit_reference,
    journal_entries,
    missing_deposits_booked,
    owed_by_processor,
    parked_sales,
    short_deposits_booked,
    to_journal_entries,
)
from sage_paytrace_pipeline.domain.settlement.policy import (
    CONFIG_KEYS,
    BrandFeeRate,
    GlAccountMap,
    SettlementPolicy,
)
from sage_paytrace_pipeline.domain.settlement.reconcile import Reconciliation, RefundFlow, batch_tie_out, reconcile

__all__ = [
    "BATCH_COLUMNS",
    "CONFIG_KEYS",
    "DEPOSIT_COLUMNS",
    "EXCEPTION_COLUMNS",
    "GL_ACCOUNT_UNMAPPED",
    "RECEIPT_COLUMNS",
    "TRANSACTION_COLUMNS",
    "UNPOSTED_SALE_RECLASS",
    "BrandFeeRate",
    "GlAccountMap",
    "JournalPlan",
    "Reconciliation",
    "RefundFlow",
    "SettlementInputError",
    "SettlementPolicy",
    "UnbalancedPlanError",
    "batch_tie_out",
    "deposit_reference",
    "journal_entries",
    "missing_deposits_booked",
    "owed_by_processor",
    "parked_sales",
    "reconcile",
    "short_deposits_booked",
    "to_journal_entries",
]
