"""The console's "apply to an invoice" end to end: a payment held for its invoice, a clerk's choice in the
console, the next run posting the receipt applied to that invoice exactly once."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from sage_paytrace_pipeline.console.passwords import hash_password
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.console.sources import item_key
from sage_paytrace_pipeline.paytrace.models import Address
from sage_paytrace_pipeline_tests.console.conftest import PASSWORD, USERS, csrf_of, log_in
from sage_paytrace_pipeline_tests.defs.receivables.test_pipeline import (
    CRAFTED_DAY,
    REPO_CONFIG,
    _pay,
    checks_of,
    warehouse_rows,
)

pytestmark = pytest.mark.slow


def _config(path, hashes: dict[str, str]) -> None:
    users = "".join(f"    {name}:\n      role: {role}\n      password_hash: \"{hashes[name]}\"\n"
                    for name, role in USERS.items())
    text = REPO_CONFIG.read_text().replace("post_unapplied_as_prepayment: true", "post_unapplied_as_prepayment: false")
    path.write_text(text + "\nconsole:\n  secure_cookies: false\n  users:\n" + users)


def test_a_payment_applied_to_an_invoice_in_the_console_posts_there_once(world, tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    _config(config, dict.fromkeys(USERS, hash_password(PASSWORD)))
    store = f"sqlite:///{tmp_path / 'console.sqlite3'}"
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(config))
    monkeypatch.setenv("SAGE_PAYTRACE_CONSOLE_DATABASE", store)  # the console writes it, the run reads it
    world.handle.engine.set_clock(at=datetime(2026, 3, 4, 9, 0))
    reader = world.reader()
    invoice = next(i for i in reader.open_invoices() if i.invoice_type == "IN" and i.balance > Decimal("40.00"))
    payer = reader.customer(invoice.division, invoice.customer_no)
    assert payer is not None
    amount = Decimal("12.34")  # names no invoice and is no invoice's balance: held for a person
    sale = _pay(world, amount=amount, description="thanks!", email=payer.email,
                billing_address=Address(name=payer.name, zip=payer.zip_code))

    assert world.run_day(CRAFTED_DAY).success
    held = warehouse_rows(world, "SELECT kind, severity, source_ids FROM pipeline.receivable_exceptions "
                                 f"WHERE transaction_id = {sale.transaction_id}")
    assert [(kind, severity) for kind, severity, _ in held] == [("unapplied_payment", "error")]
    assert reader.receipt_for_transaction_id(str(sale.transaction_id)) is None

    environ = {**world.environment, "SAGE_PAYTRACE_CONFIG": str(config), "SAGE_PAYTRACE_CONSOLE_SECRET": "s" * 40,
               "SAGE_PAYTRACE_CONSOLE_DATABASE": store}
    client = TestClient(app_from_environment(environ), follow_redirects=False)
    token = log_in(client, "carl")
    key = item_key("receivables", "unapplied_payment", held[0][2])
    page = client.get(f"/exceptions/{key}").text
    assert f'value="{invoice.invoice_no}"' in page, "the payer's open invoices are offered"
    viewer = TestClient(app_from_environment(environ), follow_redirects=False)
    viewer_token = log_in(viewer, "vera")
    assert viewer.post(f"/exceptions/{key}/apply", data={"csrf": viewer_token,
                                                          "invoice_no": invoice.invoice_no}).status_code == 403
    answer = client.post(f"/exceptions/{key}/apply", data={"csrf": token, "invoice_no": invoice.invoice_no})
    assert answer.status_code == 200 and f"applied to invoice {invoice.invoice_no}" in answer.text

    assert world.run_day(CRAFTED_DAY).success
    receipt = world.reader().receipt_for_transaction_id(str(sale.transaction_id))
    assert receipt is not None and receipt.customer_no == invoice.customer_no
    assert [(line.invoice_no, line.invoice_type, line.amount) for line in receipt.lines] == [
        (invoice.invoice_no, "IN", amount)]
    after = world.reader().open_invoice(invoice.division, invoice.customer_no, invoice.invoice_no)
    assert after is not None and after.balance == invoice.balance - amount
    assert warehouse_rows(world, "SELECT count(*) FROM pipeline.receivable_exceptions "
                                 f"WHERE transaction_id = {sale.transaction_id}")[0][0] == 0

    posted = world.sage_rows()
    again = world.run_day(CRAFTED_DAY)
    assert again.success and all(checks_of(again).values())
    assert world.sage_rows() == posted, "the choice posts once"
    # choosing again after it posted is refused: Sage holds the receipt
    refused = client.post(f"/exceptions/{key}/apply", data={"csrf": csrf_of(page), "invoice_no": invoice.invoice_no})
    assert refused.status_code in (400, 404)
