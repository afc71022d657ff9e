"""The hostile input corpus (cases/*.json): loading, and turning a PayTrace case into wire text.

Numbers are read as `Decimal` and written back verbatim (`wire_json`), so ``19.999`` and ``1E+30``
reach the client exactly as a server would send them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"
FIRST_ID = 700_000
GOOD_ID = 699_999  # the well-formed record every PayTrace case's export also holds
LONG = "@@LONG:"  # "@@LONG:100000" stands for a string of that many characters


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    data: dict[str, Any]

    @property
    def expect(self) -> dict[str, Any]:
        return self.data["expect"]

    def __str__(self) -> str:
        return self.name


def load(file_name: str) -> list[Case]:
    document = json.loads((CASES / file_name).read_text(encoding="utf-8"), parse_float=Decimal)
    return [Case(item["name"], item["category"], item) for item in document["cases"]]


def paytrace_cases(*outcomes: str) -> list[Case]:
    cases = load("paytrace_records.json")
    return [case for case in cases if not outcomes or case.expect["outcome"] in outcomes]


def case_id(case: Case) -> int:
    """The transaction id a case's records carry unless the case sets its own."""
    return FIRST_ID + 10 * [c.name for c in load("paytrace_records.json")].index(case.name)


def base_record(transaction_id: int, created_at: str = "3/4/2026 9:30:00 AM") -> dict[str, Any]:
    """A well-formed export record as the sandbox (and reference §8.1) shapes it."""
    return {
        "transaction_id": transaction_id,
        "credit_card": {"masked_number": "401200******5439", "expiration_month": 12, "expiration_year": 28},
        "transaction_type": "SALE", "description": "web order", "amount": Decimal("125.00"),
        "invoice_id": f"WEB{transaction_id}",
        "shipping_address": {"name": "", "street_address": "", "street_address2": "", "city": "", "county": "",
                             "state": "", "zip": "", "country": ""},
        "billing_address": {"name": "Hostile Corpus Buyer", "street_address": "1 Test St", "street_address2": "",
                            "city": "Portland", "state": "OR", "zip": "97201", "country": "US"},
        "receipt_emailed_to": "", "tax_amount": "", "customer_reference_id": "", "approval_code": "TAS123",
        "approval_message": "  NO  MATCH - Approved and completed", "avs_response": "No Match", "csc_response": "Match",
        "status_code": "Y", "status_message": "Pending Settlement",
        "created": {"through": "API", "at": created_at, "by": "demo_api", "from_ip": "203.0.113.9"},
        "settled": "", "customer_id": "",
    }


def records_of(case: Case, created_at: str = "3/4/2026 9:30:00 AM") -> list[Any]:
    """The raw records a record-level case puts into an export answer."""
    if "raw" in case.data:
        return [case.data["raw"]]
    changes = case.data.get("records") or [case.data.get("record", {})]
    records = []
    for change in changes:
        record = {**base_record(case_id(case), created_at), **_expanded(change)}
        for field in case.data.get("drop", ()):
            record.pop(field, None)
        records.append(record)
    return records


def export_body(records: list[Any]) -> dict[str, Any]:
    return {"success": True, "response_code": 1, "status_message": "Your request has been successfully completed.",
            "transactions": records, "external_transaction_id": ""}


def body_text(case: Case, created_at: str = "3/4/2026 9:30:00 AM") -> str:
    """The whole export answer of a case: the good record plus the case's, or the case's own body."""
    if "body_text" in case.data:
        return case.data["body_text"]
    if "body" in case.data:
        return wire_json(case.data["body"])
    return wire_json(export_body([base_record(GOOD_ID, created_at), *records_of(case, created_at)]))


def wire_json(value: Any) -> str:
    """JSON with Decimals written as the exact numbers they are (json.dumps would refuse them)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{wire_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(wire_json(item) for item in value) + "]"
    return json.dumps(value)


def _expanded(change: dict[str, Any]) -> dict[str, Any]:
    return {key: ("x" * int(value[len(LONG):]) if isinstance(value, str) and value.startswith(LONG) else value)
            for key, value in change.items()}
