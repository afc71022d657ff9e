"""Shared SQLite state (several instances, threads), PCI hygiene of the file, clock and settings."""

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from sage_paytrace_pipeline.domain.cards import find_card_numbers, luhn_valid
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread

PACIFIC = ZoneInfo("America/Los_Angeles")
VISA = "4012000098765439"
AMEX = "371449635392376"
DISCOVER = "6011000993026909"


def keyed(amount="10.00", number=VISA, **extra):
    return {"amount": amount, "csc": "999",
            "credit_card": {"number": number, "expiration_month": 4, "expiration_year": 2030}, **extra}


def test_two_instances_on_one_file_see_each_others_writes(tmp_path):
    path = tmp_path / "shared.sqlite3"
    first, second = PayTraceSandbox(path), PayTraceSandbox(path, settings={"batch_cutoff": "18:30"})
    assert first.settings().batch_cutoff == "18:30"
    first.set_clock(at=datetime(2026, 3, 2, 10, 0))
    assert second.now() == datetime(2026, 3, 2, 10, 0, tzinfo=PACIFIC)
    sale = first.call("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    assert second.call("/v1/transactions/void", {"transaction_id": sale})[1]["response_code"] == 109
    assert "818" in first.call("/v1/transactions/void", {"transaction_id": sale})[1]["errors"]
    second.ensure_user("ops", "pw-ops")
    status, token = first.issue_token({"grant_type": "password", "username": "ops", "password": "pw-ops"})
    assert status == 200 and second.authenticate(f"Bearer {token['access_token']}") is None


def test_concurrent_calls_from_threads_get_distinct_ids(tmp_path):
    engine = PayTraceSandbox(tmp_path / "s.sqlite3")
    engine.set_clock(at=datetime(2026, 3, 2, 10, 0))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: engine.call("/v1/transactions/sale/keyed", keyed(f"{i + 1}.00")),
                                range(40)))
    ids = [body["transaction_id"] for _, body in results]
    assert len(set(ids)) == 40 and all(status == 200 for status, _ in results)
    settled = engine.call("/v1/transactions/settle", {})[1]
    assert settled["transaction_count"] == 40 and settled["net_amount"] == Decimal(sum(range(1, 41)))


def test_state_file_never_holds_a_card_number(paytrace_api):
    for number in (VISA, AMEX, DISCOVER):
        assert paytrace_api.post("/v1/transactions/sale/keyed", keyed(
            number=number, description=f"pay with {number}", invoice_id=f"INV {number[:4]} {number[4:8]} {number[8:]}",
            billing_address={"name": f"Card {number}"}, customer_reference_id=number,
            discretionary_data={"memo": number}))[0] == 200
        paytrace_api.post("/v1/customer/create", {"customer_id": f"C{number[-4:]}", "credit_card": {
            "number": number, "expiration_month": 4, "expiration_year": 2030}, "csc": "999",
            "billing_address": {"name": number}, "email": f"{number}@example.com"})
    paytrace_api.post("/v1/transactions/refund/keyed", keyed(description=VISA))
    [record] = paytrace_api.post("/v1/transactions/export/by_date_range", {
        "start_date": "03/02/2026", "end_date": "03/02/2026", "transaction_type": "SALE"})[1]["transactions"][:1]
    assert record["description"] == "pay with xxxxxxxxxxxx5439"
    assert record["invoice_id"] == "INV xxxxxxxxxxxx5439"
    path = paytrace_api.handle.state_path
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # the file, -wal and -shm
    assert len(raw) > 0
    assert find_card_numbers(raw.decode("latin-1")) == []


def test_only_card_facts_are_stored(paytrace_api):
    paytrace_api.post("/v1/customer/create", {"customer_id": "C1", "csc": "999", "credit_card": {
        "number": VISA, "expiration_month": 4, "expiration_year": 2030}})
    paytrace_api.post("/v1/transactions/sale/by_customer", {"customer_id": "C1", "amount": "1.00", "csc": "999"})
    with sqlite3.connect(paytrace_api.handle.state_path) as conn:
        columns = {row[1] for table in ("transactions", "customers")
                   for row in conn.execute(f"PRAGMA table_info({table})")}
        cards = [json.loads(row[0]) for table in ("transactions", "customers")
                 for row in conn.execute(f"SELECT card_json FROM {table}")]
    assert not {"csc", "number", "card_number", "pan"} & columns
    assert cards == [{"bin": "401200", "last4": "5439", "length": 16, "brand": "VISA", "exp_month": 4,
                      "exp_year": 2030}] * 2


def _card_with(bin_digits: str, last4: str) -> str:
    return next(number for middle in range(10**6)
                if luhn_valid(number := f"{bin_digits}{middle:06d}{last4}"))


def test_neighbouring_stored_values_never_join_into_a_card_number(paytrace_api):
    # Stored as plain neighbouring columns, "CUST000018" + BIN "549974" + last4 "3846" would read
    # "0000185499743846" in the raw file: Luhn-valid, a false PAN for any scanner.
    number = _card_with("549974", "3846")
    paytrace_api.post("/v1/customer/create", {"customer_id": "CUST000018", "credit_card": {
        "number": number, "expiration_month": 4, "expiration_year": 2030}})
    paytrace_api.post("/v1/transactions/sale/keyed", keyed(number=number, invoice_id="INV-0000185",
                                                           description="4997438461 follow-up"))
    path = paytrace_api.handle.state_path
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert find_card_numbers(raw.decode("latin-1")) == []


