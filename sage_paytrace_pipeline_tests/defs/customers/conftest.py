"""The receivables end-to-end world (PayTrace sandbox + demo company + warehouse), reused by the customer sync."""

from sage_paytrace_pipeline_tests.defs.receivables.conftest import world  # noqa: F401 (fixture)
