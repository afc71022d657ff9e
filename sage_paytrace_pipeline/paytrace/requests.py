"""Typed requests for the money-moving and vault calls, each with its wire payload.

Building a request validates it before anything is sent: amounts must be positive money (never
float), and a money-moving request always carries an invoice_id (generated when omitted, see
`paytrace.ids`) because that is how a lost answer is found again. Optional fields that are unset
are left out of the payload so PayTrace applies its own defaults.

Card number and CSC stay secret: `CardInput` hides them, and the CSC field is kept out of reprs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar

from sage_paytrace_pipeline.domain.money import MoneyError, format_decimal, parse_money
from sage_paytrace_pipeline.paytrace.ids import lookup_key
from sage_paytrace_pipeline.paytrace.models import Address, CardInput


def positive_amount(amount: Decimal | str, field_name: str = "amount") -> Decimal:
    value = parse_money(amount, field=field_name)
    if value <= 0:
        raise MoneyError(f"{field_name}: {value} must be greater than zero")
    return value


def compact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset optional fields so PayTrace applies its own defaults."""
    return {key: value for key, value in payload.items() if value is not None}


def _set(instance: object, name: str, value: Any) -> None:
    object.__setattr__(instance, name, value)  # normalising a frozen dataclass in __post_init__


def _transaction_fields(
    amount: Decimal, invoice_id: str, description: str | None, tax_amount: Decimal | None, reference: str | None
) -> dict[str, Any]:
    tax = format_decimal(parse_money(tax_amount, field="tax_amount")) if tax_amount is not None else None
    return compact(
        {
            "amount": format_decimal(amount),
            "invoice_id": invoice_id,
            "description": description,
            "tax_amount": tax,
            "customer_reference_id": reference,
        }
    )


# ------------------------------------------------------------------ new transactions


class _NewTransaction:
    """What every money-moving request that creates a transaction shares: its amount is positive money
    (None where it means the whole of the original) and it always carries an invoice_id, generated
    when omitted, the key a lost answer is found by."""

    amount: Decimal | None
    invoice_id: str | None
    # Only a refund may leave its amount out (refund the whole transaction); a sale must name it.
    _amount_optional: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.amount is not None or not self._amount_optional:
            _set(self, "amount", positive_amount(self.amount))  # type: ignore[arg-type]  # None: refused there
        _set(self, "invoice_id", lookup_key(self.invoice_id))

    @property
    def sent_invoice_id(self) -> str:
        """The invoice_id the call is sent with (generated at construction when none was given)."""
        assert self.invoice_id is not None  # __post_init__ always sets it
        return self.invoice_id


@dataclass(frozen=True)
class KeyedSale(_NewTransaction):
    """A sale on a card typed in (``/v1/transactions/sale/keyed``)."""

    card: CardInput
    amount: Decimal
    invoice_id: str | None = None
    billing_address: Address | None = None
    email: str | None = None
    description: str | None = None
    tax_amount: Decimal | None = None
    customer_reference_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            **_transaction_fields(
                self.amount, self.sent_invoice_id, self.description, self.tax_amount, self.customer_reference_id
            ),
            **self.card.to_wire(),
            **compact({
                "billing_address": self.billing_address.to_wire() if self.billing_address else None,
                "email": self.email,
            }),
        }


@dataclass(frozen=True)
class CustomerTransaction(_NewTransaction):
    """A sale, authorization or refund on a vault customer's stored card (``…/by_customer``, ``to_customer``)."""

    customer_id: str
    amount: Decimal
    invoice_id: str | None = None
    description: str | None = None
    tax_amount: Decimal | None = None
    customer_reference_id: str | None = None
    csc: str | None = field(default=None, repr=False)  # a secret, like the card number

    def payload(self) -> dict[str, Any]:
        return {
            **_transaction_fields(
                self.amount, self.sent_invoice_id, self.description, self.tax_amount, self.customer_reference_id
            ),
            **compact({"customer_id": self.customer_id, "csc": self.csc}),
        }


@dataclass(frozen=True)
class TransactionRefund(_NewTransaction):
    """A refund of a settled transaction; the full amount when ``amount`` is None."""

    _amount_optional: ClassVar[bool] = True

    transaction_id: int
    amount: Decimal | None = None
    invoice_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return compact(
            {
                "transaction_id": self.transaction_id,
                "amount": format_decimal(self.amount) if self.amount is not None else None,
                "invoice_id": self.sent_invoice_id,
            }
        )


# ------------------------------------------------------------------ changes to existing transactions


@dataclass(frozen=True)
class Capture:
    """Capture an approved authorization; its full amount when ``amount`` is None."""

    transaction_id: int
    amount: Decimal | None = None

    def __post_init__(self) -> None:
        if self.amount is not None:
            _set(self, "amount", positive_amount(self.amount))

    def payload(self) -> dict[str, Any]:
        wire_amount = format_decimal(self.amount) if self.amount is not None else None
        return compact({"transaction_id": self.transaction_id, "amount": wire_amount})


# ------------------------------------------------------------------ vault


@dataclass(frozen=True)
class VaultProfile:
    """The vault profile fields shared by customer create and update (only those given are sent)."""

    card: CardInput | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    email: str | None = None
    phone: str | None = None
    discretionary_data: Mapping[str, Any] | None = None
    # A new expiry for the card on file (update only; no card number needed): (month, 4-digit year).
    expiry: tuple[int, int] | None = None

    def payload(self) -> dict[str, Any]:
        expiry = {"credit_card": {"expiration_month": self.expiry[0], "expiration_year": self.expiry[1]}} \
            if self.expiry and not self.card else {}
        return compact(
            {
                **(self.card.to_wire() if self.card else expiry),
                "billing_address": self.billing_address.to_wire() if self.billing_address else None,
                "shipping_address": self.shipping_address.to_wire() if self.shipping_address else None,
                "email": self.email,
                "phone": self.phone,
                "discretionary_data": dict(self.discretionary_data) if self.discretionary_data else None,
            }
        )


@dataclass(frozen=True)
class CustomerCreate:
    """A new vault customer with the card stored under it (``profile`` carries the other fields)."""

    customer_id: str
    card: CardInput
    profile: VaultProfile = VaultProfile()

    def payload(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, **replace(self.profile, card=self.card).payload()}


@dataclass(frozen=True)
class CustomerUpdate:
    """Changes to a vault customer: only the profile fields given, and a rename when ``new_id`` is set."""

    customer_id: str
    profile: VaultProfile
    new_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return {**compact({"customer_id": self.customer_id, "new_id": self.new_id}), **self.profile.payload()}
