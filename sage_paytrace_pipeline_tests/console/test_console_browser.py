"""The console in a real browser: Debian's chromium (/usr/bin/chromium) driven by Playwright, against the
console served by uvicorn over a socket. Screenshots of each page go to $CONSOLE_SCREENSHOTS when set
(docs/console/ is made that way), else to the test's temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
import uvicorn

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.domain.matching.exceptions import TRANSACTION_EXCEPTIONS
from sage_paytrace_pipeline.receivables.invoice_choices import read_choices
from sage_paytrace_pipeline.refunds.request_store import RequestStore
from sage_paytrace_pipeline_tests.console.conftest import CUSTOMER, PASSWORD, REQUESTER, VAULT_ID

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture
def console_url(home) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app_from_environment(home.environ), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the console did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.dialogs = []  # type: ignore[attr-defined]  # any alert() a hostile text ran would land here
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        yield page
        browser.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/exceptions")


def _log_out(page, url: str) -> None:
    page.click("header button[type=submit]")
    page.wait_for_url(f"{url}/login")


def _request_state(home) -> str:
    store = RequestStore(duckdb.connect(str(home.warehouse)))
    try:
        request = store.get(home.request_id)
        assert request is not None
        return request.state
    finally:
        store.connection.close()


def test_a_clerk_resolves_an_unknown_payer_and_an_approver_approves(page, console_url, home, shots):
    url = console_url
    page.goto(f"{url}/exceptions")
    assert page.url == f"{url}/login", "not logged in: the log-in page"
    page.screenshot(path=str(shots / "login.png"))
    _log_in(page, url, "carl")

    # the queue: hostile text shows as text and runs nothing; a card number only as its last four
    assert "<script>alert('x')</script>" in page.inner_text("table.queue")
    assert "4111111111111111" not in page.content()
    assert page.evaluate("document.querySelectorAll('table.queue script, table.queue img').length") == 0
    page.screenshot(path=str(shots / "exceptions.png"), full_page=True)

    # the unknown payer: open it, pick the first suggestion, link
    page.click("tr:has-text('unknown_customer') a")
    assert page.is_checked(f"input[type=radio][value='{CUSTOMER}']")
    page.screenshot(path=str(shots / "exception-link-payer.png"), full_page=True)
    page.click("form.link button[type=submit]")
    assert f"linked {VAULT_ID} to {CUSTOMER}" in page.inner_text("[role=status]")
    assert load_config(home.config).customer_links == {VAULT_ID: CUSTOMER}

    # a cross-site form posting to the console is refused (no session cookie, no token)
    page.route("http://attacker.test/", lambda route: route.fulfill(content_type="text/html", body=(
        f'<form id=f method=post action="{url}/exceptions/review"><input name=key value=x>'
        '<input name=reason value=pwned></form><script>document.getElementById("f").submit()</script>')))
    response_codes: list[int] = []
    page.on("response", lambda response: response_codes.append(response.status)
            if "/exceptions/review" in response.url else None)
    page.goto("http://attacker.test/")
    page.wait_for_load_state()
    page.wait_for_timeout(300)
    assert response_codes and all(code in (401, 403) for code in response_codes)
    page.goto(f"{url}/exceptions")
    _log_out(page, url)

    # the approver who asked for the refund cannot approve it (maker-checker) ...
    _log_in(page, url, REQUESTER)
    page.goto(f"{url}/approvals")
    page.screenshot(path=str(shots / "approvals.png"), full_page=True)
    page.click(f"tr[data-request='{home.request_id}'] form[action$='/approve'] button")
    assert "maker-checker" in page.inner_text("[role=alert]")
    assert _request_state(home) == "awaiting_approval"
    _log_out(page, url)

    # ... another approver can
    _log_in(page, url, "anna")
    page.goto(f"{url}/approvals")
    page.click(f"tr[data-request='{home.request_id}'] form[action$='/approve'] button")
    assert "approved by anna" in page.inner_text("[role=status]")
    assert _request_state(home) == "approved"

    page.goto(f"{url}/audit")
    audit = page.inner_text("table.audit")
    assert "link_payer" in audit and "approve_refund" in audit and "refused" in audit
    page.screenshot(path=str(shots / "audit.png"), full_page=True)

    page.goto(f"{url}/dashboard")  # the fixture's sale of 200.00 on 2026-11-18, the 30.00 refund the day after
    assert page.inner_text("table.days tr[data-period='2026-11-18'] [data-figure='sales_cents']") == "200.00"
    assert page.inner_text("table.months tr[data-period='2026-11'] [data-figure='refund_cents']") == "30.00"
    assert page.locator("svg.chart rect").count() >= 2
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert page.dialogs == [], "no hostile text ran"  # type: ignore[attr-defined]


def _hold_a_payment_for_its_invoice(home) -> None:
    """A payment of the demo customer naming no invoice, held by matching (post_unapplied_as_prepayment off)."""
    held = TRANSACTION_EXCEPTIONS.rows(
        "unapplied_payment", "error", [900004], source_ids=f"paytrace:900004 customer:{CUSTOMER}",
        problem=f"transaction 900004 of {CUSTOMER} (41.00) names no invoice and no open invoice has exactly that "
                "amount; not posted (matching.post_unapplied_as_prepayment is false)",
        action="Enter the receipt by hand in Sage against the right invoice(s)").assign(business_date=date.today())
    connection = duckdb.connect(str(home.warehouse))
    try:
        connection.register("held", held)
        connection.execute("INSERT INTO pipeline.receivable_exceptions BY NAME SELECT * FROM held")
    finally:
        connection.close()


def test_a_clerk_applies_a_held_payment_to_an_invoice(page, console_url, home, shots):
    url = console_url
    _hold_a_payment_for_its_invoice(home)
    _log_in(page, url, "carl")
    page.click("tr:has-text('unapplied_payment') a")
    choice = page.locator("form.apply input[type=radio]").first
    invoice_no = choice.get_attribute("value")
    assert invoice_no
    choice.check()
    page.screenshot(path=str(shots / "exception-apply-invoice.png"), full_page=True)
    page.click("form.apply button[type=submit]")
    assert f"applied to invoice {invoice_no} of {CUSTOMER}" in page.inner_text("[role=status]")
    # stored for the next run, through SQLAlchemy, once
    choices = read_choices(home.environ["SAGE_PAYTRACE_CONSOLE_DATABASE"], [900004])
    assert choices[["transaction_id", "invoice_no", "decided_by"]].values.tolist() == [[900004, invoice_no, "carl"]]
    assert "apply to invoice" in page.inner_text("dd.decided")
    page.goto(f"{url}/audit")
    assert "apply_to_invoice" in page.inner_text("table.audit")
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_an_unauthenticated_request_is_refused(page, console_url):
    page.goto(f"{console_url}/approvals")
    assert page.url == f"{console_url}/login"
    response = page.request.post(f"{console_url}/approvals/x/approve", form={"csrf": "x"})
    assert response.status == 401


def test_chromium_is_the_system_one():
    assert shutil.which("chromium") == CHROMIUM or Path(CHROMIUM).exists()
