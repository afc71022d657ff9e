"""What the bank shows for a merchant's closed PayTrace batches: deposits, fee debits, planted faults.

Arithmetic per the reference (card-accounting §3.1): a batch funds (sales − refunds) per brand group,
less the processor's fees under daily discount, or gross under monthly discount with one fee debit
early the next month. Amex usually funds as its own deposit, a day later. Everything is integer
cents and deterministic from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sage_paytrace_pipeline.domain.money import cents_to_decimal, decimal_to_cents, format_decimal
from sage_paytrace_pipeline.paytrace.models import Batch, BrandTotals

_FROZEN = ConfigDict(frozen=True, extra="forbid")
AMEX = "AMEX"
GROUP_CARDS = "VISA/MC/DISC"  # every non-Amex brand (Diners/JCB settle on Discover's network)
GROUP_ALL = "ALL"
PAYEE = "PAYTRACE"


class BrandFee(BaseModel):
    model_config = _FROZEN

    rate_bps: int = Field(ge=0)
    per_item_cents: int = Field(ge=0)


class PlantedProblems(BaseModel):
    """Faults the reconciliation must find; the truth file says where each one went."""

    model_config = _FROZEN

    missing_deposit: bool = True  # one batch's (non-Amex) deposit never arrives
    short_deposit_cents: int = Field(default=2500, ge=0)  # one deposit short by this (0: none)
    short_reason: str = "CHGBK ADJ"  # a chargeback netted from the deposit

    @classmethod
    def none(cls) -> PlantedProblems:
        return cls(missing_deposit=False, short_deposit_cents=0)


def _default_fees() -> dict[str, BrandFee]:
    cards = BrandFee(rate_bps=250, per_item_cents=10)
    return {"VISA": cards, "MASTERCARD": cards, "DISCOVER": cards, AMEX: BrandFee(rate_bps=350, per_item_cents=15)}


class FundingProfile(BaseModel):
    """How the merchant account funds; the defaults are the demo's, with every planted problem on."""

    model_config = _FROZEN

    discount_method: Literal["daily", "monthly"] = "daily"
    fees: dict[str, BrandFee] = Field(default_factory=_default_fees)
    other_brand_fee: BrandFee = BrandFee(rate_bps=250, per_item_cents=10)  # brands not in `fees`
    funding_delay_business_days: int = Field(default=1, ge=1)
    amex_funding_delay_business_days: int = Field(default=2, ge=1)
    amex_funds_separately: bool = True
    monthly_fee_day: int = Field(default=3, ge=1, le=15)  # nth business day of the next month
    bank_account_id: str = "000123456789"
    currency: str = "USD"
    problems: PlantedProblems = PlantedProblems()
    seed: int = 1

    def fee_for(self, brand: str) -> BrandFee:
        return self.fees.get(brand, self.other_brand_fee)


class BankEntry(BaseModel):
    """One line the bank shows (or, planted, fails to show) for the processor, with its ground truth."""

    model_config = _FROZEN

    kind: Literal["deposit", "monthly_fees"]
    account_id: str
    currency: str
    posted_date: date
    bank_reference: str
    batch_numbers: list[int]
    brand_group: str  # VISA/MC/DISC, AMEX, ALL; "" for the monthly fee debit
    gross_cents: int  # sales − refunds of the batch's brands in this group
    fees_cents: int  # deducted from this entry (0 for a monthly-discount deposit)
    expected_net_cents: int  # gross − fees: what should arrive
    amount_cents: int | None  # what the statement shows; None: missing from the statement
    problems: list[str] = Field(default_factory=list)  # missing, short, amex_separate
    memo: str

    @property
    def description(self) -> str:
        """The text every writer puts on the statement, so that all formats read back the same."""
        return f"{PAYEE} {self.memo}"


# ---------------------------------------------------------------- business days (Mon-Fri, no holidays)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def add_business_days(day: date, count: int) -> date:
    """The `count`-th business day after `day` (a Saturday batch + 1 funds on Monday)."""
    while count > 0:
        day += timedelta(days=1)
        count -= is_business_day(day)
    return day


def nth_business_day(year: int, month: int, n: int) -> date:
    return add_business_days(date(year, month, 1) - timedelta(days=1), n)


# ---------------------------------------------------------------- arithmetic


def brand_fee_cents(totals: BrandTotals, fee: BrandFee) -> int:
    """Discount rate on sales (a refund does not return it) plus a per-item fee on sales and refunds."""
    sales_cents = Decimal(decimal_to_cents(totals.sales_amount))
    discount = (sales_cents * fee.rate_bps / 10000).quantize(Decimal(1), ROUND_HALF_UP)
    return int(discount) + fee.per_item_cents * (totals.sales_count + totals.refund_count)


