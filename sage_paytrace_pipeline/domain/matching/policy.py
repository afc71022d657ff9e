"""The knobs of matching, validated once; defaults are the safe ones (never guess a customer or an
invoice, never create a customer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MatchingPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # rapidfuzz token_sort_ratio (0-100) a billing name must reach against a Sage customer name.
    fuzzy_name_threshold: float = Field(90.0, ge=0, le=100)
    # A runner-up within this many points of the best name makes the match ambiguous.
    fuzzy_ambiguity_margin: float = Field(2.0, ge=0, le=100)
    # Names alone collide too often (two "Sam Smith"s); by default a name only counts with its ZIP.
    fuzzy_requires_zip: bool = True
    # Exact-amount rule: |balance - amount| within this tolerance counts as "that amount".
    amount_tolerance_cents: int = Field(0, ge=0)
    auto_create_customers: bool = False
    # A known customer's payment with no identifiable invoice posts on account (a prepayment, with an
    # `unapplied_payment` warning listing the invoices it could apply to), so the cash reaches AR;
    # false: held as an error for keying by hand. Unknown customers are never posted (see auto_create).
    post_unapplied_as_prepayment: bool = True
    # The refunds flow (config `refunds`) is on: it posts refunds and reverses receipts of sales voided
    # after posting, so matching reports neither (no `refund_not_posted`, no `posted_then_voided`).
    # Set from the `refunds` section (PipelineConfig.matching_policy), not in `matching`.
    refund_flow: bool = False
    eligible_statuses: tuple[str, ...] = ("PENDING", "SETTLED")
    # AUTHORIZATION only counts once captured, i.e. when its status is one of eligible_statuses.
    eligible_types: tuple[str, ...] = ("SALE", "AUTHORIZATION")
    applicable_invoice_types: tuple[str, ...] = ("IN", "DM", "FC")
    invoice_no_length: int = Field(7, ge=1, le=10)
    prepayment_invoice_type: str = "PP"
