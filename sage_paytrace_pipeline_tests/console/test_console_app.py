"""The console over HTTP (Starlette's test client on the ASGI app): log-in, roles, CSRF, headers, the queue
and its decisions reaching the stores the pipeline reads."""

from __future__ import annotations

import csv
import io
import re

import duckdb

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.console.sources import item_key
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline_tests.console.conftest import CUSTOMER, PASSWORD, REQUESTER, VAULT_ID, csrf_of, log_in

UNKNOWN_PAYER = item_key("receivables", "unknown_customer", f"paytrace:900001 vault:{VAULT_ID}")
HOSTILE_ITEM = item_key("receivables", "amount_mismatch", "paytrace:900002")
SHORT, LATE = item_key("settlement", "deposit_short", "batch:77"), item_key("settlement", "deposit_late", "batch:78")


def _state(home, request_id: str) -> str:
    store = RequestStore(duckdb.connect(str(home.warehouse)))
    try:
        request = store.get(request_id)
        assert request is not None
        return request.state
    finally:
        store.connection.close()


def test_every_page_needs_a_user(client):
    for path in ("/", "/exceptions", f"/exceptions/{UNKNOWN_PAYER}", "/approvals", "/audit", "/audit.csv"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    assert client.post(f"/exceptions/{UNKNOWN_PAYER}/link", data={"customer": CUSTOMER}).status_code == 401


def test_security_headers_on_every_response(client):
    for response in (client.get("/login"), client.get("/static/console.css"), client.get("/exceptions")):
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_wrong_passwords_are_refused_then_throttled(client):
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        response = client.post("/login", data={"username": "carl", "password": "wrong", "csrf": token})
        assert response.status_code == 401 and "wrong name or password" in response.text
    response = client.post("/login", data={"username": "carl", "password": PASSWORD, "csrf": token})
    assert response.status_code == 429, "the right password after too many wrong ones waits too"
    assert "console_session" not in response.cookies
    assert client.post("/login", data={"username": "nobody", "password": PASSWORD, "csrf": token}).status_code == 401


def test_log_in_needs_the_form_token(client):
    response = client.post("/login", data={"username": "carl", "password": PASSWORD})
    assert response.status_code == 403


def test_the_queue_sorts_errors_first_and_renders_hostile_text_inert(client):
    log_in(client, "vera")
    page = client.get("/exceptions").text
    assert "<script>alert" not in page and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert", "")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "4111111111111111" not in page and "1111" in page, "a card number shows as its last four at most"
    assert "&lt;b&gt;now&lt;/b&gt;" in page
    keys = re.findall(r'data-key="([0-9a-f]+)"', page)
    assert set(keys) == {UNKNOWN_PAYER, HOSTILE_ITEM, SHORT, LATE, _approval_key(client)}, "info rows clear by "\
        "themselves; the refund awaiting approval is an item too"
    assert keys.index(HOSTILE_ITEM) < keys.index(SHORT) and keys.index(UNKNOWN_PAYER) < keys.index(LATE)


def _approval_key(client) -> str:
    page = client.get("/exceptions?kind=refund_awaiting_approval").text
    return re.findall(r'data-key="([0-9a-f]+)"', page)[0]


def test_the_queue_filters_by_kind_severity_day_and_age(client):
    log_in(client, "vera")

    def keys(query: str) -> set[str]:
        return set(re.findall(r'data-key="([0-9a-f]+)"', client.get(f"/exceptions?{query}").text))

    assert keys("kind=unknown_customer") == {UNKNOWN_PAYER}
    assert keys("severity=warning") >= {SHORT, LATE} and UNKNOWN_PAYER not in keys("severity=warning")
    assert keys("age=7") == {SHORT, LATE}, "the settlement rows are 9 days old, the receivables 3"
    day = re.search(r"<td>(\d{4}-\d{2}-\d{2})</td>", client.get("/exceptions?kind=deposit_short").text)
    assert day and keys(f"day={day.group(1)}") == {SHORT, LATE}


def test_a_clerk_links_the_payer_and_the_link_reaches_the_config(client, home):
    token = log_in(client, "carl")
    page = client.get(f"/exceptions/{UNKNOWN_PAYER}").text
    assert f'value="{CUSTOMER}" checked' in page, "the payer's customer is the first suggestion"
    response = client.post(f"/exceptions/{UNKNOWN_PAYER}/link", data={"customer": CUSTOMER, "csrf": token})
    assert response.status_code == 200 and f"linked {VAULT_ID} to {CUSTOMER}" in response.text
    assert load_config(home.config).customer_links == {VAULT_ID: CUSTOMER}
    audit = client.get("/audit").text
    assert "link_payer" in audit and "carl" in audit


def test_a_link_to_a_customer_sage_does_not_have_is_refused(client, home):
    token = log_in(client, "carl")
    response = client.post(f"/exceptions/{UNKNOWN_PAYER}/link", data={"customer": "01-NOSUCH", "csrf": token})
    assert response.status_code == 400 and "does not exist" in response.text
    assert load_config(home.config).customer_links == {}


def test_a_viewer_cannot_link_and_a_cross_site_post_is_refused(client, home):
    token = log_in(client, "vera")
    assert client.post(f"/exceptions/{UNKNOWN_PAYER}/link",
                       data={"customer": CUSTOMER, "csrf": token}).status_code == 403
    log_in(client, "carl")
    assert client.post(f"/exceptions/{UNKNOWN_PAYER}/link", data={"customer": CUSTOMER}).status_code == 403
    assert client.post(f"/exceptions/{UNKNOWN_PAYER}/link",
                       data={"customer": CUSTOMER, "csrf": "forged"}).status_code == 403
    token = csrf_of(client.get("/exceptions").text)
    assert client.post(f"/exceptions/{UNKNOWN_PAYER}/link", data={"customer": CUSTOMER, "csrf": token},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert load_config(home.config).customer_links == {}


def test_approval_is_maker_checker_and_by_role(client, home):
    token = log_in(client, "carl")
    assert client.post(f"/approvals/{home.request_id}/approve", data={"csrf": token}).status_code == 403
    token = log_in(client, REQUESTER)
    page = client.get("/approvals").text
    assert home.request_id in page and "555001" in page and f"<td>{REQUESTER}" in page
    assert re.search(r"200\.00.*125\.40.*170\.00", page, flags=re.DOTALL), "the sale, the refund asked, and what "\
        "remains of the sale after PayTrace's 30.00 refund"
    response = client.post(f"/approvals/{home.request_id}/approve", data={"csrf": token})
    assert "cannot approve it too (maker-checker)" in response.text
    assert _state(home, home.request_id) == "awaiting_approval"
    token = log_in(client, "anna")
    response = client.post(f"/approvals/{home.request_id}/approve", data={"csrf": token})
    assert response.status_code == 200 and "approved by anna" in response.text
    assert _state(home, home.request_id) == "approved"
    assert "No refund waits for approval" in client.get("/approvals").text


def test_a_rejection_needs_a_reason(client, home):
    token = log_in(client, "anna")
    response = client.post(f"/approvals/{home.request_id}/reject", data={"csrf": token, "reason": " "})
    assert "give the reason" in response.text and _state(home, home.request_id) == "awaiting_approval"
    client.post(f"/approvals/{home.request_id}/reject", data={"csrf": token, "reason": "duplicate request"})
    assert _state(home, home.request_id) == "rejected"


def test_warnings_are_marked_reviewed_in_bulk_errors_one_at_a_time(client):
    token = log_in(client, "carl")
    refused = client.post("/exceptions/review", data={"csrf": token, "key": [SHORT, HOSTILE_ITEM], "reason": "ok"})
    assert refused.status_code == 400 and "one at a time" in refused.text
    assert client.post("/exceptions/review", data={"csrf": token, "key": [SHORT, LATE], "reason": " "}
                       ).status_code == 400
    done = client.post("/exceptions/review", data={"csrf": token, "key": [SHORT, LATE], "reason": "bank fee, known"})
    assert done.status_code == 303 and done.headers["x-reviewed"] == "2"
    page = client.get("/exceptions").text
    assert SHORT not in page and LATE not in page
    assert SHORT in client.get("/exceptions?reviewed=1").text


def test_the_audit_exports_as_formula_safe_csv(client):
    token = log_in(client, "carl")
    client.post("/exceptions/review", data={"csrf": token, "key": [SHORT], "reason": "=HYPERLINK(\"http://x\")"})
    response = client.get("/audit.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    reviewed = [row for row in rows if row["action"] == "mark_reviewed"]
    assert len(reviewed) == 1 and reviewed[0]["actor"] == "carl"
    assert '=HYPERLINK' in reviewed[0]["after"] and not any(
        value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())
    assert [row["action"] for row in rows][:1] == ["login"]
    log_in(client, "vera")
    assert client.get("/audit.csv").status_code == 403, "a viewer does not export"


def test_a_session_ends_at_log_out(client):
    token = log_in(client, "vera")
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    assert client.get("/exceptions").status_code == 303
