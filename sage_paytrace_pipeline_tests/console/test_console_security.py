"""The console's configuration, password hashes, the trusted proxy header, session expiry and the log-in throttle."""

from __future__ import annotations

import io
import time

import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.config import ConfigError, load_config
from sage_paytrace_pipeline.console import security
from sage_paytrace_pipeline.console.passwords import verify_password
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.console.throttle import LoginThrottle
from sage_paytrace_pipeline_tests.console.conftest import log_in, write_config


def test_hash_password_prints_an_argon2_hash_that_verifies(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["console", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$") and "a long enough secret" not in printed
    assert verify_password(printed, "a long enough secret") and not verify_password(printed, "another one")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["console", "hash-password"]) == 1


def test_config_refuses_a_clear_password_and_an_unguarded_proxy_header(tmp_path, password_hashes):
    path = tmp_path / "config.yaml"
    write_config(path, password_hashes)
    assert load_config(path).console is not None
    path.write_text(path.read_text().replace(f'password_hash: "{password_hashes["carl"]}"',
                                             'password_hash: "hunter2hunter2"', 1))
    with pytest.raises(ConfigError, match=r"console\.users\.vera\.password_hash"):
        load_config(path)
    write_config(path, password_hashes, extra="  trusted_header: X-Remote-User\n")
    with pytest.raises(ConfigError, match="trusted_header needs trusted_proxies"):
        load_config(path)


def test_the_server_needs_a_strong_secret_key(home):
    with pytest.raises(ConfigError, match="SAGE_PAYTRACE_CONSOLE_SECRET"):
        app_from_environment({**home.environ, "SAGE_PAYTRACE_CONSOLE_SECRET": "short"})


def test_the_proxy_header_is_trusted_only_from_the_proxy(home, password_hashes):
    write_config(home.config, password_hashes,
                 extra="  trusted_header: X-Remote-User\n  trusted_proxies: [\"testclient\"]\n")
    client = TestClient(app_from_environment(home.environ), follow_redirects=False)
    assert client.get("/exceptions", headers={"X-Remote-User": "anna"}).status_code == 200
    assert client.get("/exceptions", headers={"X-Remote-User": "mallory"}).status_code == 303, "not a user"
    write_config(home.config, password_hashes,
                 extra="  trusted_header: X-Remote-User\n  trusted_proxies: [\"10.0.0.1\"]\n")
    client = TestClient(app_from_environment(home.environ), follow_redirects=False)
    assert client.get("/exceptions", headers={"X-Remote-User": "anna"}).status_code == 303


def test_a_session_expires(client, monkeypatch):
    log_in(client, "vera")
    assert client.get("/exceptions").status_code == 200
    later = time.time() + 481 * 60  # session_minutes defaults to 480
    monkeypatch.setattr(security.time, "time", lambda: later)
    assert client.get("/exceptions").status_code == 303


def test_the_throttle_forgets_failures_after_its_window():
    now = [0.0]
    throttle = LoginThrottle(attempts=2, window_seconds=60, clock=lambda: now[0])
    throttle.failed("carl", "10.0.0.5")
    throttle.failed("carl", "10.0.0.5")
    assert throttle.refused("carl", "10.0.0.5") and not throttle.refused("carl", "10.0.0.6")
    now[0] = 61.0
    assert not throttle.refused("carl", "10.0.0.5")
    for name in ("a", "b", "c", "d", "e", "f", "g", "h"):
        throttle.failed(name, "10.0.0.7")
    assert throttle.refused("zed", "10.0.0.7"), "many names from one address are throttled too"
