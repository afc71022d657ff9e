"""sage-paytrace-pipeline: PayTrace card activity into Sage 100, exactly once."""

__version__ = "0.1.0"
