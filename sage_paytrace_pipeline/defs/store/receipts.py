"""The hook of the store flow in the receivables matching (store/receipts.py says what it does).

`store_sales_for_matching` is called by `match_payments` before matching; with no `store:` section
it returns the payments unchanged and opens nothing.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.store.inbox import open_inbox, posting_rows, unposted_orders
from sage_paytrace_pipeline.store.receipts import StoreSaleLinks, link_store_sales
from sage_paytrace_pipeline.store.setup import inbox_url


def read_store_inbox(config: PipelineConfig, config_path: str) -> tuple[pd.DataFrame, set[str]]:
    """The inbox's receipt postings and the paid orders not posted yet: read once for every day of a
    run's matching step (nothing writes the inbox while it runs)."""
    assert config.store is not None  # called only with a `store:` section
    engine = open_inbox(inbox_url(config.store, config_path))
    try:
        postings = pd.DataFrame(posting_rows(engine), columns=["paytrace_transaction_id", "invoice_no"])
        pending = {order.paytrace_transaction_id for order in unposted_orders(engine)
                   if order.paid and order.paytrace_transaction_id}
    finally:
        engine.dispose()
    return postings, pending


def store_sales_for_matching(config: PipelineConfig, config_path: str, payments: pd.DataFrame,
                             open_invoices: Callable[[], pd.DataFrame], *, in_sage: set[int],
                             now: datetime | None = None,
                             inbox: Callable[[], tuple[pd.DataFrame, set[str]]] | None = None) -> StoreSaleLinks:
    """`open_invoices`: gives the day's open items (asked only for a day with young sales). `inbox`: what
    `read_store_inbox` gives (read when first needed, e.g. once for a range's days)."""
    if config.store is None or payments.empty:
        return StoreSaleLinks(payments, payments.head(0), 0)
    postings, pending = inbox() if inbox is not None else read_store_inbox(config, config_path)

    def open_numbers() -> set[str]:  # the whole open-item file: read only for a day with young sales
        items = open_invoices()
        return set(items["invoice_no"].astype(str)) if len(items) else set()

    return link_store_sales(payments, postings, pending, open_numbers, in_sage=in_sage, now=now or datetime.now(UTC),
                            grace=timedelta(minutes=config.store.receipt_grace_minutes))
