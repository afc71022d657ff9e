"""Speed work on the matching core must not change what it decides or says.

`fingerprints_before_duckdb.json` was recorded with the implementation before the columnar engine
(commit 14617d2, Python regex per distinct text) on the benchmark's synthetic data and on the
messy generated days, under three policies; every frame must still match it cell for cell (dtypes
and cell types included, see fingerprints.py). Re-record it only for an intended change of output,
and say so in the commit. match_day returns its explanations coded: they are rendered
(`render_messages`, as the pipeline does before storing them) and compared as text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_matching import synthetic
from sage_paytrace_pipeline.domain.matching import (
    MatchingPolicy,
    extract_invoice_references,
    match_day,
    render_messages,
)
from sage_paytrace_pipeline_tests.domain.matching.fingerprints import result_fingerprint
from sage_paytrace_pipeline_tests.domain.matching.test_match_day import messy_day

EXPECTED = json.loads((Path(__file__).parent / "fingerprints_before_duckdb.json").read_text())
POLICIES = {
    "default": MatchingPolicy(),
    "tolerant": MatchingPolicy(fuzzy_requires_zip=False, amount_tolerance_cents=50),
    "held": MatchingPolicy(post_unapplied_as_prepayment=False, auto_create_customers=True, refund_flow=True),
}
# On the benchmark day names are always compared within their ZIP: without ZIPs every billing name
# meets all 200k customers, minutes of fuzzy scoring that say nothing more about equality.
SYNTHETIC_POLICIES = {
    "default": POLICIES["default"],
    "loose": MatchingPolicy(amount_tolerance_cents=50, fuzzy_name_threshold=80),
    "held": POLICIES["held"],
}


def fingerprint(payments, customers, cards, invoices, links, policy: MatchingPolicy) -> dict:
    result = render_messages(match_day(payments, customers, cards, invoices, links=links, policy=policy))
    return result_fingerprint(result, extract_invoice_references(payments, policy))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("seed", range(8))
def test_messy_days_give_what_they_gave_before(seed, policy):
    assert fingerprint(*messy_day(seed), POLICIES[policy]) == EXPECTED[f"messy-{seed}-{policy}"]


@pytest.mark.parametrize("policy", SYNTHETIC_POLICIES)
def test_the_benchmark_day_gives_what_it_gave_before(policy):
    data = synthetic(20_000, 100_000, seed=7)
    found = fingerprint(data["payments"], data["customers"], data["cards"], data["open_invoices"], data["links"],
                        SYNTHETIC_POLICIES[policy])
    assert found == EXPECTED[f"synthetic-20000-{policy}"]
    assert min(found["rows"]) > 1000  # a real day: thousands of links, applications and exceptions


def test_explanations_rendered_in_chunks_are_the_whole_days(monkeypatch):
    """Explanations are written `RENDER_ROWS` rows at a time: chunk edges change nothing."""
    from sage_paytrace_pipeline.domain.matching import text

    data = synthetic(20_000, 100_000, seed=7)
    monkeypatch.setattr(text, "RENDER_ROWS", 997)  # edges inside every day's links and applications
    found = fingerprint(data["payments"], data["customers"], data["cards"], data["open_invoices"], data["links"],
                        SYNTHETIC_POLICIES["default"])
    assert found == EXPECTED["synthetic-20000-default"]
