"""The vectorized core decides what the row-by-row baseline (benchmarks/bench_matching.py), one
payment at a time, decides: on the benchmark's kind of day, every payment gets the same customer,
the same invoices with the same amounts (running balances), and the same remainder."""

from __future__ import annotations

import collections

import pytest

from benchmarks.bench_matching import row_by_row_decisions, synthetic
from sage_paytrace_pipeline.domain.matching import match_day


@pytest.mark.parametrize(("payments", "invoices", "seed"), [(3_000, 30_000, 7), (4_000, 8_000, 3)])
def test_every_payment_is_decided_as_one_at_a_time(payments, invoices, seed):
    data = synthetic(payments, invoices, seed=seed)
    oracle = row_by_row_decisions(data)
    result = match_day(data["payments"], data["customers"], data["cards"], data["open_invoices"], links=data["links"])

    customer = dict(zip(result.customer_links["transaction_id"], result.customer_links["customer_no"]))
    applied, left = collections.defaultdict(list), collections.Counter()
    rows = result.applications
    for tid, invoice_no, cents, method in zip(rows["transaction_id"], rows["invoice_no"], rows["amount_cents"],
                                              rows["method"]):
        if method == "prepayment":
            left[tid] += cents
        else:
            applied[tid].append((invoice_no, cents))
    vectorized = {tid: (customer.get(tid), applied.get(tid, []), left[tid] if tid in customer else cents)
                  for tid, cents in zip(data["payments"]["transaction_id"], data["payments"]["amount_cents"])}
    assert vectorized == oracle
    assert sum(bool(found) for _, found, _ in oracle.values()) > payments // 2  # most payments pay invoices
    assert sum(rest > 0 for _, _, rest in oracle.values()) > 100  # and many leave something over
