"""Re-running a day from the console: a Dagster run of the daily job for the day's partition through Dagster's
GraphQL API, audited, linked; refused for a viewer; one clear line when Dagster does not answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.console.rerun import PARTITION_TAG, rerun_request
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.console.store import ConsoleStore
from sage_paytrace_pipeline_tests.console.conftest import log_in, write_config

STUB = Path(__file__).parent / "dagster_stub" / "daily_job.py"
DAY = date(2026, 11, 18)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _console(home, password_hashes, dagster_url: str) -> TestClient:
    write_config(home.config, password_hashes, extra=f"  dagster_url: {dagster_url}\n")
    return TestClient(app_from_environment(home.environ), follow_redirects=False)


def _audit(home) -> list[dict]:
    store = ConsoleStore(home.environ["SAGE_PAYTRACE_CONSOLE_DATABASE"])
    return [row for row in store.audit_rows() if row["action"] == "rerun_day"]


def test_the_request_names_the_job_the_partition_and_who_asked():
    request = rerun_request("https://dagster.example.com:8443/ops/", DAY, requested_by="carl")
    assert request.client == {"hostname": "dagster.example.com", "port_number": 8443, "use_https": True,
                              "timeout": 15, "path_prefix": "/ops"}
    assert request.submission == {"job_name": "paytrace_daily_job",
                                  "tags": {PARTITION_TAG: "2026-11-18", "console/requested_by": "carl"}}
    assert request.ui_base == "https://dagster.example.com:8443/ops"
    with pytest.raises(ValueError, match=r"console\.dagster_url"):
        rerun_request("dagster:3000", DAY, requested_by="carl")


def test_unreachable_dagster_is_one_clear_line_and_audited(home, password_hashes):
    client = _console(home, password_hashes, f"http://127.0.0.1:{_free_port()}")
    token = log_in(client, "carl")
    response = client.post(f"/days/{DAY}/rerun", data={"csrf": token})
    assert response.status_code == 502
    assert "did not launch the run: no answer (is dagster-webserver running there?)" in response.text
    assert [row["outcome"] for row in _audit(home)] == ["failed"]


def test_a_viewer_may_not_rerun_and_a_form_needs_its_token(home, password_hashes):
    client = _console(home, password_hashes, f"http://127.0.0.1:{_free_port()}")
    token = log_in(client, "vera")
    assert "Re-run the day" not in client.get("/dashboard").text
    assert client.post(f"/days/{DAY}/rerun", data={"csrf": token}).status_code == 403
    assert client.post(f"/days/{DAY}/rerun", data={}).status_code == 403
    assert _audit(home) == []


@pytest.fixture
def dagster_webserver(tmp_path):
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-f", str(STUB), "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "DAGSTER_HOME": str(home)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not start within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _run_tags(url: str, run_id: str) -> dict[str, str]:
    query = """query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } jobName } } }"""
    run = httpx.post(f"{url}/graphql", json={"query": query, "variables": {"id": run_id}}, timeout=15).json()
    found = run["data"]["runOrError"]
    return {"job": found["jobName"], **{tag["key"]: tag["value"] for tag in found["tags"]}}


@pytest.mark.slow
def test_a_clerk_reruns_a_day_on_a_real_dagster_webserver(home, password_hashes, dagster_webserver):
    client = _console(home, password_hashes, dagster_webserver)
    token = log_in(client, "carl")
    assert f'action="/days/{DAY}/rerun"' in client.get("/dashboard?month=2026-11").text
    response = client.post(f"/days/{DAY}/rerun", data={"csrf": token})
    assert response.status_code == 200, response.text
    (audited,) = _audit(home)
    assert audited["outcome"] == "done" and audited["actor"] == "carl" and audited["subject"] == DAY.isoformat()
    run_id = audited["after"].split('"run_id": "')[1].split('"')[0]
    assert f'href="{dagster_webserver}/runs/{run_id}"' in response.text
    tags = _run_tags(dagster_webserver, run_id)
    assert (tags["job"], tags[PARTITION_TAG], tags["console/requested_by"]) == (
        "paytrace_daily_job", DAY.isoformat(), "carl")


def test_an_exception_offers_to_rerun_its_day(home, password_hashes):
    from sage_paytrace_pipeline.console.sources import item_key
    from sage_paytrace_pipeline_tests.console.conftest import VAULT_ID

    client = _console(home, password_hashes, f"http://127.0.0.1:{_free_port()}")
    log_in(client, "carl")
    page = client.get(f"/exceptions/{item_key('receivables', 'unknown_customer', f'paytrace:900001 vault:{VAULT_ID}')}")
    assert 'action="/days/' in page.text and "/rerun" in page.text
