"""PayTraceAuth on its own (an httpx.Auth over the session): token caching and the ONE replay on invalid_token."""

from __future__ import annotations

import httpx
import pytest

from sage_paytrace_pipeline.paytrace import (
    PayTraceAuthenticationError,
    PayTraceTransientError,
    RetryPolicy,
)
from sage_paytrace_pipeline.paytrace.auth import PayTraceAuth, is_invalid_token
from sage_paytrace_pipeline.paytrace.session import PayTraceSession

from .conftest import PASSWORD, USERNAME, wire_json

EXPORT = "/v1/transactions/export/by_date_range"
TOKEN = "/oauth/token"
INVALID = {"error": "invalid_token", "error_description": "The access token is invalid"}


@pytest.fixture
def session(fake, clock, sleeps):
    with PayTraceSession("https://api.sandbox.paytrace.com", integrator_id="INTEGRATOR12", timeout=httpx.Timeout(5.0),
                         transport=httpx.MockTransport(fake), retry=RetryPolicy(jitter=False), sleep=sleeps.append,
                         clock=clock) as opened:
        yield opened


@pytest.fixture
def auth(session, clock) -> PayTraceAuth:
    return PayTraceAuth(session, username=USERNAME, password=PASSWORD, clock=clock, refresh_margin=300.0)


def export(session: PayTraceSession, auth: PayTraceAuth) -> dict:
    return session.exchange(EXPORT, {"start_date": "11/24/2026", "end_date": "11/24/2026"}, attempt=1, auth=auth)


def bearer_tokens(fake) -> list[str]:
    return [headers["authorization"] for route, _, headers in fake.requests if route == EXPORT]


def test_token_is_fetched_once_and_reused(session, auth, fake):
    export(session, auth)
    export(session, auth)
    assert fake.token_count == 1 and len(set(bearer_tokens(fake))) == 1


def test_invalid_token_reauthenticates_and_replays_once_with_the_new_token(session, auth, fake):
    export(session, auth)
    fake.expire_tokens()
    assert export(session, auth)["success"] is True
    first, rejected, replayed = bearer_tokens(fake)
    assert rejected == first and replayed != first
    assert fake.token_count == 2


def test_a_second_rejection_is_an_authentication_error_never_a_second_replay(session, auth, fake):
    fake.fail(EXPORT, wire_json(INVALID, 401), times=5)
    with pytest.raises(PayTraceAuthenticationError) as caught:
        export(session, auth)
    assert "rejected again" in str(caught.value) and caught.value.route == EXPORT
    assert len(fake.calls(EXPORT)) == 2 and fake.token_count == 2
    # The next call starts afresh: one more token, and again at most one replay.
    with pytest.raises(PayTraceAuthenticationError):
        export(session, auth)
    assert len(fake.calls(EXPORT)) == 4 and fake.token_count == 4


def test_a_bare_401_counts_as_invalid_token_but_a_5xx_never_replays(session, auth, fake):
    fake.fail(EXPORT, wire_json({}, 401))
    assert export(session, auth)["success"] is True
    assert len(fake.calls(EXPORT)) == 2
    fake.fail(EXPORT, wire_json(INVALID, 503))
    with pytest.raises(PayTraceTransientError):
        export(session, auth)
    assert len(fake.calls(EXPORT)) == 3 and fake.token_count == 2


def test_token_unobtainable_means_the_call_was_not_sent(session, auth, fake):
    fake.fail(TOKEN, httpx.Response(503, text=""), times=10)
    with pytest.raises(PayTraceTransientError) as caught:
        export(session, auth)
    assert caught.value.request_sent is False and caught.value.route == EXPORT
    assert "could not obtain a token" in str(caught.value) and fake.calls(EXPORT) == []


def test_is_invalid_token_reads_the_body():
    assert is_invalid_token(INVALID, 400)
    assert is_invalid_token({}, 401)
    assert not is_invalid_token({"success": False, "response_code": 1}, 401)
    assert not is_invalid_token({"error": "invalid_grant"}, 401)


def test_repr_shows_no_secret(session, auth, fake):
    export(session, auth)
    token = next(iter(fake.valid_tokens))
    assert PASSWORD not in repr(auth) and token not in repr(auth)
