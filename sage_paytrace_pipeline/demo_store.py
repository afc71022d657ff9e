"""The demo month's web store (issue 16): on the first day, three WooCommerce orders are placed,
charged through the PayTrace sandbox's v1 API (invoice id = order number) and delivered as signed
webhooks to the store receiver, served on a local port over the demo's inbox; one delivery is
retried (a duplicate) and one arrives with a wrong signature (refused). The store run then writes
each paid order to Sage as a sales order and its invoice, and the day's receivables run applies the
PayTrace sale to that invoice: one receipt per order. The summary's "Store:" line reports it.

The buyers: a guest who already is a Sage customer (matched by e-mail + billing ZIP), a new guest
(a customer is created) and a registered buyer; between them shipping, sales tax, a coupon, a fee
and a negative fee (a discount), so every way a store total reaches Sage is on the invoice.
Only the sandbox's public test card is typed, and only into PayTrace.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from sage_paytrace_pipeline.domain.money import cents_to_decimal, format_decimal

# The demo's webhook secret: public like the sandbox's password (a real site's comes from its vault).
DEMO_WEBHOOK_SECRET = "demo-woocommerce-webhook-secret"
WEBHOOK_SECRET_VARIABLE = "SAGE_PAYTRACE_WOOCOMMERCE_SECRET"
STORE_INBOX_FILE = "store-inbox.sqlite"
FIRST_ORDER_NUMBER = 7001


@dataclass
class StoreDelivery:
    """What the demo's shop sent and what the receiver answered."""

    orders: list[int] = field(default_factory=list)
    transaction_ids: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # the receiver's outcome (or HTTP status) -> count

    def answered(self, response: Any) -> None:
        if response.status_code != 200:
            outcome = f"refused {response.status_code}"
        elif response.headers.get("content-type", "").startswith("application/json"):
            outcome = str(response.json().get("outcome", ""))
        else:
            outcome = "ping"
        self.answers[outcome] = self.answers.get(outcome, 0) + 1


def demo_store_config() -> str:
    """The `store:` section the demo appends to its config (everything else at its defaults)."""
    return f"\nstore:\n  inbox_file: {STORE_INBOX_FILE}\n"


def place_store_orders(sage_database: str, paytrace_url: str, receiver_url: str, *, at: datetime,
                       username: str, password: str, secret: str = DEMO_WEBHOOK_SECRET) -> StoreDelivery:
    """Three paid orders at `at` (aware; the sandbox's clock is there too), delivered to `receiver_url`."""
    from sage_paytrace_pipeline.sandbox.paytrace.live import WebStore
    from sage_paytrace_pipeline.sandbox.store.shop import Shop, catalogue_from_company
    from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender

    report = StoreDelivery()
    skus = _stocked_skus(sage_database, count=4)
    with WebStore(paytrace_url, username=username, password=password) as paytrace:
        shop = Shop(catalogue_from_company(sage_database), paytrace=paytrace, clock=lambda: at,
                    first_number=FIRST_ORDER_NUMBER)
        sender = WebhookSender(receiver_url, secret)
        try:
            report.answered(sender.ping())
            for buyer, items, options in _orders(sage_database, skus):
                placed = shop.place(buyer, items, **options)
                report.answered(sender.send(placed, "order.created"))
                paid = shop.pay(placed["id"])
                report.answered(sender.send(paid, "order.updated"))
                report.orders.append(placed["id"])
                report.transaction_ids.append(paid["transaction_id"])
            last = shop.get(report.orders[-1])
            report.answered(sender.send(last, "order.updated"))  # WooCommerce's retry: a new delivery id, same order
            report.answered(sender.send(last, "order.updated", secret="not-the-shops-secret"))
        finally:
            sender.http.close()
    return report


def _orders(sage_database: str, skus: list[str]) -> list[tuple[Any, list[tuple[str, int]], dict[str, Any]]]:
    from sage_paytrace_pipeline.sandbox.store.shop import Buyer

    known = _sage_buyer(sage_database)
    new_guest = Buyer("Noor", "Idris", "noor.idris@example.net", "88 Quarry Rd", "Bend", "OR", "97701")
    registered = Buyer("Teodor", "Vance", "t.vance@example.org", "17 Spruce Ct", "Yakima", "WA", "98901",
                       customer_id=301)
    return [
        (known, [(skus[0], 1), (skus[1], 2)], {"shipping": Decimal("7.50"), "tax_rate": Decimal("0.089")}),
        (new_guest, [(skus[2], 1)], {"coupon_percent": Decimal(10), "fees": [("Handling", Decimal("2.50"))]}),
        (registered, [(skus[3], 2)], {"shipping": Decimal("12.95"),
                                      "fees": [("Loyalty discount", Decimal("-5.00"))]}),
    ]


