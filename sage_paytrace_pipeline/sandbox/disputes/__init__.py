"""The processor's dispute reports, simulated for a sandbox month (README "Chargebacks")."""

from sage_paytrace_pipeline.sandbox.disputes.reports import DisputeTruth, write_dispute_reports

__all__ = ["DisputeTruth", "write_dispute_reports"]
