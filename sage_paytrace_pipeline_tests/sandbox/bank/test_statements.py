"""A generated week through the real sandbox engine becomes bank statements that match their truth file."""

import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sage_paytrace_pipeline.banking import read_statement, read_statement_folder
from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.sandbox.bank import (
    TRUTH_FILE,
    BankTruth,
    FundingProfile,
    PlantedProblems,
    add_business_days,
    generate_bank_statements,
    is_business_day,
    sandbox_batches,
)
from sage_paytrace_pipeline.sandbox.bank.funding import nth_business_day
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
from sage_paytrace_pipeline.sandbox.paytrace.plan import apply_plan

MONDAY, SUNDAY = date(2026, 3, 2), date(2026, 3, 8)
# Fees per brand as the default profile states them: (basis points, cents per item).
RATES = {"VISA": (250, 10), "MASTERCARD": (250, 10), "DISCOVER": (250, 10), "AMEX": (350, 15)}


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """Monday to Sunday of generated activity (weekend sales too), every nightly batch closed."""
    state = tmp_path_factory.mktemp("bank") / "paytrace_sandbox.sqlite3"
    sandbox = PayTraceSandbox(state)
    sandbox.set_clock(at=datetime.combine(MONDAY, datetime.min.time()))
    plan, _ = generate_activity(MONDAY, SUNDAY, seed=11)
    outcome = apply_plan(sandbox, plan.model_copy(update={"finish_at": datetime(2026, 3, 9, 6, 0)}))
    assert not outcome.failures
    batches = sandbox_batches(sandbox)
    assert len(batches) == 7 and any(b.created_at.weekday() >= 5 for b in batches)
    return state, batches


def _generate(week, tmp_path, **profile):
    return generate_bank_statements(week[1], FundingProfile(**profile), tmp_path)


def _read(tmp_path, truth, fmt):
    frames = [read_statement(tmp_path / name).transactions for name in truth.files[fmt]]
    return [(row.posted_date, row.amount_cents, row.bank_reference, row.description, row.account_id, row.currency)
            for frame in frames for row in frame.itertuples()]


def _expected(truth):
    return [(e.posted_date, e.amount_cents, e.bank_reference, e.description, e.account_id, e.currency)
            for e in truth.entries if e.amount_cents is not None]


@pytest.mark.parametrize("discount", ["daily", "monthly"])
@pytest.mark.parametrize("fmt", ["bai2", "ofx"])
def test_parsed_statements_equal_the_truth_file(week, tmp_path, discount, fmt):
    truth = _generate(week, tmp_path, discount_method=discount)
    assert _read(tmp_path, truth, fmt) == _expected(truth)
    assert BankTruth.model_validate_json((tmp_path / TRUTH_FILE).read_text()) == truth


def test_bai2_and_ofx_give_the_same_deposits(week, tmp_path):
    truth = _generate(week, tmp_path)
    assert _read(tmp_path, truth, "bai2") == _read(tmp_path, truth, "ofx")
    scan = read_statement_folder(tmp_path / "bai2", seen_hashes=set())
    assert not scan.errors and len(scan.loaded) == len(truth.files["bai2"])


def test_fees_are_gross_minus_net_and_follow_the_rates(week, tmp_path):
    truth = _generate(week, tmp_path)
    for batch in week[1]:
        entries = [e for e in truth.entries if e.batch_numbers == [batch.number]]
        for entry in entries:
            brands = {b: t for b, t in batch.brands.items() if (b == "AMEX") == (entry.brand_group == "AMEX")}
            gross = sum(t.sales_amount - t.refund_amount for t in brands.values())
            # dollars * bps / 100 = cents, half a cent rounds up; refunds pay the per-item fee too
            fees = sum(int((t.sales_amount * RATES[b][0] / 100).quantize(Decimal(1), ROUND_HALF_UP))
                       + RATES[b][1] * (t.sales_count + t.refund_count) for b, t in brands.items())
            assert (entry.gross_cents, entry.fees_cents) == (int(gross * 100), fees)
            assert entry.fees_cents == entry.gross_cents - entry.expected_net_cents
        assert sum(e.gross_cents for e in entries) == int((batch.sales_amount - batch.refund_amount) * 100)


