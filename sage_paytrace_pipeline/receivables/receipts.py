"""Matched applications -> one `CardReceipt` per PayTrace payment (pure; no I/O).

A receipt's deposit is the business day's card deposit of its payment type (the deposit
description carries the date and type, and the writer reuses an open deposit with the same
description), so Sage shows one deposit per day and payment type, as a card batch funds.
A payment that cannot become a valid document (unmapped brand, a line Sage would refuse) is an
exception row, never a partial receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from pydantic import ValidationError

from sage_paytrace_pipeline.config import SageSettings, is_payment_type_brand
from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions, empty_exceptions, make_exceptions
from sage_paytrace_pipeline.domain.money import cents_to_decimal
from sage_paytrace_pipeline.receivables.collector import collector_paused
from sage_paytrace_pipeline.sage100.documents import CardReceipt, ReceiptLine

PREPAYMENT_METHOD = "prepayment"
_PAYMENT_COLUMNS = ["transaction_id", "amount_cents", "card_brand", "card_last4", "card_expiration_month",
                    "card_expiration_year", "approval_code", "billing_name", "customer_id"]


@dataclass(frozen=True)
class ReceiptPlan:
    receipts: dict[int, CardReceipt]  # by PayTrace transaction id
    exceptions: pd.DataFrame


def payment_type_for(brand: str | None, settings: SageSettings) -> str | None:
    """Sage payment type of a card brand, or None when the config maps none."""
    types, key = settings.payment_types, (brand or "UNKNOWN").upper()
    return (types.get(key) if is_payment_type_brand(key) else None) or None


def deposit_description(settings: SageSettings, business_date: date, payment_type: str) -> str:
    return settings.deposit_description.format(date=business_date.isoformat(), payment_type=payment_type)[:30]


@collector_paused()
def plan_receipts(applications: pd.DataFrame, payments: pd.DataFrame, settings: SageSettings,
                  business_date: date) -> ReceiptPlan:
    """One receipt per payment that has applications; problems become exception rows."""
    receipts: dict[int, CardReceipt] = {}
    problems = []
    if applications.empty:
        return ReceiptPlan(receipts, empty_exceptions())
    # Plain records, read once: a pandas look-up per payment costs more than building its receipt.
    cards = {int(card["transaction_id"]): card for card in
             payments[_PAYMENT_COLUMNS].drop_duplicates("transaction_id").to_dict("records")}
    by_payment: dict[int, list[dict]] = {}
    for line in applications.sort_values("transaction_id", kind="stable").to_dict("records"):
        by_payment.setdefault(int(line["transaction_id"]), []).append(line)
    for transaction_id, lines in by_payment.items():
        payment = cards[transaction_id]
        payment_type = payment_type_for(text_or_blank(payment["card_brand"]), settings)
        if payment_type is None:
            problems.append(_unmapped_brand(transaction_id, text_or_blank(payment["card_brand"]) or "UNKNOWN"))
            continue
        try:
            receipts[transaction_id] = _receipt(transaction_id, lines, payment, payment_type, settings=settings,
                                                business_date=business_date)
        except ValidationError as exc:
            problems.append(_invalid_receipt(transaction_id, exc))
    return ReceiptPlan(receipts, concat_exceptions(problems))


def _receipt(transaction_id: int, lines: list[dict], payment: dict, payment_type: str, *,
             settings: SageSettings, business_date: date) -> CardReceipt:
    first = lines[0]
    return CardReceipt(
        transaction_id=str(transaction_id),
        division=first["division"],
        customer_no=first["customer_no"],
        deposit_date=business_date,
        bank_code=settings.bank_code,
        deposit_description=deposit_description(settings, business_date, payment_type),
        payment_type=payment_type,
        amount=cents_to_decimal(sum(int(line["amount_cents"]) for line in lines)),
        authorization_no=text_or_blank(payment["approval_code"]),
        last4=text_or_blank(payment["card_last4"]),
        expiration_year=_number(payment["card_expiration_year"]),
        expiration_month=_number(payment["card_expiration_month"]),
        card_type=text_or_blank(payment["card_brand"]),
        cardholder_name=text_or_blank(payment["billing_name"]),
        credit_card_guid=text_or_blank(payment["customer_id"])[:32],
        comment=f"PayTrace {transaction_id}",
        lines=tuple(
            ReceiptLine(invoice_no=row["invoice_no"],
                        invoice_type="IN" if row["method"] == PREPAYMENT_METHOD else row["invoice_type"],
                        amount=cents_to_decimal(int(row["amount_cents"])),
                        prepayment=row["method"] == PREPAYMENT_METHOD)
            for row in lines
        ),
    )


def text_or_blank(value) -> str:
    """A cell as stripped text; None and NA (pandas' missing values) as ''."""
    return "" if value is None or pd.isna(value) else str(value).strip()


def _number(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _unmapped_brand(transaction_id: int, brand: str) -> pd.DataFrame:
    return make_exceptions(
        "unmapped_payment_type", "error", pd.Series([transaction_id]),
        source_ids=f"paytrace:{transaction_id} brand:{brand}",
        problem=f"transaction {transaction_id} was paid with a {brand} card and sage.payment_types maps no Sage "
                f"payment type to {brand}; nothing was posted",
        action=f"Add {brand}: <payment type> under sage.payment_types in the config (a card payment type set up in "
               "Sage's Payment Type Maintenance); the next run posts the payment",
    )


def _invalid_receipt(transaction_id: int, error: ValidationError) -> pd.DataFrame:
    reasons = "; ".join(f"{'.'.join(str(p) for p in item['loc']) or 'receipt'}: {item['msg']}"
                        for item in error.errors(include_url=False))
    return make_exceptions(
        "receipt_invalid", "error", pd.Series([transaction_id]),
        source_ids=f"paytrace:{transaction_id}",
        problem=f"the cash receipt for transaction {transaction_id} is not a valid Sage document ({reasons}); "
                "nothing was posted",
        action="Correct the customer, invoice or payment type named above in Sage or in the config, "
               "then re-run the day",
    )
