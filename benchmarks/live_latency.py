"""Live latency: PayTrace sale -> Sage cash receipt, read from a finished live run (read-only).

    python -m benchmarks.live_latency --state .sage_paytrace/paytrace_sandbox.sqlite3 \
        --sage-db .sage_paytrace/sage100_demo.sqlite3 --since 2026-12-07T11:34:00Z

Sales: the sandbox's `transactions` rows of type SALE created at or after `--since` (its clock is
real time, `created_at` stored in UTC; the v1 API shows the same instant in the merchant's zone).
Receipts: the demo company's AR_CashReceiptsHistory (posting: post) and AR_CashReceiptsHeader
(posting: entry) rows whose CreditCardTransactionID is the sale's id; their DateCreated and
TimeCreated (decimal hours, 5 places = 0.036 s) are the writer's `datetime.now()`, the host's
local clock, given here by `--sage-zone` (UTC on the reference machine). Percentiles are nearest
rank. A sale without a receipt counts as missing.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def _ro(path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def sales(state: str, since: datetime) -> dict[str, datetime]:
    with _ro(state) as db:
        rows = db.execute("SELECT id, created_at, state FROM transactions WHERE type = 'SALE'").fetchall()
    return {str(i): _utc(c) for i, c, s in rows if _utc(c) >= since and s != "declined"}


def receipts(sage_db: str, zone: ZoneInfo) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    with _ro(sage_db) as db:
        for table in ("AR_CashReceiptsHistory", "AR_CashReceiptsHeader"):
            for tid, day, hours in db.execute(
                f"SELECT CreditCardTransactionID, DateCreated, TimeCreated FROM {table} "
                "WHERE CreditCardTransactionID IS NOT NULL AND CreditCardTransactionID != ''"
            ):
                local = datetime.fromisoformat(day) + timedelta(hours=float(hours))
                moment = local.replace(tzinfo=zone).astimezone(UTC)
                found[str(tid)] = min(moment, found.get(str(tid), moment))
    return found


def nearest_rank(values: list[float], p: float) -> float:
    return sorted(values)[max(1, math.ceil(p / 100 * len(values))) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", required=True, help="the sandbox's SQLite state")
    parser.add_argument("--sage-db", required=True, help="the demo company")
    parser.add_argument("--since", required=True, help="start of the live run, ISO, e.g. 2026-12-07T11:34:00Z")
    parser.add_argument("--sage-zone", default="UTC", help="zone of the host clock the demo writer stamps with")
    parser.add_argument("--per-sale", action="store_true", help="also print each sale's latency")
    args = parser.parse_args()
    sold = sales(args.state, _utc(args.since))
    posted = receipts(args.sage_db, ZoneInfo(args.sage_zone))
    latency = {tid: (posted[tid] - at).total_seconds() for tid, at in sold.items() if tid in posted}
    missing = sorted(tid for tid in sold if tid not in posted)
    values = list(latency.values())
    if args.per_sale:
        for tid in sorted(sold):
            print(tid, sold[tid].isoformat(), f"{latency[tid]:.1f}" if tid in latency else "missing")
    summary = {"sales": len(sold), "with_receipt": len(values), "missing": missing}
    if values:
        summary |= {"min": min(values), "median": nearest_rank(values, 50), "p90": nearest_rank(values, 90),
                    "p95": nearest_rank(values, 95), "max": max(values)}
        summary = {k: round(v, 1) if isinstance(v, float) else v for k, v in summary.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
