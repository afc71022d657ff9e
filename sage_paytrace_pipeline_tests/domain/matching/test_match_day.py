"""match_day shares work between its stages (one index, each reference looked up once): it must
give exactly what the public stages give one after the other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.matching import (
    MatchingPolicy,
    apply_payments,
    concat_exceptions,
    extract_invoice_references,
    match_day,
    render_messages,
    resolve_customers,
    split_eligible,
)
from sage_paytrace_pipeline_tests.domain.matching import builders


def messy_day(seed: int):
    """Shared e-mails and names, invoice numbers open for two customers, closed and credit invoices,
    vault ids on two customers, links, refunds and declines, amounts that pay twice or half."""
    rng = np.random.default_rng(seed)
    names = ["Cascade Supply", "Cascade Suply", "Ridge Dental", "Blue Heron", "Summit Glass", "Harbor Bakery"]
    customers = builders.customers(*[
        {"customer_no": f"C{i:03d}", "name": names[i % 6] + ("" if i < 6 else f" {i}"), "zip_code": f"9{i % 3}100",
         "email": f"ap{i % 9}@x.example" if i % 4 else f" AP{i}@X.example ", "status": "I" if i == 13 else "A",
         "credit_card_guid": f"G{i % 7}" if i % 3 == 0 else ""} for i in range(30)])
    cards = builders.cards(*[{"customer_no": f"C{i:03d}", "credit_card_guid": f"G{i % 7}"} for i in range(0, 30, 5)])
    invoices = builders.invoices(*[
        {"customer_no": f"C{int(rng.integers(0, 30)):03d}", "invoice_no": f"{int(rng.integers(1, 60)):07d}",
         "invoice_type": str(rng.choice(["IN", "IN", "DM", "FC", "CM"])),
         "balance_cents": int(rng.integers(-100, 9000))}
        for _ in range(120)])
    forms = ["INV-{n}", "#{n}", "{n}, {m}", "inv {n} and {m}", "Payment for invoice {n}", "", "PO 123 order 77"]
    rows = []
    for _ in range(200):
        n, m = (f"{int(rng.integers(1, 60)):07d}" for _ in range(2))
        text = str(rng.choice(forms)).format(n=n, m=m)
        who = int(rng.integers(0, 30))
        rows.append({
            "transaction_type": str(rng.choice(["SALE", "SALE", "AUTHORIZATION", "REFUND"])),
            "status": str(rng.choice(["SETTLED", "PENDING", "DECLINED", "AUTHORIZED"], p=[0.6, 0.2, 0.1, 0.1])),
            "amount_cents": int(rng.integers(1, 12000)),
            "invoice_id" if rng.random() < 0.5 else "description": text,
            "customer_id": f"G{who % 8}" if rng.random() < 0.3 else None,
            "email": f"ap{who % 10}@x.example" if rng.random() < 0.3 else None,
            "billing_name": names[who % 6].upper() if rng.random() < 0.4 else None,
            "billing_zip": f"9{who % 3}100-1234",
        })
    payments = builders.payments(*rows)
    payments["created_at"] = payments["created_at"].sample(frac=1.0, random_state=seed).to_numpy()
    links = builders.links({"customer_id": "G7", "customer_no": "C002"})
    return payments, customers, cards, invoices, links


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("policy", [
    MatchingPolicy(),
    MatchingPolicy(amount_tolerance_cents=500, fuzzy_name_threshold=80, post_unapplied_as_prepayment=True),
    MatchingPolicy(refund_flow=True),
])
def test_match_day_equals_the_public_stages(seed, policy):
    payments, customers, cards, invoices, links = messy_day(seed)
    result = render_messages(match_day(payments, customers, cards, invoices, links=links, policy=policy))

    eligible, refunds, skipped = split_eligible(payments, policy)
    references = extract_invoice_references(eligible, policy)
    customer_links, customer_problems = resolve_customers(eligible, customers, cards, invoices, links=links,
                                                          policy=policy, references=references)
    applications, invoice_problems = apply_payments(eligible, customer_links, invoices, policy=policy,
                                                    references=references)
    pd.testing.assert_frame_equal(result.customer_links, customer_links)
    pd.testing.assert_frame_equal(result.applications, applications)
    pd.testing.assert_frame_equal(result.exceptions, concat_exceptions([refunds, customer_problems, invoice_problems]))
    assert result.skipped_counts == skipped
    assert len(result.applications) and len(result.exceptions)
