"""Suggestions ranked on the issue's measured cases: the right customer or invoice comes first, with its reasons."""

from __future__ import annotations

from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.suggestions import SuggestionPolicy, best_suggestions, suggest
from sage_paytrace_pipeline_tests.domain.anomalies.crafted import frame, tx

CUSTOMERS = pd.DataFrame([
    ("01", "ACMEEST", "Acme Industrial East", "97201", "ap@acme-ind.com", "A", ""),
    ("01", "ACMEWST", "Acme Industrial West", "97035", "ap@acme-ind.com", "A", ""),
    ("01", "BAKER", "Baker Plumbing Supply", "98101", "office@bakerplumb.com", "A", ""),
    ("01", "BAKERS", "Bakersfield Tile Co", "93301", "tile@gmail.com", "A", ""),
    ("02", "CARVER", "Carver & Sons Hardware", "60601", "books@carver.com", "A", "VAULT-CARVER"),
    ("01", "DELTA", "Delta Marine Services", "33101", "pay@deltamarine.com", "A", ""),
], columns=["division", "customer_no", "name", "zip_code", "email", "status", "credit_card_guid"])

OPEN = pd.DataFrame([
    ("01", "ACMEEST", "0000500", "IN", 80_000, date(2026, 2, 1)),
    ("01", "ACMEWST", "0000501", "IN", 123_456, date(2026, 2, 20)),
    ("01", "BAKER", "0000600", "IN", 50_000, date(2026, 2, 25)),
    ("01", "BAKER", "0000601", "IN", 30_000, date(2026, 1, 2)),
    ("01", "BAKER", "0000602", "IN", 20_000, date(2026, 2, 28)),
    ("01", "BAKER", "0000603", "IN", 45_000, date(2025, 11, 2)),
    ("01", "DELTA", "0000700", "IN", 9_900, date(2026, 2, 2)),
], columns=["division", "customer_no", "invoice_no", "invoice_type", "balance_cents", "invoice_date"])


def payer(transaction_id: int, cents: int, *, name: str = "", zip5: str = "", **fields) -> dict:
    row = tx(transaction_id, cents, **fields)
    return {**row, "billing_name": name or None, "billing_zip": zip5 or None}


def run(kinds: dict[int, str], payers: list[dict], **options) -> pd.DataFrame:
    exceptions = pd.DataFrame({"kind": list(kinds.values()), "transaction_id": list(kinds)})
    return suggest(exceptions, frame(payers), CUSTOMERS, OPEN, **options)


def ranked(found: pd.DataFrame, transaction_id: int) -> list[str]:
    rows = found[found["transaction_id"] == transaction_id].sort_values("rank")
    return [f"{d}-{c}" + (f":{i}" if i else "") for d, c, i in zip(rows["division"], rows["customer_no"],
                                                                 rows["invoice_nos"])]


def test_an_email_shared_by_two_divisions_of_a_firm_ranks_the_one_owed_the_amount_first():
    found = run({1: "ambiguous_customer"}, [payer(1, 123_456, email="AP@acme-ind.com", name="Acme Industrial")])
    assert ranked(found, 1)[:2] == ["01-ACMEWST", "01-ACMEEST"]
    first = found[found["rank"] == 1].iloc[0]
    assert "same e-mail" in first["reasons"] and "amount equals one of its open invoices" in first["reasons"]
    second = found[found["rank"] == 2].iloc[0]
    assert first["score"] > second["score"]
    assert best_suggestions(found)[1].startswith("01-ACMEWST (")


def test_unknown_payer_found_by_a_misspelt_name_in_its_zip():
    found = run({2: "unknown_customer"}, [payer(2, 1_000, name="Baker Plumbing Suply", zip5="98101-1234")])
    assert ranked(found, 2)[0] == "01-BAKER"
    assert "name similarity" in found.iloc[0]["reasons"] and "same ZIP" in found.iloc[0]["reasons"]


def test_vault_history_outranks_a_similar_name_and_free_mail_is_no_evidence():
    vault_links = pd.DataFrame({"customer_id": ["VAULT-9"], "division": ["01"], "customer_no": ["DELTA"]})
    found = run({3: "unknown_customer", 4: "unknown_customer"},
                [payer(3, 5_000, customer_id="VAULT-9", name="Bakersfield Tile"),
                 payer(4, 5_000, email="someone@gmail.com")], vault_links=vault_links)
    assert ranked(found, 3)[0] == "01-DELTA"
    assert "01-BAKERS" in ranked(found, 3)
    assert ranked(found, 4) == []  # a gmail address shares a domain with everyone


def test_vault_id_on_the_customer_record_and_invoice_number_in_the_reference():
    found = run({5: "unknown_customer", 6: "unknown_customer"},
                [payer(5, 777, customer_id="VAULT-CARVER"), payer(6, 4_321, description="inv 0000700")])
    assert ranked(found, 5)[0] == "02-CARVER"
    found = run({6: "unknown_customer"}, [payer(6, 4_321, invoice_id="0000700")])
    assert ranked(found, 6)[0] == "01-DELTA"
    assert "reference is one of its open invoices" in found.iloc[0]["reasons"]
    near = run({7: "unknown_customer"}, [payer(7, 4_321, invoice_id="0000710")])
    assert ranked(near, 7)[0] == "01-DELTA" and "one edit" in near.iloc[0]["reasons"]


def test_unapplied_payment_ranks_the_invoices_of_its_customer():
    links = pd.DataFrame({"transaction_id": [10, 11, 12, 13], "division": "01", "customer_no": "BAKER"})
    found = run({10: "unapplied_payment", 11: "unapplied_payment", 12: "unapplied_payment",
                 13: "unapplied_payment"},
                [payer(10, 30_000), payer(11, 12_345, invoice_id="000601"), payer(12, 70_000),
                 payer(13, 145_000)], customer_links=links)
    assert ranked(found, 10)[0] == "01-BAKER:0000601"
    assert ranked(found, 11)[0] == "01-BAKER:0000601"  # one edit from the reference
    assert ranked(found, 12)[0] == "01-BAKER:0000600,0000602"  # two balances add up to the payment
    assert ranked(found, 13)[0] == "01-BAKER:0000600,0000601,0000602,0000603"
    assert set(found["target"]) == {"invoice"} and found.groupby("transaction_id").size().max() <= 3


def test_at_most_the_configured_number_of_candidates_and_other_kinds_ignored():
    found = run({1: "ambiguous_customer", 8: "overpayment"},
                [payer(1, 123_456, email="ap@acme-ind.com", name="Baker"), payer(8, 50_000, name="Baker Plumbing")],
                policy=SuggestionPolicy(candidates=1))
    assert found["transaction_id"].tolist() == [1] and found["rank"].tolist() == [1]


def test_payers_without_email_or_name_get_no_candidates_and_nothing_breaks():
    found = run({9: "unknown_customer"}, [payer(9, 1)])
    assert found.empty and list(found.columns)[:3] == ["transaction_id", "exception_kind", "rank"]
