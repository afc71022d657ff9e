"""The console's queue page with many exceptions: p50/p95 of GET /exceptions over the ASGI app.

    .venv/bin/python -m benchmarks.bench_console --exceptions 100000 --days 365 --requests 30

A warehouse with `--exceptions` open exceptions over `--days` business days (receivables and
settlement tables, the flows' exception frames), 10% of them already decided in the console store;
the app is the one `console serve` builds (app_from_environment), measured in-process through
Starlette's test client (the ASGI app, no socket), after one warm-up request.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
from starlette.testclient import TestClient

from sage_paytrace_pipeline.console.passwords import hash_password
from sage_paytrace_pipeline.console.server import app_from_environment
from sage_paytrace_pipeline.console.sources import item_key
from sage_paytrace_pipeline.console.store import DECISIONS, ConsoleStore
from sage_paytrace_pipeline.domain.matching.exceptions import TRANSACTION_EXCEPTIONS
from sage_paytrace_pipeline.domain.settlement.frames import BATCH_EXCEPTIONS

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
KINDS = ("unknown_customer", "amount_mismatch", "invoice_not_found", "duplicate_payment")


def build(folder: Path, exceptions: int, days: int) -> dict[str, str]:
    rng = np.random.default_rng(7)
    first = date.today() - timedelta(days=days)
    receivable_count = exceptions * 9 // 10
    ids = np.arange(1, receivable_count + 1)
    receivables = TRANSACTION_EXCEPTIONS.rows(
        "unknown_customer", "error", ids, source_ids=[f"paytrace:{i} vault:V{i}" for i in ids],
        problem=[f"transaction {i}: no Sage customer found for name 'PAYER {i}'" for i in ids],
        action="link the payer to a Sage customer")
    receivables["kind"] = rng.choice(KINDS, receivable_count)
    receivables["severity"] = rng.choice(["error", "warning", "info"], receivable_count, p=[0.5, 0.4, 0.1])
    receivables.insert(0, "business_date", [first + timedelta(days=int(d)) for d in rng.integers(0, days, len(ids))])
    batches = np.arange(1, exceptions - receivable_count + 1)
    settlement = BATCH_EXCEPTIONS.rows("deposit_short", "warning", batches, source_ids=[f"batch:{b}" for b in batches],
                                       problem="deposit short", action="check the bank statement")
    settlement.insert(0, "business_date", [first + timedelta(days=int(d)) for d in rng.integers(0, days, len(batches))])
    warehouse = folder / "warehouse.duckdb"
    connection = duckdb.connect(str(warehouse))
    connection.execute("CREATE SCHEMA pipeline")
    for table, frame in (("receivable_exceptions", receivables), ("settlement_exceptions", settlement)):
        connection.register("frame", frame)
        connection.execute(f"CREATE TABLE pipeline.{table} AS SELECT * FROM frame")
        connection.unregister("frame")
    connection.close()
    database = f"sqlite:///{folder / 'console.sqlite3'}"
    store = ConsoleStore(database)
    decided = rng.choice(receivable_count, receivable_count // 10, replace=False)
    now = datetime.now(UTC)
    kinds, ids = receivables["kind"].to_numpy(), receivables["source_ids"].to_numpy()
    rows = [dict(decided_at=now, actor="carl", decision="mark_reviewed", area="receivables", kind=kinds[i],
                 source_ids=ids[i], item_key=item_key("receivables", kinds[i], ids[i]), detail="{}") for i in decided]
    with store.engine.begin() as connection:  # the benchmark's setup: one bulk insert, not a decision each
        connection.execute(DECISIONS.insert(), rows)
    store.close()
    config = folder / "config.yaml"
    config.write_text(EXAMPLE.read_text() + "\nconsole:\n  secure_cookies: false\n  users:\n    carl:\n"
                      f"      role: clerk\n      password_hash: \"{hash_password('benchmark password')}\"\n")
    return {"SAGE_PAYTRACE_CONFIG": str(config), "SAGE_PAYTRACE_WAREHOUSE": str(warehouse),
            "SAGE_PAYTRACE_CONSOLE_SECRET": "b" * 40, "SAGE_PAYTRACE_CONSOLE_DATABASE": database}


def measure(client: TestClient, path: str, requests: int) -> tuple[float, float, int]:
    client.get(path)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    rows = len(re.findall(r"data-key=", response.text))
    return statistics.median(times) * 1000, statistics.quantiles(times, n=20)[18] * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exceptions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        environ = build(Path(folder), args.exceptions, args.days)
        print(f"built {args.exceptions} exceptions over {args.days} days in {time.perf_counter() - started:.1f} s")
        client = TestClient(app_from_environment(environ), follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "carl", "password": "benchmark password", "csrf": token})
        print(f"| page ({args.requests} requests each) | rows | p50 ms | p95 ms |\n|---|---|---:|---:|")
        for label, path in (("queue, unfiltered (first page of 200)", "/exceptions"),
                            ("queue, kind + severity", "/exceptions?kind=amount_mismatch&severity=error"),
                            ("queue, one day", f"/exceptions?day={(date.today() - timedelta(days=30)).isoformat()}"),
                            ("queue, at least 300 days old", "/exceptions?age=300")):
            p50, p95, rows = measure(client, path, args.requests)
            print(f"| {label} | {rows} rows shown | {p50:.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main()
