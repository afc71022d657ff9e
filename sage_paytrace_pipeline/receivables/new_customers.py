"""Unknown payers made into Sage customers, when the config says so (`customers.auto_create`).

Matching reports such payers as `customer_to_create`. Each distinct payer (vault id, else e-mail,
else name + ZIP) becomes one Sage customer, created through the writer idempotently by its
reference (AR_Customer.UDF_PAYTRACE_REF), with the vault profile stored on it when PayTrace has
one, so later payments link by vault id. A new customer has no invoices, so its payments post
on account: a prepayment (`PP`) each, applied to invoices later in Sage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
from pydantic import ValidationError

from sage_paytrace_pipeline.config import CustomerPolicy, SageSettings
from sage_paytrace_pipeline.domain.matching.exceptions import concat_exceptions, make_exceptions
from sage_paytrace_pipeline.receivables.receipts import PREPAYMENT_METHOD, payment_type_for, text_or_blank
from sage_paytrace_pipeline.sage100.documents import CustomerRecord, VaultCard
from sage_paytrace_pipeline.sage100.errors import Sage100ValidationError
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

TO_CREATE = "customer_to_create"
CREATED_METHOD = "created_customer"


@dataclass(frozen=True)
class NewCustomers:
    links: pd.DataFrame  # LINK_COLUMNS rows for the payments of created customers
    applications: pd.DataFrame  # one prepayment row per such payment
    failures: dict[int, str]  # transaction id -> why its customer could not be created


def payer_reference(payment: pd.Series) -> str:
    """A stable reference for one payer (≤ 30 chars): the vault id, else a digest of e-mail or name + ZIP."""
    vault = text_or_blank(payment.get("customer_id"))
    if vault and len(vault) <= 30:
        return vault
    by_name = f"{text_or_blank(payment.get('billing_name')).upper()}|{text_or_blank(payment.get('billing_zip'))}"
    key = vault or text_or_blank(payment.get("email")).lower() or by_name
    return "PT-" + hashlib.sha256(key.encode()).hexdigest()[:20].upper()


def create_customers(exceptions: pd.DataFrame, payments: pd.DataFrame, *, policy: CustomerPolicy,
                     sage: SageSettings, writer: Sage100Writer) -> NewCustomers:
    wanted = set(exceptions.loc[exceptions["kind"] == TO_CREATE, "transaction_id"].dropna().astype("int64"))
    todo = payments[payments["transaction_id"].isin(wanted)].sort_values("transaction_id")
    links: list[dict[str, object]] = []
    applications: list[dict[str, object]] = []
    failures: dict[int, str] = {}
    if todo.empty:
        return NewCustomers(pd.DataFrame(links), pd.DataFrame(applications), failures)
    for reference, group in todo.groupby(todo.apply(payer_reference, axis=1), sort=True):
        first = group.iloc[0]
        try:
            division, customer_no = _create(reference, first, policy, sage, writer)
        except (Sage100ValidationError, ValidationError) as error:
            failures.update({int(tid): _reason(error) for tid in group["transaction_id"]})
            continue
        for payment in group.itertuples(index=False):
            label = f"{division}-{customer_no}"
            links.append({"transaction_id": payment.transaction_id, "division": division, "customer_no": customer_no,
                          "method": CREATED_METHOD, "score": 100.0,
                          "explanation": f"no Sage customer matched; {label} was created from the payer ({reference})"})
            applications.append({
                "transaction_id": payment.transaction_id, "division": division, "customer_no": customer_no,
                "invoice_no": "P" + str(payment.transaction_id)[-6:].zfill(6), "invoice_type": "PP",
                "amount_cents": int(payment.amount_cents), "method": PREPAYMENT_METHOD, "score": 100.0,
                "explanation": f"payment on account of new customer {label} (no invoices yet): posted as a prepayment",
            })
    return NewCustomers(pd.DataFrame(links), pd.DataFrame(applications), failures)


def _create(reference: str, payment: pd.Series, policy: CustomerPolicy, sage: SageSettings,
            writer: Sage100Writer) -> tuple[str, str]:
    record = CustomerRecord(
        reference=reference, division=policy.division,
        name=text_or_blank(payment.get("billing_name")) or "PayTrace customer",
        zip_code=text_or_blank(payment.get("billing_zip"))[:10], email=text_or_blank(payment.get("email")),
        terms_code=policy.terms_code,
    )
    result = writer.upsert_customer(record)
    division, customer_no = result.documents["ARDivisionNo"], result.documents["CustomerNo"]
    vault = text_or_blank(payment.get("customer_id"))
    payment_type = payment_type_for(text_or_blank(payment.get("card_brand")), sage)
    has_card = bool(text_or_blank(payment.get("card_last4"))) and not pd.isna(payment.get("card_expiration_year"))
    if vault and payment_type and has_card:
        writer.store_vault_card(VaultCard(
            division=division, customer_no=customer_no, credit_card_guid=vault, payment_type=payment_type,
            last4=text_or_blank(payment.get("card_last4")), expiration_year=int(payment["card_expiration_year"]),
            expiration_month=int(payment["card_expiration_month"]), card_type=text_or_blank(payment.get("card_brand")),
            cardholder_name=text_or_blank(payment.get("billing_name"))[:30]))
    return division, customer_no


def _reason(error: Sage100ValidationError | ValidationError) -> str:
    if isinstance(error, Sage100ValidationError):
        return f"{error.field}: {error.problem}. Fix: {error.fix}"
    return "; ".join(f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                     for item in error.errors(include_url=False))



def failure_exceptions(failures: dict[int, str]) -> pd.DataFrame:
    if not failures:
        return concat_exceptions([])
    ids = pd.Series(list(failures))
    reasons = pd.Series(list(failures.values()))
    return make_exceptions(
        "customer_create_failed", "error", ids, source_ids="paytrace:" + ids.astype(str),
        problem="no Sage customer matched transaction " + ids.astype(str) + " and creating one failed: " + reasons,
        action="Create the customer in Sage (or link the payer: sage-paytrace link add), then re-run the day",
    )
