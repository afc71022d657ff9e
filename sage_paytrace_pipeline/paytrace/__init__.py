"""PayTrace v1 JSON API client: typed models, one error hierarchy, safe retries.

Usage::

    with PayTraceClient(username=..., password=..., integrator_id=...) as paytrace:
        for txn in paytrace.export_transactions(date(2026, 11, 24), date(2026, 11, 24)):
            ...
"""

from sage_paytrace_pipeline.paytrace.auth import AccessToken, TokenCache
from sage_paytrace_pipeline.paytrace.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, PayTraceClient
from sage_paytrace_pipeline.paytrace.errors import (
    DECLINE_CODES,
    PayTraceAuthenticationError,
    PayTraceCustomerNotFound,
    PayTraceDeclined,
    PayTraceDuplicateCustomer,
    PayTraceError,
    PayTraceIndeterminateError,
    PayTraceNotCapturable,
    PayTraceNotFound,
    PayTraceNotRefundable,
    PayTraceNotVoidable,
    PayTraceTransientError,
    PayTraceUnreachable,
    PayTraceValidationError,
    error_from_body,
)
from sage_paytrace_pipeline.paytrace.models import (
    Address,
    Batch,
    BrandTotals,
    CardInput,
    CardSummary,
    CustomerResult,
    RetryPolicy,
    SettleResult,
    Transaction,
    TransactionResult,
    TransactionStatus,
    VaultCustomer,
)
from sage_paytrace_pipeline.paytrace.records import RejectedRecord, TransactionExport
from sage_paytrace_pipeline.paytrace.retry import backoff_delay

__all__ = [
    "DECLINE_CODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AccessToken",
    "Address",
    "Batch",
    "BrandTotals",
    "CardInput",
    "CardSummary",
    "CustomerResult",
    "PayTraceAuthenticationError",
    "PayTraceClient",
    "PayTraceCustomerNotFound",
    "PayTraceDeclined",
    "PayTraceDuplicateCustomer",
    "PayTraceError",
    "PayTraceIndeterminateError",
    "PayTraceNotCapturable",
    "PayTraceNotFound",
    "PayTraceNotRefundable",
    "PayTraceNotVoidable",
    "PayTraceTransientError",
    "PayTraceUnreachable",
    "PayTraceValidationError",
    "RejectedRecord",
    "RetryPolicy",
    "SettleResult",
    "TokenCache",
    "Transaction",
    "TransactionExport",
    "TransactionResult",
    "TransactionStatus",
    "VaultCustomer",
    "backoff_delay",
    "error_from_body",
]
