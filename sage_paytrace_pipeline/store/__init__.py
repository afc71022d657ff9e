"""Web-store order-to-cash: the webhook receiver, its durable inbox, the REST reconcile poll and the
posting of paid store orders into Sage (reference store-orders.md, issue 16)."""
