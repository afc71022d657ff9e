"""The user-defined field that carries the pipeline's external reference on Sage documents.

Sage 100 has no column for "the id of this document in another system", except on card
payments (``CreditCardTransactionID``, used for receipts and refunds). Everything else the
pipeline writes — customers, sales orders, invoices and credit memos, journal entries — carries
its reference (PayTrace customer id, web store order id, the pipeline's journal key) in one UDF:

    UDF_PAYTRACE_REF   String, 30 characters

Sage stores UDFs as extra columns named ``UDF_<NAME>`` on the table itself (reference §1), so
the reader and the writer look the reference up with a plain keyed SELECT.

**Real site (one-time setup).** In Custom Office > User-Defined Field and Table Maintenance add
the field ``PAYTRACE_REF`` (String, length 30) to each table in `UDF_COLUMNS`: AR Customer
Maintenance (AR_Customer), Sales Order Entry header (SO_SalesOrderHeader), AR invoice history
header (AR_InvoiceHistoryHeader, filled through the S/O and A/R invoice headers' UDF mapping),
General Journal Entry header and history (GL_GeneralJournalHeader / GL_GeneralJournalHistory).
Map the entry UDFs to the history UDFs (Custom Office "UDF ... data source") so the reference
survives the journal update. Then run "Update Business Object UDF Script" / restart Sage so BOI
and Visual Integrator see the new fields.

**Demo company.** `ensure_udf_columns` adds any missing column with ``ALTER TABLE``; the demo
writer calls it when it opens a company.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sage_paytrace_pipeline.sage100.schema import DEFAULT_SCHEMA, Sage100Schema

UDF_PAYTRACE_REF = "UDF_PAYTRACE_REF"
UDF_LENGTH = 30


@dataclass(frozen=True)
class UdfColumn:
    table_key: str  # schema table key
    name: str
    length: int


UDF_COLUMNS: tuple[UdfColumn, ...] = tuple(
    UdfColumn(table_key, UDF_PAYTRACE_REF, UDF_LENGTH)
    for table_key in (
        "AR_Customer",
        "SO_SalesOrderHeader",
        "AR_InvoiceHistoryHeader",
        "GL_GeneralJournalHeader",
        "GL_GeneralJournalHistory",
    )
)


def tables_with_reference() -> tuple[str, ...]:
    """Schema table keys that carry UDF_PAYTRACE_REF."""
    return tuple(column.table_key for column in UDF_COLUMNS)


def existing_columns(connection: sqlite3.Connection, table_name: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table_name})")}


def ensure_udf_columns(connection: sqlite3.Connection, schema: Sage100Schema = DEFAULT_SCHEMA) -> list[str]:
    """Add the missing UDF columns to the demo company; returns "Table.Column" for each one added.

    Like Sage's string fields they are NOT NULL DEFAULT '' with a length check. Idempotent.
    """
    added = []
    for udf in UDF_COLUMNS:
        table = schema.table(udf.table_key).name
        if udf.name in existing_columns(connection, table):
            continue
        connection.execute(
            f"ALTER TABLE {table} ADD COLUMN {udf.name} TEXT NOT NULL DEFAULT ''"
            f" CHECK (length({udf.name}) <= {udf.length})"
        )
        connection.execute(f"CREATE INDEX IF NOT EXISTS IX_{table}_{udf.name} ON {table} ({udf.name})")
        added.append(f"{table}.{udf.name}")
    if added and connection.in_transaction:
        connection.commit()
    return added
