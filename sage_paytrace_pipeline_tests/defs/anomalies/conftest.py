"""The receivables merchant world (sandbox PayTrace, demo Sage company, example config) for the anomaly assets."""

from sage_paytrace_pipeline_tests.defs.receivables.conftest import world

__all__ = ["world"]
