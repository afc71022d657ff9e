"""The knobs of anomaly detection, validated once (config section `anomalies:`).

Every rule has its own section with `enabled`; thresholds default to the values the practice
sources use (card-accounting-and-matching.md §5). A flag is a warning unless its rule is listed in
`hold_from_posting`: then the payment waits for a person to clear it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RULES = ("duplicate_charge", "card_testing", "amount_outlier", "double_payment", "refund_above_sale",
         "refund_to_other_card", "refund_without_sale", "quick_refund", "fee_rate_outside_band", "unusual_hour")
Rule = Literal["duplicate_charge", "card_testing", "amount_outlier", "double_payment", "refund_above_sale",
               "refund_to_other_card", "refund_without_sale", "quick_refund", "fee_rate_outside_band",
               "unusual_hour"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True


class DuplicateChargeRule(_Rule):
    # Same card or customer, same amount, within this many hours: staged exact (same reference too)
    # -> relaxed (any reference).
    window_hours: float = Field(24.0, gt=0)


class CardTestingRule(_Rule):
    # A burst: at least `min_attempts` attempts of at most `max_amount_cents` each on one card or
    # customer within `window_minutes`, at least `min_declines` of them declined.
    window_minutes: float = Field(60.0, gt=0)
    min_attempts: int = Field(4, ge=2)
    max_amount_cents: int = Field(500, ge=1)
    min_declines: int = Field(1, ge=0)


class AmountOutlierRule(_Rule):
    # Modified z-score 0.6745 (x - median) / MAD over the customer's own earlier payments
    # (Iglewicz & Hoaglin: |z| > 3.5); needs `min_history` earlier payments.
    threshold: float = Field(3.5, gt=0)
    min_history: int = Field(5, ge=3)
    # Small partial payments are common in AR: by default only amounts far above the usual are flagged.
    two_sided: bool = False
    # ... and only when also at least this many times the customer's median (small histories have a
    # small MAD by chance: +20 % on a steady customer is not worth a clerk's time).
    min_ratio: float = Field(2.0, ge=1)


class DoublePaymentRule(_Rule):
    pass


class RefundRules(_Rule):
    # A refund within this many hours of its sale counts as quick; flagged once the same customer or
    # card has at least `quick_min_count` quick refunds in the data (the day and its history).
    quick_hours: float = Field(24.0, gt=0)
    quick_min_count: int = Field(2, ge=1)
    above_sale: bool = True
    other_card: bool = True
    without_sale: bool = True
    quick: bool = True


class FeeBandRule(_Rule):
    # A batch's fee rate (fees / sales) against the earlier batches': modified z beyond this, or
    # outside [min_rate, max_rate] when given.
    threshold: float = Field(3.5, gt=0)
    min_history: int = Field(5, ge=3)
    min_rate: float | None = Field(None, ge=0, le=1)
    max_rate: float | None = Field(None, ge=0, le=1)


class UnusualHourRule(_Rule):
    # Hours (merchant local time) holding less than this share of the history are unusual; with
    # less than `min_history` earlier transactions the configured quiet hours are used instead.
    min_share: float = Field(0.005, ge=0, le=1)
    min_history: int = Field(500, ge=1)
    quiet_hours: tuple[int, ...] = (0, 1, 2, 3, 4)


class AnomalyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    duplicate_charge: DuplicateChargeRule = DuplicateChargeRule()
    card_testing: CardTestingRule = CardTestingRule()
    amount_outlier: AmountOutlierRule = AmountOutlierRule()
    double_payment: DoublePaymentRule = DoublePaymentRule()
    refunds: RefundRules = RefundRules()
    fee_rate: FeeBandRule = FeeBandRule()
    unusual_hour: UnusualHourRule = UnusualHourRule()
    # Rules whose flags stop the payment from posting until a person clears it (default: none).
    hold_from_posting: tuple[Rule, ...] = ()
    # Flags a person has cleared: "RULE:TRANSACTION_ID" (e.g. "duplicate_charge:1000123"); a cleared
    # flag is still reported but no longer holds its payment.
    cleared: tuple[str, ...] = ()
    # Days of earlier activity the rules judge a day against (customer history, hours, refunds' sales).
    history_days: int = Field(90, ge=1, le=3660)
    # The merchant's zone (set from merchant.time_zone, not here).
    time_zone: str = "America/Los_Angeles"

    @model_validator(mode="after")
    def _held_rules_on(self) -> AnomalyPolicy:
        off = [rule for rule in self.hold_from_posting if not self.enabled(rule)]
        if off:
            raise ValueError(f"hold_from_posting lists {', '.join(off)}, which is turned off; turn it on or "
                             "remove it from the list")
        return self

    def enabled(self, rule: str) -> bool:
        refunds = self.refunds
        switches = {
            "duplicate_charge": self.duplicate_charge.enabled, "card_testing": self.card_testing.enabled,
            "amount_outlier": self.amount_outlier.enabled, "double_payment": self.double_payment.enabled,
            "refund_above_sale": refunds.enabled and refunds.above_sale,
            "refund_to_other_card": refunds.enabled and refunds.other_card,
            "refund_without_sale": refunds.enabled and refunds.without_sale,
            "quick_refund": refunds.enabled and refunds.quick,
            "fee_rate_outside_band": self.fee_rate.enabled, "unusual_hour": self.unusual_hour.enabled,
        }
        return switches[rule]
