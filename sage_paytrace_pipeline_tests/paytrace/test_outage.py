"""A PayTrace that is not there fails fast with one sentence; one that answers again is used again.

Real sockets: a port nobody listens on (connection refused), a `.invalid` host (no such name, RFC
6761), and the sandbox for recovery. No test waits more than a few seconds.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date

import pytest

from sage_paytrace_pipeline.paytrace import PayTraceClient, PayTraceTransientError, PayTraceUnreachable, RetryPolicy

DAY = date(2026, 11, 24)


def closed_port() -> int:
    """A loopback port that refuses connections (bound, then released; nothing listens there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def client_at(url: str, **overrides) -> PayTraceClient:
    options = dict(username="demo", password="not-a-real-password", outage_budget=1.0,
                   retry=RetryPolicy(base_delay=0.2, max_delay=0.5, jitter=False))
    options.update(overrides)
    return PayTraceClient(url, allow_insecure_http=True, **options)


def test_a_refused_connection_fails_within_the_outage_budget_with_one_sentence():
    url = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with client_at(url) as client, pytest.raises(PayTraceUnreachable) as caught:
        client.read_transactions(DAY, DAY)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # budget 1 s, not max_attempts x max_attempts retries of token and read
    message = str(caught.value)
    assert message == (f"PayTrace at {url}: connection refused; check PAYTRACE_API_URL and that the service is "
                       "running and reachable")
    assert "not-a-real-password" not in repr(caught.value)
    assert caught.value.request_sent is False  # still a transient error: a money call may be resent


def test_an_unknown_host_names_the_host_and_says_to_check_the_spelling():
    with client_at("http://paytrace.invalid", outage_budget=0.0) as client, \
            pytest.raises(PayTraceUnreachable) as caught:
        client.read_transactions(DAY, DAY)
    assert str(caught.value) == ("PayTrace at http://paytrace.invalid: host name not found; check the spelling "
                                 "of PAYTRACE_API_URL and DNS")


def test_a_tls_failure_says_so():
    """An https client against a plain-http server: the handshake fails."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        def answer_garbage() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=answer_garbage, daemon=True).start()
        with client_at(f"https://127.0.0.1:{port}", outage_budget=0.0) as client, \
                pytest.raises(PayTraceUnreachable) as caught:
            client.read_transactions(DAY, DAY)
    assert caught.value.reason == "TLS handshake failed"
    assert "check PAYTRACE_API_URL and the server's certificate" in str(caught.value)


def test_once_the_budget_is_spent_every_further_call_fails_at_once():
    with client_at(f"http://127.0.0.1:{closed_port()}", outage_budget=0.5) as client:
        with pytest.raises(PayTraceUnreachable):
            client.read_transactions(DAY, DAY)
        started = time.monotonic()
        with pytest.raises(PayTraceUnreachable):
            client.export_customers()
        assert time.monotonic() - started < 0.5


def test_after_an_outage_the_same_session_reaches_the_server_again(paytrace_sandbox):
    """A session whose budget was spent is not stuck: an answer ends the outage."""
    with client_at(paytrace_sandbox.base_url, username=paytrace_sandbox.username,
                   password=paytrace_sandbox.password, outage_budget=0.0) as client:
        real = client._session.http.base_url
        client._session.http.base_url = f"http://127.0.0.1:{closed_port()}"
        with pytest.raises(PayTraceUnreachable):
            client.read_transactions(DAY, DAY)
        client._session.http.base_url = real
        assert client.read_transactions(DAY, DAY).transactions == []
        assert not client._session.outage_budget_spent(PayTraceTransientError("x"))