def _stocked_skus(sage_database: str, *, count: int) -> list[str]:
    """Regular items with stock in warehouse 000 (the orders must ship), in item-code order."""
    with sqlite3.connect(f"file:{sage_database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT i.ItemCode FROM CI_Item i JOIN IM_ItemWarehouse w ON w.ItemCode = i.ItemCode "
            "WHERE i.ItemType = '1' AND i.ItemCode NOT LIKE '/%' AND w.WarehouseCode = '000' "
            "AND CAST(w.QuantityOnHand AS REAL) - CAST(w.QuantityOnSalesOrder AS REAL) >= 10 "
            "ORDER BY i.ItemCode LIMIT ?", (count,)).fetchall()
    if len(rows) < count:
        raise ValueError(f"the demo company has fewer than {count} stocked items for the store's orders")
    return [row[0] for row in rows]


def _sage_buyer(sage_database: str) -> Any:
    """A guest checkout by an existing Sage customer: the e-mail and billing ZIP Sage holds."""
    from sage_paytrace_pipeline.sandbox.store.shop import Buyer

    with sqlite3.connect(f"file:{sage_database}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT CustomerName, EmailAddress, AddressLine1, City, State, ZipCode FROM AR_Customer "
            "WHERE EmailAddress LIKE '%@%' AND EmailAddress NOT LIKE '%,%' AND EmailAddress NOT LIKE '%;%' "
            "AND ZipCode <> '' AND CustomerStatus = 'A' ORDER BY ARDivisionNo, CustomerNo LIMIT 1").fetchone()
    if row is None:
        raise ValueError("the demo company has no active customer with an e-mail and a ZIP code")
    name, email, street, city, state, zip_code = (str(value or "") for value in row)
    first, _, last = name.partition(" ")
    return Buyer(first, last or first, email, street, city, state[:2], zip_code)


def store_summary(inbox: Path, warehouse: Path, delivered: StoreDelivery | None) -> dict:
    """Orders received, in Sage, and the receipts that paid them (from the inbox and the warehouse)."""
    if delivered is None or not inbox.exists():
        return {}
    with sqlite3.connect(f"file:{inbox}?mode=ro", uri=True) as connection:
        postings = connection.execute(
            "SELECT paytrace_transaction_id, total_cents FROM store_postings").fetchall() \
            if _has_table(connection, "store_postings") else []
    transaction_ids = [str(row[0]) for row in postings]
    receipts: dict[str, int] = {}
    exceptions = 0
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            if transaction_ids and _has_warehouse_table(connection, "sage_posting_log"):
                receipts = dict(connection.execute(
                    "SELECT CAST(transaction_id AS VARCHAR), count(*) FROM pipeline.sage_posting_log "
                    "WHERE state = 'confirmed' AND CAST(transaction_id AS VARCHAR) IN (SELECT unnest(?)) GROUP BY 1",
                    [transaction_ids]).fetchall())
            if _has_warehouse_table(connection, "store_exceptions"):
                exceptions = int(connection.execute("SELECT count(*) FROM pipeline.store_exceptions").fetchall()[0][0])
    return {"orders": len(delivered.orders), "deliveries": dict(sorted(delivered.answers.items())),
            "in_sage": len(postings), "amount": format_decimal(cents_to_decimal(sum(int(r[1]) for r in postings))),
            "paid_once": sum(1 for i in transaction_ids if receipts.get(i) == 1),
            "paid_twice": sum(1 for i in transaction_ids if receipts.get(i, 0) > 1), "exceptions": exceptions}


def _has_warehouse_table(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipeline' "
                                   "AND table_name = ?", [name]).fetchall()[0][0])


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() \
        is not None


def store_line(store: dict) -> str:
    if not store:
        return "  Store: off"
    answers = store["deliveries"]
    return (f"  Store: {store['orders']} web orders ({sum(answers.values())} webhook deliveries: "
            f"{', '.join(f'{outcome} {count}' for outcome, count in answers.items())}) -> {store['in_sage']} Sage "
            f"sales orders invoiced (${store['amount']}), {store['paid_once']} paid by exactly one receipt, "
            f"{store['paid_twice']} twice; store exceptions {store['exceptions']}")
