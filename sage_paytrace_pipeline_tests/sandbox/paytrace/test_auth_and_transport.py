"""OAuth tokens, bearer checks, POST-only routes and response headers of the PayTrace sandbox."""

import re
import time
from email.utils import parsedate_to_datetime

import httpx

TOKEN_SHAPE = re.compile(r"^[0-9a-f]{32}:[0-9a-f]{32}:[A-Za-z0-9_-]{43}$")


def _token_request(handle, **overrides):
    fields = {"grant_type": "password", "username": handle.username, "password": handle.password, **overrides}
    return httpx.post(f"{handle.base_url}/oauth/token", data=fields)


def test_token_from_form_and_json_has_paytrace_shape(paytrace_sandbox):
    form = _token_request(paytrace_sandbox)
    as_json = httpx.post(f"{paytrace_sandbox.base_url}/oauth/token", json={
        "grant_type": "password", "username": paytrace_sandbox.username, "password": paytrace_sandbox.password})
    for response in (form, as_json):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert TOKEN_SHAPE.match(body["access_token"])
        assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
        assert abs(body["created_at"] - time.time()) < 60  # wall clock, not the frozen sandbox clock
    assert form.json()["access_token"] != as_json.json()["access_token"]


def test_wrong_password_is_invalid_grant_400(paytrace_sandbox):
    response = _token_request(paytrace_sandbox, password="wrong")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"].startswith("The provided authorization grant is invalid")
    assert _token_request(paytrace_sandbox, grant_type="client_credentials").json()["error"] == "unsupported_grant_type"
    assert _token_request(paytrace_sandbox, username="").json()["error"] == "invalid_request"


def test_token_is_stored_only_as_hash(paytrace_sandbox):
    token = paytrace_sandbox.token()
    raw = paytrace_sandbox.state_path.read_bytes() + _wal_bytes(paytrace_sandbox.state_path)
    assert token.encode() not in raw
    assert paytrace_sandbox.password.encode() not in raw


def _wal_bytes(path):
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_v1_routes_need_a_bearer_token(paytrace_sandbox):
    url = f"{paytrace_sandbox.base_url}/v1/transactions/export/by_id"
    missing = httpx.post(url, json={"transaction_id": 1})
    garbage = httpx.post(url, json={"transaction_id": 1}, headers={"Authorization": "Bearer nope"})
    for response in (missing, garbage):
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_token", "error_description": "The access token is invalid"}
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_expired_tokens_answer_invalid_token_expired(paytrace_sandbox, paytrace_token):
    url = f"{paytrace_sandbox.base_url}/v1/customer/export"
    headers = {"Authorization": f"Bearer {paytrace_token}"}
    assert httpx.post(url, json={}, headers=headers).status_code == 200
    paytrace_sandbox.engine.expire_tokens()
    response = httpx.post(url, json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error_description"] == "The access token expired"
    assert paytrace_sandbox.engine.authenticate(f"Bearer {paytrace_sandbox.token()}") is None


def test_expire_tokens_over_the_control_api(paytrace_sandbox, paytrace_token):
    assert httpx.post(f"{paytrace_sandbox.base_url}/_sandbox/tokens/expire").json() == {"ok": True}
    assert paytrace_sandbox.engine.authenticate(f"Bearer {paytrace_token}")[0] == 401


def test_ping_needs_no_token_and_routes_are_post_only(paytrace_sandbox, paytrace_token):
    assert httpx.post(f"{paytrace_sandbox.base_url}/v1/ping").json()["success"] is True
    response = httpx.get(f"{paytrace_sandbox.base_url}/v1/transactions/export/by_id",
                         headers={"Authorization": f"Bearer {paytrace_token}"})
    assert response.status_code == 405
    assert response.json()["errors"] == {"405": ["Method not allowed."]}


def test_date_header_follows_the_virtual_clock_and_requests_have_ids(paytrace_sandbox):
    first = httpx.post(f"{paytrace_sandbox.base_url}/v1/ping")
    second = httpx.post(f"{paytrace_sandbox.base_url}/v1/ping")
    served = parsedate_to_datetime(first.headers["date"])
    assert served == paytrace_sandbox.engine.now()  # frozen at 2026-03-02 10:00 Pacific
    assert served.isoformat() == "2026-03-02T18:00:00+00:00"
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert first.headers["content-type"] == "application/json; charset=utf-8"


def test_unknown_body_keys_are_ignored_and_integrator_id_is_counted(paytrace_api):
    status, body = paytrace_api.post("/v1/customer/export", {"username": "x", "surprise": [1, 2]})
    assert status == 200 and body["customers"] == []
    paytrace_api.post("/v1/customer/export", {"integrator_id": "ABCDEF123456"})
    stats = paytrace_api.handle.engine.stats()
    assert stats["calls_by_route"]["/v1/customer/export"] == 2
    assert stats["calls_without_integrator_id"] == 1


def test_integrator_id_can_be_required(paytrace_api):
    paytrace_api.handle.engine.update_settings(require_integrator_id=True)
    status, body = paytrace_api.post("/v1/customer/export", {})
    assert status == 400 and "981" in body["errors"]
    assert paytrace_api.post("/v1/customer/export", {"integrator_id": "ABCDEF123456"})[0] == 200


def test_invalid_json_body_is_a_validation_error(paytrace_sandbox, paytrace_token):
    response = httpx.post(f"{paytrace_sandbox.base_url}/v1/customer/export", content=b"{not json",
                          headers={"Authorization": f"Bearer {paytrace_token}", "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["success"] is False
