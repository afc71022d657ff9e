"""The exception frames of matching and receivables: the shared contract (`domain.exceptions`) keyed
by the PayTrace ``transaction_id``.

Built column-wise: the matching stages join each message's parts once per row (`text.py`) and
hand the finished columns to `exception_rows`; `make_exceptions` also takes pandas Series or str.
"""

from __future__ import annotations

from sage_paytrace_pipeline.domain.exceptions import SEVERITIES, ExceptionFrames

TRANSACTION_EXCEPTIONS = ExceptionFrames("transaction_id")
EXCEPTION_COLUMNS = TRANSACTION_EXCEPTIONS.columns

empty_exceptions = TRANSACTION_EXCEPTIONS.empty
exception_rows = TRANSACTION_EXCEPTIONS.rows
make_exceptions = TRANSACTION_EXCEPTIONS.aligned_rows
concat_exceptions = TRANSACTION_EXCEPTIONS.concat

__all__ = ["EXCEPTION_COLUMNS", "SEVERITIES", "TRANSACTION_EXCEPTIONS", "concat_exceptions", "empty_exceptions",
           "exception_rows", "make_exceptions"]
