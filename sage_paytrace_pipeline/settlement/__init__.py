"""Settlement: PayTrace batches -> Sage card clearing -> bank deposits, and the GL entries that clear them.

The application layer of the settlement flow (no Dagster): reads through the PayTrace client
(`batches`) and the Sage reader (`ledger`), calls `domain/settlement` for every decision, posts
through the Sage writer (`day`, `fees`); `frames` holds the pure reshaping in between.
"""
