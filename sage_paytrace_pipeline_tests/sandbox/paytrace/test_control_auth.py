"""The sandbox's control API (`/_sandbox/*`): open on loopback as before, behind a control token when one
is set, and never bound beyond loopback without both `--allow-remote` and a token."""

from __future__ import annotations

import httpx
import pytest

from sage_paytrace_pipeline import cli
from sage_paytrace_pipeline.sandbox.paytrace.app import CONTROL_TOKEN_HEADER, create_app
from sage_paytrace_pipeline.sandbox.paytrace.server import check_bind, serve_in_thread
from sage_paytrace_pipeline.sandbox.reliability.control import SandboxControl

TOKEN = "control-token-for-tests-0123456789"
# Every control call that changes or reveals the sandbox (health stays open for liveness checks).
GUARDED = [
    ("GET", "/_sandbox/clock", None),
    ("POST", "/_sandbox/clock", {"advance_seconds": 60}),
    ("GET", "/_sandbox/settings", None),
    ("POST", "/_sandbox/settings", {"auto_settle": False}),
    ("GET", "/_sandbox/faults", None),
    ("POST", "/_sandbox/faults", {"seed": 1, "rules": []}),
    ("DELETE", "/_sandbox/faults", None),
    ("POST", "/_sandbox/tokens/expire", None),
    ("GET", "/_sandbox/stats", None),
    ("POST", "/_sandbox/reset", None),
    ("POST", "/_sandbox/load", {}),
]


@pytest.fixture
def guarded_url(tmp_path):
    with serve_in_thread(create_app(tmp_path / "state.sqlite3", control_token=TOKEN)) as url:
        yield url


@pytest.fixture
def open_url(tmp_path):
    with serve_in_thread(create_app(tmp_path / "state.sqlite3")) as url:
        yield url


@pytest.mark.parametrize(("method", "path", "body"), GUARDED, ids=str)
def test_with_a_token_set_each_control_call_needs_it(guarded_url, method, path, body):
    with httpx.Client(base_url=guarded_url) as client:
        missing = client.request(method, path, json=body)
        wrong = client.request(method, path, json=body, headers={CONTROL_TOKEN_HEADER: TOKEN[:-1] + "x"})
        right = client.request(method, path, json=body, headers={CONTROL_TOKEN_HEADER: TOKEN})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert CONTROL_TOKEN_HEADER in missing.json()["error"]
    assert TOKEN not in missing.text + wrong.text
    assert right.status_code in (200, 400), right.text  # 400: the empty plan is refused, past the guard


def test_with_a_token_set_health_and_the_paytrace_api_stay_as_they_are(guarded_url):
    with httpx.Client(base_url=guarded_url) as client:
        assert client.get("/_sandbox/health").json() == {"ok": True}
        token = client.post("/oauth/token", data={"grant_type": "password", "username": "demo_api",
                                                  "password": "demo-password"})
        assert token.status_code == 200 and token.json()["access_token"]


def test_without_a_token_the_control_api_is_open_on_loopback(open_url):
    with httpx.Client(base_url=open_url) as client:
        assert client.post("/_sandbox/reset").status_code == 200
        assert client.get("/_sandbox/stats").status_code == 200


def test_the_campaign_control_client_sends_the_token(guarded_url):
    control = SandboxControl(guarded_url, control_token=TOKEN)
    try:
        assert control.expire_tokens() == {"ok": True}
        assert "calls_by_route" in control.stats()
    finally:
        control.close()
    refused = SandboxControl(guarded_url)
    try:
        with pytest.raises(httpx.HTTPStatusError):
            refused.stats()
    finally:
        refused.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST"])
def test_loopback_binds_need_nothing(host):
    check_bind(host, allow_remote=False, control_token=None)


@pytest.mark.parametrize(("host", "allow_remote", "token", "says"), [
    ("0.0.0.0", False, None, "--allow-remote"),
    ("0.0.0.0", True, None, "--control-token"),
    ("0.0.0.0", False, TOKEN, "--allow-remote"),
    ("::", True, "", "--control-token"),
    ("192.168.1.20", False, TOKEN, "--allow-remote"),
    ("sandbox.example.com", True, None, "--control-token"),
    ("0.0.0.0", True, "short", "at least"),
])
def test_a_bind_beyond_loopback_is_refused_without_the_flag_and_a_token(host, allow_remote, token, says):
    with pytest.raises(ValueError) as caught:
        check_bind(host, allow_remote=allow_remote, control_token=token)
    message = str(caught.value)
    assert says in message and "\n" not in message
    if token:
        assert token not in message


def test_a_bind_beyond_loopback_with_both_is_allowed():
    check_bind("0.0.0.0", allow_remote=True, control_token=TOKEN)


def test_serve_refuses_a_remote_host_with_one_line(tmp_path, monkeypatch, capsys):
    served = []
    monkeypatch.setattr("sage_paytrace_pipeline.sandbox.paytrace.server.serve", lambda *a, **k: served.append(a))
    monkeypatch.delenv("PAYTRACE_SANDBOX_CONTROL_TOKEN", raising=False)
    code = cli.main(["sandbox", "paytrace", "serve", "--host", "0.0.0.0", "--state", str(tmp_path / "s.sqlite3")])
    assert code == 1 and served == []
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and "--allow-remote" in line and "--control-token" in line
    assert not (tmp_path / "s.sqlite3").exists()


def test_serve_binds_remote_with_the_flag_and_a_token_from_the_environment(tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr("sage_paytrace_pipeline.sandbox.paytrace.server.serve",
                        lambda app, host, port: served.append((app, host)))
    monkeypatch.setenv("PAYTRACE_SANDBOX_CONTROL_TOKEN", TOKEN)
    assert cli.main(["sandbox", "paytrace", "serve", "--host", "0.0.0.0", "--allow-remote",
                     "--state", str(tmp_path / "s.sqlite3")]) == 0
    [(app, host)] = served
    assert host == "0.0.0.0"
    transport = httpx.ASGITransport(app=app)

    async def calls():
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            return ((await client.post("/_sandbox/reset")).status_code,
                    (await client.post("/_sandbox/reset", headers={CONTROL_TOKEN_HEADER: TOKEN})).status_code)

    import asyncio

    assert asyncio.run(calls()) == (401, 200)


def test_the_serve_help_names_the_remote_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sandbox", "paytrace", "serve", "--help"])
    out = capsys.readouterr().out
    assert "--allow-remote" in out and "--control-token" in out and "PAYTRACE_SANDBOX_CONTROL_TOKEN" in out


def test_generate_loads_into_a_guarded_sandbox_with_the_token(guarded_url, monkeypatch, capsys):
    args = ["sandbox", "paytrace", "generate", "--start", "2026-03-02", "--end", "2026-03-02", "--seed", "4",
            "--customers", "2", "--per-day", "2", "--url", guarded_url]
    monkeypatch.delenv("PAYTRACE_SANDBOX_CONTROL_TOKEN", raising=False)
    assert cli.main(args) == 1
    assert "401" in capsys.readouterr().err
    monkeypatch.setenv("PAYTRACE_SANDBOX_CONTROL_TOKEN", TOKEN)
    assert cli.main(args) == 0
