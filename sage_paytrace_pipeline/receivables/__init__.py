"""Cash receipts: matched applications turned into Sage documents, posted once, logged, confirmed."""
