"""A generated week through the real sandbox and a demo company: right invoices, right customers."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd

from sage_paytrace_pipeline.domain.matching import MatchingPolicy, extract_invoice_references, match_day
from sage_paytrace_pipeline.domain.matching.frames import cards_frame, customers_frame, links_frame, open_invoices_frame
from sage_paytrace_pipeline.paytrace.frames import transactions_frame
from sage_paytrace_pipeline.paytrace.models import parse_transaction
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

START, END = date(2026, 3, 2), date(2026, 3, 8)


def test_generated_week_is_matched_correctly(paytrace_sandbox, tmp_path):
    plan, summary = generate_activity(START, END, seed=5)
    assert apply_plan(paytrace_sandbox.engine, plan).failures == []
    status, body = paytrace_sandbox.engine.call(
        "/v1/transactions/export/by_date_range", {"start_date": "03/02/2026", "end_date": "03/09/2026"})
    assert status == 200
    zone = ZoneInfo("America/Los_Angeles")
    payments = transactions_frame([parse_transaction(r, zone) for r in body["transactions"]], START)

    company = create_demo_company(tmp_path / "demo.sqlite3", seed=5, activity=summary)
    reader = Sage100Reader.for_sqlite(company.db_path)
    result = match_day(payments, customers_frame(reader.customers()), cards_frame(reader.customer_cards()),
                       open_invoices_frame(reader.open_invoices()), links=links_frame({}), policy=MatchingPolicy())

    eligible = payments[payments["transaction_type"].isin(["SALE", "AUTHORIZATION"])
                        & payments["status"].isin(["PENDING", "SETTLED"])]
    assert result.skipped_counts.get("declined", 0) > 0
    apps, problems = result.applications, result.exceptions

    # the invoice's customer per the generator: vault customers by id, web buyers by e-mail
    owner_of = {}
    for invoice in summary.invoices:
        owner_of[invoice.invoice_no] = (company.vault_customers[invoice.customer_id] if invoice.customer_id
                                        else company.web_customers[invoice.bill_to_email.strip().lower()])
    on_invoices = apps[apps["invoice_type"] == "IN"]
    applied_to = list(zip(on_invoices["division"], on_invoices["customer_no"]))
    assert applied_to == [owner_of[number] for number in on_invoices["invoice_no"]]  # never a wrong customer

    # every payment that names its invoices is applied to exactly those, in full or up to the balances
    references = extract_invoice_references(eligible)
    named = references.groupby("transaction_id")["invoice_no"].agg(list)
    applied = on_invoices.groupby("transaction_id")["invoice_no"].agg(list)
    assert len(named) > 0.75 * len(eligible)
    for transaction_id, numbers in named.items():
        assert applied.get(transaction_id) == numbers, (
            transaction_id, numbers, problems[problems.transaction_id == transaction_id])

    # applications sum to the payment; a payment without applications has an error saying why
    sums = apps.groupby("transaction_id")["amount_cents"].sum()
    amounts = eligible.set_index("transaction_id")["amount_cents"]
    assert (sums == amounts[sums.index]).all()
    errors = set(problems.loc[problems["severity"] == "error", "transaction_id"])
    assert set(amounts.index) - set(sums.index) == errors
    assert set(problems["kind"]) <= {"refund_not_posted", "unapplied_payment", "overpayment", "unknown_customer",
                                     "ambiguous_customer"}
    assert isinstance(problems, pd.DataFrame) and problems["action"].str.len().gt(20).all()
