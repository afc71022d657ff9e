"""The processor's monthly fee statement for a monthly-discount merchant, as a CSV it would send.

Per brand: the discount fees (rate on sales, rounded per batch as `brand_fee_cents` does) and the
item fees (per sale and per refund) as separate lines. The file's total is exactly the month's fee
debit `plan_bank_entries` puts on the bank statement, early the next month.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.paytrace.models import Batch
from sage_paytrace_pipeline.sandbox.bank.funding import (
    FundingProfile,
    batch_business_date,
)

HEADER = ("Month", "Card Brand", "Description", "Amount")  # banking.fee_statement.FeeStatementFormat()'s defaults


def fee_statement_lines(batches: Sequence[Batch], profile: FundingProfile, month: date) -> list[tuple[str, str, int]]:
    """(brand, description, cents) per brand: discount fees then item fees, brands in name order."""
    discount: dict[str, int] = {}
    sales: dict[str, int] = {}
    items: dict[str, int] = {}
    for batch in batches:
        closed = batch_business_date(batch)
        if (closed.year, closed.month) != (month.year, month.month):
            continue
        for brand, totals in batch.brands.items():
            fee = profile.fee_for(brand)
            sales_cents = decimal_to_cents(totals.sales_amount)
            cents = (Decimal(sales_cents) * fee.rate_bps / 10000).quantize(Decimal(1), ROUND_HALF_UP)
            discount[brand] = discount.get(brand, 0) + int(cents)
            sales[brand] = sales.get(brand, 0) + sales_cents
            items[brand] = items.get(brand, 0) + totals.sales_count + totals.refund_count
    lines = []
    for brand in sorted(discount):
        fee = profile.fee_for(brand)
        if discount[brand]:
            lines.append((brand, f"{brand} discount {fee.rate_bps / 100:.2f}% on sales {_money(sales[brand])}",
                          discount[brand]))
        if items[brand] * fee.per_item_cents:
            lines.append((brand, f"{brand} item fees {items[brand]} x {_money(fee.per_item_cents)}",
                          items[brand] * fee.per_item_cents))
    return lines


def write_fee_statement(batches: Sequence[Batch], profile: FundingProfile, month: date, path: Path) -> Path:
    """Write the month's statement (header only when nothing was charged); returns `path`."""
    if profile.discount_method != "monthly":
        raise ValueError("a fee statement is debited as one lump only under monthly discount "
                         "(FundingProfile.discount_method='monthly')")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for brand, description, cents in fee_statement_lines(batches, profile, month):
            writer.writerow((f"{month:%Y-%m}", brand, description, _money(cents)))
    return path


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