def _group_of(brand: str, profile: FundingProfile) -> str:
    if not profile.amex_funds_separately:
        return GROUP_ALL
    return AMEX if brand == AMEX else GROUP_CARDS


def batch_business_date(batch: Batch) -> date:
    """The merchant-zone date the batch closed: funding counts business days from it."""
    if batch.number is None or batch.created_at is None:
        raise ValueError(f"batch {batch.number} has no number or close time; only closed batches fund")
    return batch.created_at.date()


def group_totals(batch: Batch, profile: FundingProfile) -> dict[str, tuple[int, int]]:
    """(gross, fees) in cents per funding group of one batch."""
    groups: dict[str, tuple[int, int]] = {}
    for brand, totals in sorted(batch.brands.items()):
        gross, fees = groups.get(_group_of(brand, profile), (0, 0))
        net = decimal_to_cents(totals.sales_amount) - decimal_to_cents(totals.refund_amount)
        groups[_group_of(brand, profile)] = (gross + net, fees + brand_fee_cents(totals, profile.fee_for(brand)))
    return groups


def plan_bank_entries(batches: Sequence[Batch], profile: FundingProfile) -> list[BankEntry]:
    """Every deposit and fee debit the batches cause, with the planted problems applied."""
    entries: list[dict] = []
    month_fees: dict[tuple[int, int], int] = {}
    month_batches: dict[tuple[int, int], list[int]] = {}
    for batch in sorted(batches, key=lambda b: (batch_business_date(b), b.number)):
        closed = batch_business_date(batch)
        assert batch.number is not None  # batch_business_date refused a batch without one
        closed_month = (closed.year, closed.month)
        for group, (gross, fees) in group_totals(batch, profile).items():
            if profile.discount_method == "monthly":  # deposited gross; the fees wait for the month's debit
                month_fees[closed_month] = month_fees.get(closed_month, 0) + fees
                month_batches.setdefault(closed_month, []).append(batch.number)
                fees = 0
            if gross - fees == 0:
                continue  # nothing moves (e.g. a batch of voids only)
            delay = profile.amex_funding_delay_business_days if group == AMEX else profile.funding_delay_business_days
            entries.append({
                "kind": "deposit", "posted_date": add_business_days(closed, delay), "batch_numbers": [batch.number],
                "brand_group": group, "gross_cents": gross, "fees_cents": fees, "expected_net_cents": gross - fees,
                "problems": ["amex_separate"] if group == AMEX else [],
                "memo": f"DEPOSIT BATCH {batch.number}" + ("" if group == GROUP_ALL else f" {group}"),
            })
    for (year, month), fees in month_fees.items():
        if not fees:
            continue
        following = date(year, month, 28) + timedelta(days=4)
        entries.append({
            "kind": "monthly_fees", "posted_date": nth_business_day(following.year, following.month,
                                                                    profile.monthly_fee_day),
            "batch_numbers": sorted(set(month_batches[(year, month)])), "brand_group": "", "gross_cents": 0,
            "fees_cents": fees, "expected_net_cents": -fees, "problems": [],
            "memo": f"MERCHANT FEES {year:04d}-{month:02d}",
        })
    entries.sort(key=lambda e: (e["posted_date"], e["kind"] != "deposit", e["batch_numbers"], e["brand_group"]))
    rng = random.Random(profile.seed)
    for entry in entries:
        entry.update(account_id=profile.bank_account_id, currency=profile.currency,
                     bank_reference=str(rng.randrange(10**9, 10**10)), amount_cents=entry["expected_net_cents"])
    _plant_problems(entries, profile.problems, rng)
    return [BankEntry(**entry) for entry in entries]


def _plant_problems(entries: list[dict], problems: PlantedProblems, rng: random.Random) -> None:
    candidates = [entry for entry in entries if entry["kind"] == "deposit" and entry["brand_group"] != AMEX]
    if problems.missing_deposit and candidates:
        missing = rng.choice(candidates)
        candidates.remove(missing)
        missing.update(amount_cents=None, problems=[*missing["problems"], "missing"])
    short_by = problems.short_deposit_cents
    candidates = [entry for entry in candidates if entry["expected_net_cents"] > short_by]
    if short_by and candidates:
        short = rng.choice(candidates)
        short.update(amount_cents=short["expected_net_cents"] - short_by, problems=[*short["problems"], "short"],
                     memo=f"{short['memo']} {problems.short_reason} -{format_decimal(cents_to_decimal(short_by))}")
