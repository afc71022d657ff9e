"""Refunds and voids between PayTrace and Sage: the application layer (no Dagster)."""
