"""Sage 100 connector: one schema description, a read-only SQL reader and (separately) writers.

The same table and column names serve the real company (ProvideX ODBC or SQL Server on Premium)
and the SQLite demo company, so a query written for one runs unchanged on the other.
"""