def test_planted_problems_are_where_the_truth_says(week, tmp_path):
    truth = _generate(week, tmp_path)
    shown = {row[2]: row for row in _read(tmp_path, truth, "bai2")}
    [missing] = truth.planted("missing")
    [short] = truth.planted("short")
    assert missing.bank_reference not in shown and missing.amount_cents is None
    assert short.amount_cents == short.expected_net_cents - 2500 == shown[short.bank_reference][1]
    assert "CHGBK ADJ -25.00" in shown[short.bank_reference][3]
    untouched = [e for e in truth.entries if not {"missing", "short"} & set(e.problems)]
    assert all(e.amount_cents == e.expected_net_cents for e in untouched)
    amex = [e for e in truth.entries if e.brand_group == "AMEX"]
    assert amex and all(e.problems == ["amex_separate"] and "AMEX" in e.description for e in amex)
    for entry in amex:  # Amex funds on its own, a business day after the rest of its batch
        [cards] = [e for e in truth.entries if e.batch_numbers == entry.batch_numbers and e is not entry]
        assert entry.posted_date == add_business_days(cards.posted_date, 1)


def test_monthly_discount_deposits_gross_and_debits_the_fees_once_next_month(week, tmp_path):
    daily = _generate(week, tmp_path / "daily", problems=PlantedProblems.none())
    monthly = _generate(week, tmp_path / "monthly", discount_method="monthly", problems=PlantedProblems.none())
    deposits = [e for e in monthly.entries if e.kind == "deposit"]
    assert all(e.fees_cents == 0 and e.amount_cents == e.gross_cents for e in deposits)
    [fee] = [e for e in monthly.entries if e.kind == "monthly_fees"]
    assert fee.amount_cents == -sum(e.fees_cents for e in daily.entries)
    assert fee.posted_date == nth_business_day(2026, 4, 3) == date(2026, 4, 3)
    assert fee.batch_numbers == sorted(b.number for b in week[1])
    assert ("2026-04-03", -fee.fees_cents) in [(str(r[0]), r[1]) for r in _read(tmp_path / "monthly", monthly, "ofx")]


def test_weekends_are_skipped(week, tmp_path):
    truth = _generate(week, tmp_path)
    assert all(is_business_day(e.posted_date) for e in truth.entries)
    for batch in week[1]:
        if batch.created_at.weekday() >= 5:  # Saturday and Sunday batches fund on Monday (Amex Tuesday)
            posted = {e.brand_group: e.posted_date for e in truth.entries if e.batch_numbers == [batch.number]}
            assert posted["VISA/MC/DISC"] == date(2026, 3, 9)
            assert posted.get("AMEX", date(2026, 3, 10)) == date(2026, 3, 10)


@pytest.mark.parametrize(("day", "count", "expected"), [
    (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1 = Monday
    (date(2026, 3, 7), 1, date(2026, 3, 9)),  # Saturday + 1 = Monday
    (date(2026, 3, 8), 2, date(2026, 3, 10)),  # Sunday + 2 = Tuesday
    (date(2026, 3, 5), 2, date(2026, 3, 9)),  # Thursday + 2 = Monday
    (date(2026, 3, 2), 0, date(2026, 3, 2)),
])
def test_add_business_days(day, count, expected):
    assert add_business_days(day, count) == expected


def test_same_seed_same_files_other_seed_other_problems(week, tmp_path):
    first = _generate(week, tmp_path / "a", seed=5)
    again = _generate(week, tmp_path / "b", seed=5)
    other = _generate(week, tmp_path / "c", seed=6)
    assert first == again
    for name in first.files["bai2"] + first.files["ofx"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert [e.problems for e in first.entries] != [e.problems for e in other.entries]


def test_cli_writes_statements_from_a_state_file(week, tmp_path, capsys):
    out = tmp_path / "bank"
    args = ["sandbox", "bank", "statements", "--state", str(week[0]), "--out", str(out), "--format", "bai2",
            "--discount", "monthly", "--seed", "3"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["batches"] == 7 and list(report["files"]) == ["bai2"] and not (out / "ofx").exists()
    assert len(report["planted"]["missing"]) == len(report["planted"]["short"]) == 1
    assert main(["sandbox", "bank", "statements", "--state", str(tmp_path / "none.sqlite3"), "--out", str(out)]) == 1
    assert "no PayTrace sandbox state" in capsys.readouterr().err
