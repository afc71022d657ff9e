"""The knobs of settlement reconciliation and the GL accounts its journals use, validated once.

Nothing here has a guessed default where a wrong guess would misstate the books: the discount
method must be chosen, and a GL account that is missing or inactive quarantines the entry that
needs it (`journal.py`), it is never replaced by another account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sage_paytrace_pipeline.domain.settlement.frames import normalize_brand_text

# Patterns are matched case-insensitively against the bank line's description.
ADJUSTMENT_PATTERN = r"CHARGE\s*-?\s*BACK|CHGBK|CHBK|DISPUTE|\bADJ(?:UST(?:MENT)?)?\b|RESERVE"
CHARGEBACK_PATTERN = r"CHARGE\s*-?\s*BACK|CHGBK|CHBK|DISPUTE"
FEE_PATTERN = r"\bFEES?\b|\bDISC(?:OUNT)?\b|\bSVC\s*CHG\b"
PROCESSOR_PATTERN = (r"MERCH|BANKCARD|BNKCD|BKCD|PAYTRACE|\bCARD|AMEX|AMERICAN\s+EXPRESS|DISCOVER|VISA|"
                     r"MASTERCARD|SETTLE")
AMEX_PATTERN = r"AMEX|AMERICAN\s+EXPRESS|\bAXP\b"
# An amount printed on a bank line: dollars with exactly two decimals ("-25.00", "$1,125.40"), so that
# a batch, case or reference number ("BATCH 5", "CB-77") is never read as one.
PRINTED_AMOUNT_PATTERN = r"(?<![\d.,])[-+]?\s*\$?\s*(?P<dollars>\d{1,3}(?:,\d{3})+|\d+)\.(?P<cents>\d{2})(?![\d.])"


class BrandFeeRate(BaseModel):
    """What the processor keeps of one brand's part of a batch under daily discount.

    fee = round_half_up(sales x rate_bps / 10,000) + per_item_cents x sales + per_refund_item_cents x refunds,
    per brand per batch (a refund does not return the discount rate).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_bps: int = Field(ge=0, le=10_000)  # discount rate on the brand's sales, in basis points
    per_item_cents: int = Field(0, ge=0)  # per sale
    per_refund_item_cents: int = Field(ge=0)  # per refund; defaults to per_item_cents

    @model_validator(mode="before")
    @classmethod
    def _refund_item_default(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("per_refund_item_cents") is None:
            return {**data, "per_refund_item_cents": data.get("per_item_cents", 0)}
        return data


class SettlementPolicy(BaseModel):
    """How batches turn into deposits at this merchant, and how far a deposit may differ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # "daily": the processor deducts the discount from each batch before funding (deposit < gross);
    # "monthly": the full batch is deposited and the fees are debited once a month. Required:
    # the wrong one books every deposit's difference to the wrong place.
    discount_method: Literal["daily", "monthly"]
    # A deposit counts for a batch when posted after closed_date and at most this many business
    # days (Mon-Fri, minus `holidays`) after it.
    deposit_window_business_days: int = Field(3, ge=1, le=30)
    holidays: tuple[date, ...] = ()
    # AMEX sales are funded by American Express, as their own deposit (group "AMEX").
    amex_funds_separately: bool = True
    # Daily discount: a deposit may be below the group's *sales* by at most this share (basis points);
    # the difference is the fee.
    max_fee_bps: int = Field(600, ge=0, le=10_000)
    # Daily discount: the merchant's pricing per brand (normalized brand -> rate). With it the expected
    # deposit is exact (gross - the scheduled fee) instead of "up to max_fee_bps below gross", so a netted
    # chargeback is not absorbed into fees. None: the max_fee_bps window.
    fee_schedule: dict[str, BrandFeeRate] | None = None
    # The rate of a brand the schedule does not name (None: such a group falls back to the window).
    other_brand_fee: BrandFeeRate | None = None
    # A difference this small (either side) is accepted and booked to merchant fees as rounding.
    variance_tolerance_cents: int = Field(0, ge=0)
    # A credit within this share of the expected amount, with nothing better for it, is still matched
    # (status short/over) so that the operator sees "expected X, got Y"; its entry is held.
    variance_match_bps: int = Field(1_000, ge=0, le=10_000)
    # A short deposit whose description names a chargeback/adjustment is matched as a netted
    # adjustment only when the shortfall is at most this share of the expected amount (a small
    # "ADJ" credit is not a batch deposit with most of it charged back).
    netted_adjustment_max_bps: int = Field(5_000, ge=0, le=10_000)
    # Only bank lines of this account (None: every account in the frame).
    bank_account_id: str | None = None
    # The first day of the first open GL period (None: every period is open). A `PT-S` reclass is
    # dated its receipt's posting date, or this day when the receipt posted in a closed period.
    first_open_date: date | None = None

    # Transaction classification (upper-case PayTrace values).
    sale_types: tuple[str, ...] = ("SALE", "AUTHORIZATION", "CAPTURE", "FORCE")
    refund_types: tuple[str, ...] = ("REFUND",)
    ignored_statuses: tuple[str, ...] = ("VOIDED", "DECLINED", "AUTHORIZED")

    # Bank line rules (case-insensitive regular expressions on the description).
    adjustment_pattern: str = ADJUSTMENT_PATTERN  # a short deposit saying this is a netted adjustment
    chargeback_pattern: str = CHARGEBACK_PATTERN  # a debit saying this is a chargeback
    fee_pattern: str = FEE_PATTERN  # a debit saying this is a fee ...
    processor_pattern: str = PROCESSOR_PATTERN  # ... from the card processor (not the bank's own fee)
    amex_pattern: str = AMEX_PATTERN  # a credit from American Express (tie-break between groups)
    # Bank type codes (e.g. BAI2) that are always merchant fee debits, whatever the description.
    fee_type_codes: tuple[str, ...] = ()
    # Monthly discount: the processor's fee statement books the month's fee debit per brand
    # (domain/settlement/monthly_fees.py), so the daily journal does not book processor fee debits.
    fee_debits_from_statement: bool = False

    @field_validator("adjustment_pattern", "chargeback_pattern", "fee_pattern", "processor_pattern", "amex_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("fee_schedule", mode="before")
    @classmethod
    def _schedule_brands(cls, value: object) -> object:
        if value is None or not isinstance(value, dict):
            return value
        brands = [normalize_brand_text(brand) for brand in value]
        if len(set(brands)) != len(brands):
            raise ValueError(f"a brand is named twice (brands are compared normalized: {', '.join(brands)})")
        return dict(zip(brands, value.values(), strict=True))

    @field_validator("sale_types", "refund_types", "ignored_statuses", "fee_type_codes")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(item).strip().upper() for item in value)


# Journal roles -> the configuration key an operator sets (config.GlAccounts).
CONFIG_KEYS = {
    "bank": "gl_accounts.bank",
    "merchant_fees": "gl_accounts.merchant_fees",
    "refunds": "gl_accounts.refunds",
    "chargebacks": "gl_accounts.chargebacks",
    "clearing": "gl_accounts.card_clearing",
    "unposted_sales": "gl_accounts.unposted_sales",
    "processor_receivable": "gl_accounts.processor_receivable",
}


class GlAccountMap(BaseModel):
    """Formatted Sage accounts per journal role, and which accounts exist and are active in Sage.

    `clearing_by_brand` is the clearing account each brand's receipts were debited to (the Dagster
    layer resolves it from the Sage payment types). None / missing: the entry that needs it is
    quarantined as `gl_account_unmapped`. `unposted_sales` is optional: with it, a deposited batch
    whose sales are not all receipts in Sage yet is posted with those sales parked there (and moved to
    clearing when their receipts post); without it, such a batch's entry waits.
    `processor_receivable` is optional too: with it, a short deposit books the cash that arrived and
    the difference there, and a deposit missing after its window books the whole amount there (the
    exception says what to find); without it, such an entry waits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bank: str | None = None
    merchant_fees: str | None = None
    refunds: str | None = None
    chargebacks: str | None = None
    unposted_sales: str | None = None
    processor_receivable: str | None = None
    clearing_by_brand: dict[str, str] = Field(default_factory=dict)
    active_accounts: frozenset[str] = frozenset()

    @field_validator("bank", "merchant_fees", "refunds", "chargebacks", "unposted_sales", "processor_receivable",
                     mode="before")
    @classmethod
    def _account(cls, value: object) -> str | None:
        text = "" if value is None else str(value).strip().upper()
        return text or None

    @field_validator("clearing_by_brand", mode="before")
    @classmethod
    def _clearing(cls, value: object) -> dict[str, str]:
        items = dict(value or {})  # type: ignore[call-overload]
        return {normalize_brand_text(brand): str(account).strip().upper()
                for brand, account in items.items() if account is not None and str(account).strip()}

    @field_validator("active_accounts", mode="before")
    @classmethod
    def _active(cls, value: object) -> frozenset[str]:
        return frozenset(str(account).strip().upper() for account in cast("Iterable[object]", value or ()))

    def account(self, role: str, brand: str | None = None) -> str | None:
        if role == "clearing":
            return self.clearing_by_brand.get(brand or "")
        return getattr(self, role)
