"""The demo company's set-up for the web store: the miscellaneous items the store's tax and fees post to.

A real site creates its ``/TAX`` (or whatever `store.tax_item` names) miscellaneous item in Item
Maintenance, with the sales tax payable account as its sales account, and ``/FEE`` and
``/DISCOUNT`` for the store's fee lines; the demo company's generator makes only ``/SERVICE`` and
``/FREIGHT``, so these add items shaped like ``/FREIGHT``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def ensure_misc_item(company_db: str | Path, item_code: str = "/TAX", description: str = "Sales tax (web store)",
                     *, like: str = "/FREIGHT") -> bool:
    """Add `item_code` copied from `like` when missing; True when it was added."""
    connection = sqlite3.connect(str(company_db))
    connection.row_factory = sqlite3.Row
    try:
        if connection.execute("SELECT 1 FROM CI_Item WHERE ItemCode = ?", (item_code,)).fetchone():
            return False
        template = connection.execute("SELECT * FROM CI_Item WHERE ItemCode = ?", (like,)).fetchone()
        if template is None:
            raise ValueError(f"the demo company has no item {like} to copy")
        row = {**dict(template), "ItemCode": item_code, "ItemCodeDesc": description}
        with connection:
            connection.execute(f"INSERT INTO CI_Item ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                               list(row.values()))
        return True
    finally:
        connection.close()


STORE_MISC_ITEMS = (("/TAX", "Sales tax (web store)"), ("/FEE", "Web store fee"), ("/DISCOUNT", "Web store discount"))


def ensure_store_items(company_db: str | Path) -> list[str]:
    """The store's miscellaneous items (tax, fee, discount) in the demo company; the codes added."""
    return [code for code, description in STORE_MISC_ITEMS if ensure_misc_item(company_db, code, description)]
