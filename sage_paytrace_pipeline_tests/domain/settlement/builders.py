"""A small scenario builder: transactions first, batch summaries derived from them (so they tie out
unless a test says otherwise), receipts confirmed unless a test says otherwise, bank lines as given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from sage_paytrace_pipeline.domain.settlement import GlAccountMap

MON, TUE, WED, THU, FRI, SAT = (date(2026, 3, day) for day in (2, 3, 4, 5, 6, 7))
NEXT_MON, NEXT_TUE, NEXT_WED, NEXT_THU = (date(2026, 3, day) for day in (9, 10, 11, 12))

CLEARING = {"VISA": "1060-00", "MASTERCARD": "1060-00", "DISCOVER": "1061-00", "AMEX": "1065-00"}
ACCOUNTS = {"bank": "1010-00", "merchant_fees": "6150-00", "refunds": "4950-00", "chargebacks": "6160-00"}


def gl_accounts(*, active_accounts: set[str] | None = None, **overrides) -> GlAccountMap:
    """The test chart of accounts; every mapped account is active unless `active_accounts` says otherwise."""
    values = {**ACCOUNTS, "clearing_by_brand": dict(CLEARING)}
    values.update(overrides)
    mapped = {account for key, account in values.items() if key != "clearing_by_brand" and account}
    active = mapped | set(values["clearing_by_brand"].values()) if active_accounts is None else active_accounts
    return GlAccountMap(**values, active_accounts=active)


@dataclass
class Scenario:
    transactions: list[dict] = field(default_factory=list)
    closed: dict[int, date] = field(default_factory=dict)
    receipts: list[dict] = field(default_factory=list)
    bank: list[dict] = field(default_factory=list)
    summary_changes: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)
    next_id: int = 5000

    def batch(self, number: int, closed: date) -> Scenario:
        self.closed[number] = closed
        return self

    def sale(self, batch: int | None, brand: str, cents: int, *, state: str | None = "confirmed",
             receipt_cents: int | None = None, kind: str = "SALE", status: str = "SETTLED") -> int:
        self.next_id += 1
        self.transactions.append({"transaction_id": self.next_id, "batch_number": batch, "transaction_type": kind,
                                  "card_brand": brand, "amount_cents": cents, "status": status})
        if state is not None:
            self.receipts.append({"transaction_id": self.next_id,
                                  "amount_cents": cents if receipt_cents is None else receipt_cents,
                                  "payment_type": brand[:4], "state": state})
        return self.next_id

    def refund(self, batch: int, brand: str, cents: int, *, created: date | None = None) -> int:
        """A settled refund; `created` (its business day) gives the transactions a created_date column."""
        self.next_id += 1
        self.transactions.append({"transaction_id": self.next_id, "batch_number": batch, "transaction_type": "REFUND",
                                  "card_brand": brand, "amount_cents": cents, "status": "SETTLED",
                                  **({"created_date": created} if created else {})})
        return self.next_id

    def deposit(self, posted: date, cents: int, description: str = "BANKCARD DEPOSIT", *, reference: str = "",
                account: str = "CHK-1", type_code: str = "165", source_file: str = "stmt.bai") -> Scenario:
        line = 1 + sum(1 for row in self.bank if row["source_file"] == source_file)
        self.bank.append({"source_file": source_file, "source_line": line, "account_id": account,
                          "posted_date": posted, "amount_cents": cents, "type_code": type_code,
                          "bank_reference": reference or f"R{len(self.bank) + 1:04d}", "description": description})
        return self

    def change_summary(self, batch: int, brand: str, **changes: int) -> Scenario:
        self.summary_changes[(batch, brand)] = changes
        return self

    # ------------------------------------------------------------------------------------ frames

    def transactions_frame(self) -> pd.DataFrame:
        dated = any("created_date" in tx for tx in self.transactions)
        frame = pd.DataFrame(self.transactions, columns=["transaction_id", "batch_number", "transaction_type",
                                                         "card_brand", "amount_cents", "status"]
                             + (["created_date"] if dated else []))
        frame["batch_number"] = frame["batch_number"].astype("Int64")
        return frame

    def batches_frame(self) -> pd.DataFrame:
        rows: dict[tuple[int, str], dict] = {}
        for tx in self.transactions:
            if tx["batch_number"] is None or tx["status"] in ("VOIDED", "DECLINED"):
                continue
            key = (tx["batch_number"], tx["card_brand"])
            row = rows.setdefault(key, {"batch_number": key[0], "closed_date": self.closed[key[0]], "brand": key[1],
                                        "sales_count": 0, "sales_cents": 0, "refund_count": 0, "refund_cents": 0})
            side = "refund" if tx["transaction_type"] == "REFUND" else "sales"
            row[f"{side}_count"] += 1
            row[f"{side}_cents"] += tx["amount_cents"]
        for key, changes in self.summary_changes.items():
            rows.setdefault(key, {"batch_number": key[0], "closed_date": self.closed[key[0]], "brand": key[1],
                                  "sales_count": 0, "sales_cents": 0, "refund_count": 0, "refund_cents": 0})
            rows[key].update(changes)
        return pd.DataFrame(list(rows.values()), columns=["batch_number", "closed_date", "brand", "sales_count",
                                                          "sales_cents", "refund_count", "refund_cents"])

    def receipts_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.receipts, columns=["transaction_id", "amount_cents", "payment_type", "state"])

    def deposits_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.bank, columns=["source_file", "source_line", "account_id", "posted_date",
                                                "amount_cents", "type_code", "bank_reference", "description"])

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return self.batches_frame(), self.transactions_frame(), self.receipts_frame(), self.deposits_frame()
