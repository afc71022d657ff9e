"""Anomaly flags and exception suggestions: the warehouse's history read once per day, the domain rules run."""
