"""The merchant's bank, simulated: statements (BAI2, OFX) for a PayTrace sandbox's closed batches.

`funding` turns batches into deposits and fee debits (daily or monthly discount, Amex apart,
planted problems), `writers` writes them as files, `statements` ties it to the sandbox and writes
the truth file the reconciliation is checked against.
"""

from sage_paytrace_pipeline.sandbox.bank.funding import (
    BankEntry,
    BrandFee,
    FundingProfile,
    PlantedProblems,
    add_business_days,
    is_business_day,
    plan_bank_entries,
)
from sage_paytrace_pipeline.sandbox.bank.statements import (
    TRUTH_FILE,
    BankTruth,
    generate_bank_statements,
    sandbox_batches,
)
from sage_paytrace_pipeline.sandbox.bank.writers import write_bai2, write_ofx

__all__ = [
    "TRUTH_FILE",
    "BankEntry",
    "BankTruth",
    "BrandFee",
    "FundingProfile",
    "PlantedProblems",
    "add_business_days",
    "generate_bank_statements",
    "is_business_day",
    "plan_bank_entries",
    "sandbox_batches",
    "write_bai2",
    "write_ofx",
]
