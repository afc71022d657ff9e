"""Bank statements: BAI2, OFX/QFX and configured CSV files read into one frame of bank transactions.

`read_statement` picks the parser by content; `read_statement_folder` reads a drop folder once per
file content. Malformed input raises `StatementError` naming the file, the line and the fix.
"""

from sage_paytrace_pipeline.banking.csv_format import CsvFormat, parse_amount_cents
from sage_paytrace_pipeline.banking.errors import StatementError
from sage_paytrace_pipeline.banking.rows import BANK_TRANSACTION_COLUMNS
from sage_paytrace_pipeline.banking.statements import (
    FolderScan,
    StatementFile,
    detect_format,
    read_statement,
    read_statement_folder,
)

__all__ = [
    "BANK_TRANSACTION_COLUMNS",
    "CsvFormat",
    "FolderScan",
    "StatementError",
    "StatementFile",
    "detect_format",
    "parse_amount_cents",
    "read_statement",
    "read_statement_folder",
]
