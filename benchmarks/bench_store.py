"""Store orders: receiver throughput with its answer times, and orders per minute into Sage (measured, not asserted).

    .venv/bin/python -m benchmarks.bench_store [--deliveries 2000] [--clients 8] [--orders 200] [--postgres]

Receiver: the real app under uvicorn on a socket, its inbox a SQLite file (and, with --postgres, a
PostgreSQL database made for the run and dropped after); `--clients` threads each with its own
keep-alive httpx client send signed WooCommerce deliveries: 80% new orders, 20% retries of an
earlier order (new delivery id, same body). Each answer time is from send to the 200 (which comes
after the inbox commit). Sage: `--orders` paid orders (1-3 lines, shipping, tax, a third of them
by returning buyers) posted by `post_store_orders` into a fresh demo company through its writer:
customer, sales order, invoice with stock relieved. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa

from sage_paytrace_pipeline.domain.store_orders import parse_store_order
from sage_paytrace_pipeline.domain.store_posting import PostingRules
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.paytrace.server import serve_in_thread
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company
from sage_paytrace_pipeline.sandbox.store.company import ensure_misc_item
from sage_paytrace_pipeline.sandbox.store.shop import Buyer, Shop, catalogue_from_company
from sage_paytrace_pipeline.sandbox.store.webhooks import WebhookSender
from sage_paytrace_pipeline.store.inbox import open_inbox, sqlite_url
from sage_paytrace_pipeline.store.posting import post_store_orders
from sage_paytrace_pipeline.store.receiver import create_receiver_app

SECRET = "bench-secret"
POSTGRES_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _buyers(count: int) -> list[Buyer]:
    return [Buyer(f"B{n}", "Buyer", f"buyer{n}@example.com", f"{n} Main St", "Seattle", "WA", f"98{n % 1000:03d}")
            for n in range(count)]


def _deliveries(shop: Shop, count: int, rng: random.Random) -> list[tuple[dict, str]]:
    skus, buyers, sent = sorted(shop.catalogue), _buyers(200), []
    for _ in range(count):
        if sent and rng.random() < 0.2:
            sent.append((rng.choice(sent)[0], "order.updated"))
            continue
        placed = shop.place(rng.choice(buyers), [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, k=2)],
                            shipping=Decimal("7.50"), tax_rate=Decimal("0.089"))
        sent.append((shop.pay(placed["id"]), "order.updated"))
    return sent


def bench_receiver(url: str, shop: Shop, deliveries: int, clients: int) -> dict:
    engine = open_inbox(url)
    work = _deliveries(shop, deliveries, random.Random(1))
    times: list[float] = []
    lock = threading.Lock()
    with serve_in_thread(create_receiver_app(engine, {"woocommerce": [SECRET]})) as base:
        def worker(part: list[tuple[dict, str]]) -> None:
            sender = WebhookSender(f"{base}/webhooks/woocommerce", SECRET, client=httpx.Client(timeout=30))
            mine = []
            for order, topic in part:
                body = sender.body(order)
                started = time.perf_counter()
                response = sender.send(order, topic, body=body)
                mine.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            with lock:
                times.extend(mine)
        threads = [threading.Thread(target=worker, args=(work[n::clients],)) for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    engine.dispose()
    ordered = sorted(times)
    return {"deliveries": len(times), "per_second": len(times) / elapsed, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[max(0, int(len(ordered) * 0.99) - 1)], "max_ms": 1000 * ordered[-1]}


def bench_sage(folder: Path, orders: int) -> dict:
    company = folder / "sage.db"
    create_demo_company(company, seed=3, customers=200, today=date(2026, 3, 2))
    DemoCompanyWriter(company)
    ensure_misc_item(company)
    shop = Shop(catalogue_from_company(company))
    rng, buyers, skus = random.Random(2), _buyers(orders // 3 + 1), sorted(shop.catalogue)
    parsed = [parse_store_order("woocommerce", shop.pay(shop.place(
        rng.choice(buyers), [(sku, 1) for sku in rng.sample(skus, k=rng.randint(1, 3))],
        shipping=Decimal("7.50"), tax_rate=Decimal("0.089"))["id"])) for _ in range(orders)]
    rules = PostingRules(division="01", shipping_item="/FREIGHT", tax_item="/TAX")
    started = time.perf_counter()
    result = post_store_orders(parsed, Sage100Reader.for_sqlite(company), DemoCompanyWriter(company), rules,
                               sales=None, today=date(2026, 3, 2))
    elapsed = time.perf_counter() - started
    return {"orders": len(result.posted), "exceptions": len(result.exceptions), "seconds": elapsed,
            "per_minute": 60 * len(result.posted) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sage = bench_sage(folder, args.orders)
        shop = Shop(catalogue_from_company(folder / "sage.db"))
        rows = [("SQLite", bench_receiver(sqlite_url(str(folder / "inbox.sqlite")), shop, args.deliveries,
                                          args.clients))]
        if args.postgres:
            name = f"bench_store_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                rows.append(("PostgreSQL", bench_receiver(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}", shop,
                                                          args.deliveries, args.clients)))
            finally:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print("| inbox | deliveries | clients | deliveries/s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in rows:
        print(f"| {name} | {row['deliveries']} | {args.clients} | {row['per_second']:.0f} | {row['p50_ms']:.1f} | "
              f"{row['p99_ms']:.1f} | {row['max_ms']:.1f} |")
    print(f"\nSage: {sage['orders']} orders (customer + sales order + invoice) in {sage['seconds']:.1f} s = "
          f"{sage['per_minute']:.0f} orders/minute; {sage['exceptions']} exceptions")


if __name__ == "__main__":
    main()
