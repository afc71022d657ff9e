"""Weights of the evidence that ranks suggestions (rules, until enough decisions exist to learn them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# E-mail domains many unrelated payers share: a shared domain there says nothing.
FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com", "msn.com",
             "live.com", "comcast.net", "att.net", "me.com", "protonmail.com", "ymail.com", "sbcglobal.net")


# The words each piece of customer evidence adds to a candidate's reasons, by the policy field that
# weighs it: customers.py writes them, learning.py reads decided suggestions' reasons back with them.
CUSTOMER_REASONS = {
    "vault_history": "the vault id paid this customer before",
    "email": "same e-mail",
    "email_domain": "same e-mail domain",
    "zip_code": "same ZIP",
    "reference_exact": "the payer's reference is one of its open invoices",
    "reference_near": "the payer's reference is one edit from one of its open invoices",
    "amount_open_invoice": "amount equals one of its open invoices",
    "amount_open_total": "amount equals the sum of its open invoices",
    "inactive": "customer is inactive",
}
NAME_REASON = "name similarity"  # followed by the similarity, 0-100


class SuggestionPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    candidates: int = Field(3, ge=1, le=10)
    # name similarity (rapidfuzz token_sort_ratio) below this is no evidence
    name_floor: float = Field(60.0, ge=0, le=100)
    # an amount equal to the open invoices of more customers than this proposes none of them by itself
    amount_only_max_customers: int = Field(3, ge=0)
    # points per piece of evidence (customer candidates, then invoice candidates)
    vault_history: float = 45.0
    email: float = 35.0
    email_domain: float = 12.0
    name: float = 30.0  # at a perfect name; linear from name_floor
    zip_code: float = 8.0
    reference_exact: float = 40.0
    reference_near: float = 20.0  # one edit away
    amount_open_invoice: float = 25.0
    amount_open_total: float = 15.0
    inactive: float = -10.0
    invoice_amount: float = 45.0
    invoice_reference_exact: float = 50.0
    invoice_reference_near: float = 30.0
    invoice_date_near: float = 10.0  # invoice dated within date_window_days before the payment, linear
    date_window_days: int = Field(60, ge=1)
    free_mail_domains: tuple[str, ...] = FREE_MAIL
    # customer decisions (accepted and rejected, both present) from which the evidence weights are
    # learned instead of the rule weights above (learning.py); 0 never learns
    learn_after: int = Field(30, ge=0)
