"""The `sage-paytrace` console command, run the way an operator runs it (a real subprocess)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox

CLI = [sys.executable, "-m", "sage_paytrace_pipeline.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_the_sandbox_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "paytrace", "serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--state", "--username", "--password"):
        assert option in out


def test_generate_into_a_state_file_is_deterministic_and_card_free(tmp_path, capsys):
    args = ["sandbox", "paytrace", "generate", "--start", "2026-03-02", "--end", "2026-03-04", "--seed", "9"]
    assert main([*args, "--state", str(tmp_path / "a.sqlite3"), "--summary-out", str(tmp_path / "a.json")]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--state", str(tmp_path / "b.sqlite3")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["outcome"]["transaction_ids"] == second["outcome"]["transaction_ids"]
    assert first["outcome"]["failures"] == []
    assert first["outcome"]["batches_closed"], "nightly batches close as the clock moves"
    summary = (tmp_path / "a.json").read_text()
    assert json.loads(summary)["invoices"] and find_card_numbers(summary) == []


@pytest.mark.slow
def test_serve_command_speaks_oauth_and_v1_over_a_socket(tmp_path):
    port = _free_port()
    state = tmp_path / "served.sqlite3"
    process = subprocess.Popen(
        [*CLI, "sandbox", "paytrace", "serve", "--port", str(port), "--state", str(state),
         "--username", "ops_user", "--password", "ops-secret-42"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_listening(base)
        token = httpx.post(f"{base}/oauth/token",
                           data={"grant_type": "password", "username": "ops_user", "password": "ops-secret-42"}).json()
        assert token["token_type"].lower() == "bearer" and token["expires_in"] == 7200
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        sale = httpx.post(f"{base}/v1/transactions/sale/keyed", headers=headers, json={
            "amount": 19.99, "integrator_id": "TESTINTEGRAT",
            "credit_card": {"number": "4012000098765439", "expiration_month": "12", "expiration_year": "2030"},
            "csc": "999", "invoice_id": "cli-1", "description": "card 4012000098765439 in text",
        }).json()
        assert sale["response_code"] == 101 and sale["masked_card_number"].endswith("5439")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    stored = b"".join(path.read_bytes() for path in Path(tmp_path).glob("served.sqlite3*"))
    assert b"4012000098765439" not in stored
    assert "4012000098765439" not in output and "ops-secret-42" not in output


@pytest.mark.parametrize("existing_zone", [None, "America/New_York"], ids=["new-state", "existing-state"])
def test_serve_keeps_the_zone_a_state_file_has_unless_told_otherwise(tmp_path, existing_zone):
    """Its batches were cut at the cutoff in that zone: serving it in the host's zone would move them a day."""
    state = tmp_path / "state.sqlite3"
    if existing_zone:
        PayTraceSandbox(state, settings={"time_zone": existing_zone})
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if key != "PAYTRACE_SANDBOX_TIME_ZONE"}
    process = subprocess.Popen([*CLI, "sandbox", "paytrace", "serve", "--port", str(port), "--state", str(state)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**environment, "TZ": "UTC"})
    try:
        _wait_until_listening(f"http://127.0.0.1:{port}")
        zone = httpx.get(f"http://127.0.0.1:{port}/_sandbox/settings").json()["time_zone"]
    finally:
        process.terminate()
        process.communicate(timeout=20)
    assert zone == (existing_zone or "UTC")


def _wait_until_listening(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"sandbox did not start on {base}")


def test_generate_into_a_running_sandbox_over_http(paytrace_sandbox, capsys):
    args = ["sandbox", "paytrace", "generate", "--start", "2026-03-02", "--end", "2026-03-03", "--seed", "4",
            "--customers", "6", "--url", paytrace_sandbox.base_url]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"]["failures"] == [] and report["outcome"]["batches_closed"]
    created = paytrace_sandbox.engine.stats()["calls_by_route"]["/v1/customer/create"]
    generated = report["generated"]
    assert created == generated["vault_customer"] + generated.get("vault_second_profile", 0)
    assert generated["vault_customer"] == 6


def test_errors_reach_the_operator_as_one_scrubbed_line(capsys, monkeypatch):
    monkeypatch.delenv("PAYTRACE_USERNAME", raising=False)
    monkeypatch.delenv("PAYTRACE_PASSWORD", raising=False)
    assert main(["paytrace", "ping"]) == 1
    assert "set PAYTRACE_USERNAME, PAYTRACE_PASSWORD" in capsys.readouterr().err


def test_sage_company_shares_customers_and_invoices_with_generated_paytrace_activity(tmp_path, capsys):
    from sage_paytrace_pipeline.sage100.reader import Sage100Reader

    summary_file = tmp_path / "activity.json"
    assert main(["sandbox", "paytrace", "generate", "--start", "2026-03-02", "--end", "2026-03-03", "--seed", "5",
                 "--customers", "6", "--state", str(tmp_path / "pt.sqlite3"), "--summary-out", str(summary_file)]) == 0
    capsys.readouterr()
    db = tmp_path / "sage.sqlite3"
    assert main(["sandbox", "sage100", "create", "--db", str(db), "--seed", "5", "--customers", "20",
                 "--paytrace-summary", str(summary_file)]) == 0
    created = json.loads(capsys.readouterr().out)
    activity = json.loads(summary_file.read_text())
    assert set(created["vault_customers"]) == {customer["customer_id"] for customer in activity["customers"]}
    reader = Sage100Reader.for_sqlite(db)
    open_numbers = {invoice.invoice_no for invoice in reader.open_invoices(with_balance_only=False)}
    assert {invoice["invoice_no"] for invoice in activity["invoices"]} <= open_numbers
    assert main(["sandbox", "sage100", "create", "--db", str(db)]) == 1, "an existing company is not overwritten"
    assert "exists" in capsys.readouterr().err
