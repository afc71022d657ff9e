"""Fault injection: deterministic from the seed, per route, never on the control API."""

from decimal import Decimal

import httpx
import pytest

from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox

EXPORT = "/v1/transactions/export/by_date_range"
DAY = {"start_date": "03/02/2026", "end_date": "03/02/2026"}
SALE = {"amount": "19.95", "invoice_id": "WEB-42",
        "credit_card": {"number": "4012000098765439", "expiration_month": 1, "expiration_year": 2030}}


def _outcomes(engine: PayTraceSandbox, route: str, n: int) -> list[bool]:
    return [engine.draw_fault(route) is not None for _ in range(n)]


def test_rate_decisions_repeat_for_the_same_seed(tmp_path):
    rules = [{"route": EXPORT, "kind": "http_503", "rate": 0.33}]
    first, second, other = (PayTraceSandbox(tmp_path / f"{name}.sqlite3") for name in ("a", "b", "c"))
    first.set_faults(rules, seed=7)
    second.set_faults(rules, seed=7)
    other.set_faults(rules, seed=8)
    sequence = _outcomes(first, EXPORT, 60)
    assert sequence == _outcomes(second, EXPORT, 60)
    assert sequence != _outcomes(other, EXPORT, 60)
    assert 8 <= sum(sequence) <= 32  # roughly a third
    assert first.draw_fault("/v1/transactions/void") is None  # other routes untouched
    assert first.faults()["injected_by_kind"] == {"http_503": sum(sequence)}


def test_count_limits_a_rule_and_star_matches_every_route(tmp_path):
    engine = PayTraceSandbox(tmp_path / "s.sqlite3")
    engine.set_faults([{"route": "*", "kind": "http_500", "count": 2}])
    assert _outcomes(engine, "/oauth/token", 1) + _outcomes(engine, EXPORT, 3) == [True, True, False, False]
    assert engine.faults()["rules"][0]["fired"] == 2
    engine.clear_faults()
    assert engine.faults()["rules"] == []


def test_bad_rules_are_refused(tmp_path):
    with pytest.raises(ValueError):
        PayTraceSandbox(tmp_path / "s.sqlite3").set_faults([{"kind": "http_418"}])


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503),
                                              ("http_504", 504), ("html_block", 200)])
def test_http_faults_answer_html_without_processing(paytrace_api, kind, status):
    paytrace_api.handle.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": kind, "count": 1}])
    response = paytrace_api.http.post("/v1/transactions/sale/keyed", json=SALE,
                                      headers={"Authorization": f"Bearer {paytrace_api.token}"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html") and "<html>" in response.text
    assert paytrace_api.post(EXPORT, DAY)[1]["transactions"] == []  # nothing was committed


def test_empty_body_and_429_retry_after(paytrace_sandbox):
    paytrace_sandbox.engine.set_faults([{"route": "/oauth/token", "kind": "http_429", "count": 1},
                                        {"route": "/oauth/token", "kind": "http_502", "count": 1, "body": "empty"}])
    first = httpx.post(f"{paytrace_sandbox.base_url}/oauth/token", data={"grant_type": "password"})
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    second = httpx.post(f"{paytrace_sandbox.base_url}/oauth/token", data={"grant_type": "password"})
    assert second.status_code == 502 and second.content == b""
    assert paytrace_sandbox.token()


def test_timeout_after_commit_commits_the_sale_then_answers_504(paytrace_api):
    paytrace_api.handle.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": "timeout_after_commit"}])
    response = paytrace_api.http.post("/v1/transactions/sale/keyed", json=SALE,
                                      headers={"Authorization": f"Bearer {paytrace_api.token}"})
    assert response.status_code == 504 and "Gateway Time-out" in response.text
    found = paytrace_api.post(EXPORT, {**DAY, "including_text": "WEB-42"})[1]["transactions"]
    assert len(found) == 1 and found[0]["amount"] == Decimal("19.95")  # the client can reconcile instead of re-charging


def test_timeout_after_commit_with_latency_times_the_client_out(paytrace_api):
    paytrace_api.handle.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": "timeout_after_commit",
                                            "latency_seconds": 1.0}])
    with pytest.raises(httpx.ReadTimeout):
        paytrace_api.http.post("/v1/transactions/sale/keyed", json=SALE, timeout=0.3,
                               headers={"Authorization": f"Bearer {paytrace_api.token}"})
    assert len(paytrace_api.post(EXPORT, DAY)[1]["transactions"]) == 1


def test_drop_connection_commits_then_breaks_the_response(paytrace_api):
    paytrace_api.handle.engine.set_faults([{"route": "/v1/transactions/sale/keyed", "kind": "drop_connection"}])
    with pytest.raises(httpx.TransportError):
        paytrace_api.http.post("/v1/transactions/sale/keyed", json=SALE,
                               headers={"Authorization": f"Bearer {paytrace_api.token}"})
    assert len(paytrace_api.post(EXPORT, DAY)[1]["transactions"]) == 1


def test_latency_delays_then_answers_normally(paytrace_api):
    paytrace_api.handle.engine.set_faults([{"route": EXPORT, "kind": "latency", "latency_seconds": 0.3}])
    response = paytrace_api.http.post(EXPORT, json=DAY, headers={"Authorization": f"Bearer {paytrace_api.token}"})
    assert response.status_code == 200 and response.elapsed.total_seconds() >= 0.3


def test_control_api_is_never_faulted_and_lists_counters(paytrace_sandbox):
    base = paytrace_sandbox.base_url
    response = httpx.post(f"{base}/_sandbox/faults", json={"seed": 3, "rules": [{"route": "*", "kind": "http_500"}]})
    assert response.status_code == 200 and response.json()["seed"] == 3
    assert httpx.get(f"{base}/_sandbox/health").json() == {"ok": True}
    assert httpx.post(f"{base}/v1/ping").status_code == 500
    listed = httpx.get(f"{base}/_sandbox/faults").json()
    assert listed["rules"][0]["fired"] == 1 and listed["injected_by_kind"] == {"http_500": 1}
    assert httpx.get(f"{base}/_sandbox/stats").json()["faults_by_kind"] == {"http_500": 1}
    assert httpx.delete(f"{base}/_sandbox/faults").json()["rules"] == []
    assert httpx.post(f"{base}/v1/ping").status_code == 200
    bad = httpx.post(f"{base}/_sandbox/faults", json={"rules": [{"kind": "nope"}]})
    assert bad.status_code == 400
