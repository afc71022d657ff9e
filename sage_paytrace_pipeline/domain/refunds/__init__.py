"""Refunds and voids: pure rules (linking a refund to its sale, the Sage documents of a refund or a reversal)."""
