"""Refunds and voids: the application layer (reads through adapters, calls the domain, writes through them)."""
