"""Triggers of the daily job: the intraday PayTrace activity sensor and the daily close schedule."""
