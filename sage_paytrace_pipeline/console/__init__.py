"""The operations console: the clerk's web application over the pipeline's stores.

One queue of every area's open exceptions with the action next to each, the refund approvals and
the audit trail of every decision. The console decides and records; it never writes to Sage or
PayTrace itself: a decision reaches the store the pipeline's next run reads (the customer links of
the config, the refund request store) or the console's own decisions table.
"""
