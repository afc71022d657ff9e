"""After a real day's run, the console's dashboard shows the receipts Sage holds, to the cent."""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal

from starlette.testclient import TestClient

from sage_paytrace_pipeline.console.passwords import hash_password
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.domain.money import format_decimal
from sage_paytrace_pipeline_tests.console.conftest import PASSWORD, USERS, log_in, write_config
from sage_paytrace_pipeline_tests.defs.receivables.conftest import FIRST_DAY


def test_the_dashboard_equals_sages_cash_receipts_history(world, tmp_path):
    assert world.run_day(FIRST_DAY).success
    with sqlite3.connect(world.sage_db) as connection:
        rows = connection.execute(
            "SELECT count(DISTINCT DepositNo || '/' || ARDivisionNo || '/' || CustomerNo || '/' || CheckNo || '/' || "
            "coalesce(CreditCardEntryNo, '')) "
            "FROM AR_CashReceiptsHistory").fetchall()
        amounts = [Decimal(str(a)) for (a,) in connection.execute(
            "SELECT CashAmountApplied FROM AR_CashReceiptsHistory").fetchall()]
    receipts = rows[0][0]
    assert receipts, "the day posted receipts to Sage"
    config = tmp_path / "console.yaml"
    write_config(config, dict.fromkeys(USERS, hash_password(PASSWORD)))
    environ = {**world.environment, "SAGE_PAYTRACE_CONFIG": str(config), "SAGE_PAYTRACE_CONSOLE_SECRET": "s" * 40,
               "SAGE_PAYTRACE_CONSOLE_DATABASE": f"sqlite:///{tmp_path / 'console.sqlite3'}"}
    client = TestClient(app_from_environment(environ), follow_redirects=False)
    log_in(client, "vera")
    page = client.get("/dashboard").text
    row = re.search(rf'<tr data-period="{FIRST_DAY.isoformat()}">(.*?)</tr>', page, re.S)
    assert row, "the day has a row"
    shown = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', row.group(1)))
    assert shown["receipts_cents"] == format_decimal(sum(amounts, Decimal("0.00")))
    assert int(shown["receipts_count"]) == receipts
