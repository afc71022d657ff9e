"""Tests of the settlement application layer (`sage_paytrace_pipeline/settlement/`)."""
