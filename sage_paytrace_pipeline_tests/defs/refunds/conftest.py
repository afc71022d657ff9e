"""The receivables end-to-end world (PayTrace sandbox + demo company + warehouse), reused by the refund flow."""

from sage_paytrace_pipeline_tests.defs.receivables.conftest import world  # noqa: F401 (fixture)