def test_reset_empties_state_but_keeps_settings_users_and_ids(paytrace_api):
    engine = paytrace_api.handle.engine
    engine.update_settings(batch_cutoff="21:15")
    first = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    assert httpx.post(f"{paytrace_api.handle.base_url}/_sandbox/reset").json() == {"ok": True}
    assert "811" in paytrace_api.post("/v1/transactions/export/by_id", {"transaction_id": first})[1]["errors"]
    assert engine.settings().batch_cutoff == "21:15"
    second = paytrace_api.post("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    assert second == first + 1  # ids are never reused after a reset
    assert paytrace_api.handle.token()


def test_clock_modes_over_the_control_api(paytrace_sandbox):
    url = f"{paytrace_sandbox.base_url}/_sandbox/clock"
    assert httpx.get(url).json()["now"] == "2026-03-02T10:00:00-08:00"
    frozen = httpx.post(url, json={"set": "2026-11-24T14:00:00"}).json()
    assert frozen["mode"] == "frozen" and frozen["now"] == "2026-11-24T14:00:00-08:00"
    moved = httpx.post(url, json={"advance_seconds": 90}).json()
    assert moved["now"] == "2026-11-24T14:01:30-08:00"
    with_offset = httpx.post(url, json={"set": "2026-11-24T22:00:00Z"}).json()
    assert with_offset["now"] == "2026-11-24T14:00:00-08:00"
    running = httpx.post(url, json={"mode": "offset"}).json()
    assert running["mode"] == "offset"
    assert abs((paytrace_sandbox.engine.now() - datetime(2026, 11, 24, 14, 0, tzinfo=PACIFIC)).total_seconds()) < 5
    real = httpx.post(url, json={"mode": "real"}).json()
    assert real["mode"] == "real"
    assert abs((paytrace_sandbox.engine.now() - datetime.now(UTC)).total_seconds()) < 5
    assert httpx.post(url, json={"mode": "sideways"}).status_code == 400


def test_advancing_a_real_clock_makes_it_an_offset_clock(tmp_path):
    engine = PayTraceSandbox(tmp_path / "s.sqlite3")
    described = engine.set_clock(advance_seconds=86400)
    assert described["mode"] == "offset"
    assert 86390 < (engine.now() - datetime.now(UTC)).total_seconds() < 86410
    assert engine.set_clock()["mode"] == "offset"  # no arguments: report only


def test_settings_over_the_control_api(paytrace_sandbox):
    url = f"{paytrace_sandbox.base_url}/_sandbox/settings"
    assert httpx.get(url).json()["time_zone"] == "America/Los_Angeles"
    updated = httpx.post(url, json={"decline_amounts": ["2.5"], "batch_cutoff": "7:30"}).json()
    assert updated["decline_amounts"] == ["2.50"] and updated["batch_cutoff"] == "07:30"
    assert httpx.post(url, json={"time_zone": "Mars/Olympus"}).status_code == 400
    assert httpx.post(url, json={"no_such_setting": 1}).status_code == 400
    assert paytrace_sandbox.engine.call("/v1/transactions/sale/keyed", keyed("2.50"))[1]["response_code"] == 102


def test_merchant_time_zone_setting_changes_timestamps(tmp_path):
    engine = PayTraceSandbox(tmp_path / "s.sqlite3", settings={"time_zone": "America/New_York"})
    engine.set_clock(at=datetime(2026, 7, 4, 9, 5, 7))
    sale = engine.call("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    record = engine.call("/v1/transactions/export/by_id", {"transaction_id": sale})[1]["transactions"][0]
    assert record["created"]["at"] == "7/4/2026 9:05:07 AM"
    assert engine.now().utcoffset().total_seconds() == -4 * 3600


@pytest.mark.parametrize("hour", [0, 12, 13])
def test_twelve_hour_clock_edges(tmp_path, hour):
    engine = PayTraceSandbox(tmp_path / "s.sqlite3")
    engine.set_clock(at=datetime(2026, 12, 31, hour, 0, 9))
    sale = engine.call("/v1/transactions/sale/keyed", keyed())[1]["transaction_id"]
    at = engine.call("/v1/transactions/export/by_id", {"transaction_id": sale})[1]["transactions"][0]["created"]["at"]
    assert at == {0: "12/31/2026 12:00:09 AM", 12: "12/31/2026 12:00:09 PM", 13: "12/31/2026 1:00:09 PM"}[hour]


def test_another_process_shares_the_state_file(tmp_path):
    path = tmp_path / "shared.sqlite3"
    engine = PayTraceSandbox(path)
    engine.set_clock(at=datetime(2026, 3, 2, 10, 0))
    script = (
        "import sys, json\n"
        "from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox\n"
        "engine = PayTraceSandbox(sys.argv[1])\n"
        "body = {'amount': '5.00', 'credit_card': {'number': '4012000098765439', 'expiration_month': 1,"
        " 'expiration_year': 2030}}\n"
        "print(json.dumps([engine.call('/v1/transactions/sale/keyed', body)[1]['transaction_id'],"
        " engine.now().isoformat()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    transaction_id, seen_now = json.loads(done.stdout)
    assert seen_now == "2026-03-02T10:00:00-08:00"  # the other process reads our frozen clock
    assert engine.call("/v1/transactions/void", {"transaction_id": transaction_id})[1]["response_code"] == 109


def test_serve_in_thread_stops_cleanly(tmp_path):
    app = create_app(tmp_path / "s.sqlite3")
    with serve_in_thread(app) as base_url:
        assert httpx.get(f"{base_url}/_sandbox/health").json() == {"ok": True}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_sandbox/health", timeout=2)
