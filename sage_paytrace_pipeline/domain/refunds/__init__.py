"""Refunds and voids in both directions: pure rules (no adapter, no I/O, no Dagster)."""
