"""PayTrace client and sandbox throughput, measured (not asserted).

    .venv/bin/python -m benchmarks.bench_paytrace [--days 30] [--heavy-day 5000]

Prints a markdown table; docs/benchmarks.md records a run on the 2-core reference machine.
What is measured:
  * replaying a generated month into the sandbox (v1 calls per second through the engine);
  * exporting one heavy day over a real socket with the client (records per second, including
    HTTP, JSON with Decimal amounts and model parsing), and turning it into warehouse rows;
  * parsing export records alone (records per second).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sage_paytrace_pipeline.paytrace import PayTraceClient
from sage_paytrace_pipeline.paytrace.frames import transactions_frame
from sage_paytrace_pipeline.paytrace.models import parse_transaction
from sage_paytrace_pipeline.sandbox.paytrace.app import create_app
from sage_paytrace_pipeline.sandbox.paytrace.engine import PayTraceSandbox
from sage_paytrace_pipeline.sandbox.paytrace.generator import generate_activity
from sage_paytrace_pipeline.sandbox.paytrace.plan import ActivityPlan, PlanCall, apply_plan
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.paytrace.settings import DEFAULT_PASSWORD, DEFAULT_USERNAME

HEAVY_DAY = date(2026, 3, 10)


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def bench_month_replay(folder: Path, days: int) -> dict:
    plan, _ = generate_activity(date(2026, 2, 1), date(2026, 2, 1) + timedelta(days=days - 1), seed=1)
    outcome, seconds = timed(lambda: apply_plan(PayTraceSandbox(folder / "month.sqlite3"), plan))
    return {"what": f"replay {days} generated days into the sandbox", "items": outcome.calls,
            "unit": "v1 calls", "seconds": seconds}


def heavy_day_plan(count: int) -> ActivityPlan:
    start = datetime.combine(HEAVY_DAY, datetime.min.time()).replace(hour=7)
    card = {"number": "4012000098765439", "expiration_month": 12, "expiration_year": 2030}
    calls = [
        PlanCall(at=start + timedelta(seconds=5 * index), route="/v1/transactions/sale/keyed",
                 body={"amount": f"{10 + index % 900}.{index % 100:02d}", "credit_card": card,
                       "invoice_id": f"INV-{index:07d}", "billing_address": {"name": f"Buyer {index}", "zip": "99201"}})
        for index in range(count)
    ]
    return ActivityPlan(calls=calls, finish_at=start + timedelta(days=1, hours=2))


def bench_heavy_day_export(folder: Path, count: int) -> list[dict]:
    state = folder / "heavy.sqlite3"
    apply_plan(PayTraceSandbox(state), heavy_day_plan(count))
    app = create_app(state)
    with serve_in_thread(app) as base_url, PayTraceClient(
        base_url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, integrator_id="SPPBENCH0001"
    ) as client:
        records, seconds = timed(lambda: client.export_transactions(HEAVY_DAY, HEAVY_DAY))
        frame, frame_seconds = timed(lambda: transactions_frame(records, HEAVY_DAY))
    assert len(records) == count == len(frame)
    return [
        {"what": "client export of one day over HTTP (one call)", "items": len(records), "unit": "records",
         "seconds": seconds},
        {"what": "records → typed warehouse rows", "items": len(frame), "unit": "rows", "seconds": frame_seconds},
    ]


def bench_parse(count: int) -> dict:
    record = {
        "transaction_id": 100000001, "credit_card": {"masked_number": "401200******5439", "expiration_month": 12,
                                                      "expiration_year": 30},
        "transaction_type": "SALE", "description": "Web order", "amount": Decimal("110.00"), "invoice_id": "INV-0001",
        "billing_address": {"name": "Kevin", "zip": "99201"}, "tax_amount": "8.10", "approval_code": "TAS123",
        "status_code": "GB571", "status_message": "GB571", "settled": "4/10/2026 8:13:45 PM",
        "created": {"through": "API", "at": "4/10/2026 4:06:30 PM", "by": "api", "from_ip": "127.0.0.1"},
        "customer_id": "",
    }
    records = [dict(record, transaction_id=100000001 + index) for index in range(count)]
    zone = ZoneInfo("America/Los_Angeles")
    parsed, seconds = timed(lambda: [parse_transaction(item, zone) for item in records])
    assert len(parsed) == count
    return {"what": "parse export records (models only)", "items": count, "unit": "records", "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--heavy-day", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = [bench_month_replay(Path(folder), args.days), *bench_heavy_day_export(Path(folder), args.heavy_day),
                   bench_parse(50_000)]
    print("| measurement | items | seconds | per second |\n|---|---:|---:|---:|")
    for row in results:
        rate = row["items"] / row["seconds"] if row["seconds"] else float("inf")
        print(f"| {row['what']} | {row['items']:,} {row['unit']} | {row['seconds']:.2f} | {rate:,.0f} |")
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
