"""A tiny in-memory PayTrace for httpx.MockTransport, speaking the recorded v1 wire format.

It keeps just enough state (transactions, vault, batches) for the client's reconcile-after-lost-
answer logic to be tested end to end, and lets tests script faults per route:
``fake.fail(route, response_or_exception, times=n)`` answers before processing, and
``fake.lose_answer(route)`` commits the call and then loses the answer.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from sage_paytrace_pipeline.paytrace import PayTraceClient, RetryPolicy

ZONE = ZoneInfo("America/Los_Angeles")
USERNAME = "api_user"
PASSWORD = "s3cret-Passw0rd!"
VISA = "4012000098765439"
TOKEN_PREFIX = "0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210:"
VALIDATION = "One or more errors has occurred."
HTML_BLOCK = "<html><body><h1>Request blocked</h1></body></html>"

Outcome = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def wire_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps(payload, default=lambda d: float(d) if isinstance(d, Decimal) else str(d))
    return httpx.Response(status, text=body,
                          headers={"content-type": "application/json; charset=utf-8", **(headers or {})})


def wire_error(code: str, message: str, status: int = 400) -> httpx.Response:
    return wire_json(
        {"success": False, "response_code": 1, "status_message": VALIDATION, "errors": {code: [message]},
         "external_transaction_id": ""},
        status,
    )


def paytrace_timestamp(moment: datetime) -> str:
    """``M/D/YYYY h:mm:ss AM`` without zero padding, as PayTrace prints it."""
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


class FakeClock:
    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakePayTrace:
    """The MockTransport handler. Server time is fixed at ``server_now`` (merchant zone)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.server_now = datetime(2026, 11, 24, 14, 0, 0, tzinfo=ZONE)
        self.requests: list[tuple[str, dict[str, Any], httpx.Headers]] = []
        self.valid_tokens: set[str] = set()
        self.token_count = 0
        self.token_type = "Bearer"
        self.send_created_at = True
        self.expires_in = 7200
        self.scripted: dict[str, list[Outcome]] = defaultdict(list)
        self.lost: dict[str, int] = defaultdict(int)
        self.transactions: dict[int, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.next_id = 900_000_001
        self.batch_number = 570
        self.decline_amounts = {Decimal("1.12"), Decimal("0.29")}

    # ---------------------------------------------------------------- scripting

    def fail(self, route: str, outcome: Outcome, times: int = 1) -> None:
        self.scripted[route].extend([outcome] * times)

    respond = fail  # a scripted success reads better under this name

    def lose_answer(self, route: str, times: int = 1) -> None:
        self.lost[route] += times

    def calls(self, route: str) -> list[dict[str, Any]]:
        return [body for r, body, _ in self.requests if r == route]

    def committed(self, **match: Any) -> list[dict[str, Any]]:
        return [t for t in self.transactions.values() if all(t.get(k) == v for k, v in match.items())]

    # ---------------------------------------------------------------- transport entry point

    def __call__(self, request: httpx.Request) -> httpx.Response:
        route = request.url.path
        body = self._body(request)
        self.requests.append((route, body, request.headers))
        if self.scripted[route]:
            outcome = self.scripted[route].pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            response = outcome(request) if callable(outcome) else outcome
            return self._dated(response)
        response = self._dispatch(route, body, request)
        if self.lost[route] and response.status_code < 500:
            self.lost[route] -= 1
            raise httpx.ReadTimeout("timed out", request=request)
        return self._dated(response)

    def _dated(self, response: httpx.Response) -> httpx.Response:
        response.headers["Date"] = format_datetime(self.server_now.astimezone(UTC), usegmt=True)
        return response

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        raw = request.content.decode()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return dict(httpx.QueryParams(raw))
        return json.loads(raw, parse_float=Decimal) if raw else {}

    def _dispatch(self, route: str, body: dict[str, Any], request: httpx.Request) -> httpx.Response:
        if route == "/oauth/token":
            return self._token(body)
        if route == "/v1/ping":
            return wire_json({"success": True, "response_code": 1, "status_message": "pong"})
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
            return wire_json({"error": "invalid_token", "error_description": "The access token expired"}, 401)
        handler = getattr(self, "_" + route.removeprefix("/v1/").replace("/", "_"), None)
        if handler is None:
            return wire_error("404", "Unknown route.", 404)
        return handler(body)

    # ---------------------------------------------------------------- OAuth

    def _token(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("username") != USERNAME or body.get("password") != PASSWORD:
            return wire_json({"error": "invalid_grant",
                              "error_description": "The provided authorization grant is invalid."}, 400)
        self.token_count += 1
        token = f"{TOKEN_PREFIX}tok{self.token_count:040d}"
        self.valid_tokens.add(token)
        payload: dict[str, Any] = {"access_token": token, "token_type": self.token_type, "expires_in": self.expires_in}
        if self.send_created_at:
            payload["created_at"] = int(self.clock())
        return wire_json(payload, headers={"Cache-Control": "no-store"})

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    # ---------------------------------------------------------------- transactions

    def add_transaction(self, **fields: Any) -> dict[str, Any]:
        """A committed export record in PayTrace's shape (amount number, tax_amount string, * mask)."""
        transaction_id = self.next_id
        self.next_id += 1
        record = {
            "transaction_id": transaction_id,
            "credit_card": {"masked_number": "************5439", "expiration_month": 12, "expiration_year": 28},
            "transaction_type": "SALE", "description": "", "amount": Decimal("10.00"), "invoice_id": "",
            "shipping_address": {}, "billing_address": {"name": "Kevin"}, "receipt_emailed_to": "", "tax_amount": "",
            "customer_reference_id": "", "approval_code": "TAS123",
            "approval_message": "APPROVAL TAS123 - Approved and completed",
            "avs_response": "Full Exact Match", "csc_response": "Match", "status_code": "Y",
            "status_message": "Pending Settlement",
            "created": {"through": "API", "at": paytrace_timestamp(self.server_now), "by": USERNAME,
                        "from_ip": "10.0.0.1"},
            "settled": "", "customer_id": "", "email": "",
        }
        record.update(fields)
        self.transactions[transaction_id] = record
        return record

    def _new_transaction(self, transaction_type: str, body: dict[str, Any], **extra: Any) -> httpx.Response:
        amount = Decimal(str(body["amount"]))
        declined = amount in self.decline_amounts
        fields = dict(
            transaction_type=transaction_type, amount=amount, invoice_id=body.get("invoice_id", ""),
            customer_id=body.get("customer_id", ""), description=body.get("description", ""),
            approval_code="" if declined else "TAS445",
            approval_message="    DECLINE - Do not honor" if declined else "  NO  MATCH - Approved and completed",
            status_code="N" if declined else "Y", status_message="Declined" if declined else "Pending Settlement",
        )
        record = self.add_transaction(**(fields if declined else {**fields, **extra}))
        return wire_json(
            {"success": not declined, "response_code": 102 if declined else 101,
             "status_message": "Your transaction was not approved." if declined
                               else "Your transaction was successfully approved.",
             "transaction_id": record["transaction_id"], "approval_code": record["approval_code"],
             "approval_message": record["approval_message"], "avs_response": "No Match", "csc_response": "",
             "external_transaction_id": "", "masked_card_number": "xxxxxxxxxxxx5439"}
        )

    def _transactions_sale_keyed(self, body: dict[str, Any]) -> httpx.Response:
        number = str(body.get("credit_card", {}).get("number", ""))
        if len(number) < 13:
            return wire_error("35", "Please provide a valid Credit Card Number.")
        return self._new_transaction("SALE", body)

    def _transactions_sale_by_customer(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("customer_id") not in self.customers:
            return wire_error("30", f"Customer ID, {body.get('customer_id')}, was not found or is incomplete.")
        return self._new_transaction("SALE", body)

    def _transactions_authorization_by_customer(self, body: dict[str, Any]) -> httpx.Response:
        return self._new_transaction("AUTHORIZATION", body, status_code="N", status_message="Authorization Only")

    def _transactions_refund_for_transaction(self, body: dict[str, Any]) -> httpx.Response:
        original = self.transactions.get(int(body.get("transaction_id") or 0))
        if original is None:
            return wire_error("811", "The Transaction ID that you provided was not found.")
        if not original["status_code"].startswith("GB"):
            return wire_error("817", "The Transaction ID that you provided could not be refunded. Only settled "
                                     "transactions can be refunded.  Please try to void the transaction instead.")
        amount = Decimal(str(body.get("amount", original["amount"])))
        record = self.add_transaction(transaction_type="REFUND", amount=amount, invoice_id=body.get("invoice_id", ""))
        return wire_json({"success": True, "response_code": 106,
                          "status_message": "Your transaction was successfully refunded.",
                          "transaction_id": record["transaction_id"], "external_transaction_id": "",
                          "masked_card_number": "xxxxxxxxxxxx5439"})

    def _transactions_void(self, body: dict[str, Any]) -> httpx.Response:
        record = self.transactions.get(int(body.get("transaction_id") or 0))
        if record is None:
            return wire_error("811", "The Transaction ID that you provided was not found.")
        if record["status_code"] != "Y" and record["status_message"] != "Authorization Only":
            return wire_error("818", "The Transaction ID that you provided could not be voided. Only transactions "
                                     "that are pending settlement can be voided.")
        record.update(status_code="N", status_message="Voided")
        return wire_json({"success": True, "response_code": 109,
                          "status_message": "Your transaction was successfully voided.",
                          "transaction_id": record["transaction_id"]})

    def _transactions_authorization_capture(self, body: dict[str, Any]) -> httpx.Response:
        record = self.transactions.get(int(body.get("transaction_id") or 0))
        if record is None:
            return wire_error("811", "The Transaction ID that you provided was not found.")
        if record["status_message"] != "Authorization Only":
            return wire_error("816", "The Transaction ID that you provided could not be captured.")
        record.update(status_code="Y", status_message="Pending Settlement",
                      amount=Decimal(str(body.get("amount", record["amount"]))))
        return wire_json({"success": True, "response_code": 112,
                          "status_message": "Your transaction was successfully captured.",
                          "transaction_id": record["transaction_id"], "external_transaction_id": ""})

    def _transactions_settle(self, body: dict[str, Any]) -> httpx.Response:
        pending = [t for t in self.transactions.values() if t["status_code"] == "Y"]
        if not pending:
            return wire_json({"success": True, "response_code": 175,
                              "status_message": "There were no transactions to settle.",
                              "batch_number": None, "transaction_count": 0, "net_amount": 0})
        self.batch_number += 1
        for record in pending:
            record.update(status_code=f"GB{self.batch_number}", status_message=f"GB{self.batch_number}",
                          settled=paytrace_timestamp(self.server_now))
        net = sum((t["amount"] if t["transaction_type"] != "REFUND" else -t["amount"]) for t in pending)
        return wire_json({"success": True, "response_code": 175,
                          "status_message": "The batch was successfully settled.",
                          "batch_number": self.batch_number, "transaction_count": len(pending), "net_amount": net})

    def _transactions_export_by_id(self, body: dict[str, Any]) -> httpx.Response:
        record = self.transactions.get(int(body.get("transaction_id") or 0))
        if record is None:
            return wire_error("811", "The Transaction ID that you provided was not found.")
        return wire_json({"success": True, "response_code": 1,
                          "status_message": "Your request has been successfully completed.",
                          "transactions": [record]})

    def _transactions_export_by_date_range(self, body: dict[str, Any]) -> httpx.Response:
        start = datetime.strptime(body["start_date"], "%m/%d/%Y").date()
        end = datetime.strptime(body["end_date"], "%m/%d/%Y").date()
        text = str(body.get("including_text") or "").lower()
        found = [
            t for t in self.transactions.values()
            if start <= datetime.strptime(t["created"]["at"], "%m/%d/%Y %I:%M:%S %p").date() <= end
            and (not text or text in (t["invoice_id"] + " " + t["description"]).lower())
        ]
        return wire_json({"success": True, "response_code": 1,
                          "status_message": "Your request has been successfully completed.",
                          "transactions": found})

    # ---------------------------------------------------------------- vault

    def _customer_create(self, body: dict[str, Any]) -> httpx.Response:
        customer_id = body["customer_id"]
        if customer_id in self.customers:
            return wire_error("171", "Please provide a unique customer ID.")
        number = str(body["credit_card"]["number"])
        self.customers[customer_id] = {
            "customer_id": customer_id,
            "credit_card": {"masked_number": "x" * (len(number) - 4) + number[-4:], "expiration_month": 12,
                            "expiration_year": 28},
            "billing_address": body.get("billing_address", {}), "email": body.get("email", ""), "phone": "", "fax": "",
            "created": paytrace_timestamp(self.server_now),
        }
        return wire_json({"success": True, "response_code": 160,
                          "status_message": f"The customer profile for {customer_id}/x was successfully created.",
                          "customer_id": customer_id, "masked_card_number": "x" * (len(number) - 4) + number[-4:]})

    def _customer_delete(self, body: dict[str, Any]) -> httpx.Response:
        if self.customers.pop(body.get("customer_id"), None) is None:
            return wire_error("30", f"Customer ID, {body.get('customer_id')}, was not found or is incomplete.")
        return wire_json({"success": True, "response_code": 162, "status_message": "was successfully deleted.",
                          "customer_id": body["customer_id"]})

    def _customer_export(self, body: dict[str, Any]) -> httpx.Response:
        wanted = body.get("customer_id")
        if wanted and wanted not in self.customers:
            return wire_error("30", f"Customer ID, {wanted}, was not found or is incomplete.")
        items = [c for c in self.customers.values() if not wanted or c["customer_id"] == wanted]
        return wire_json({"success": True, "response_code": 1,
                          "status_message": "Your request has been successfully completed.",
                          "customers": items})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> FakePayTrace:
    return FakePayTrace(clock)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(fake: FakePayTrace, clock: FakeClock, sleeps: list[float]):
    clients: list[PayTraceClient] = []

    def build(**overrides: Any) -> PayTraceClient:
        options: dict[str, Any] = dict(
            username=USERNAME, password=PASSWORD, integrator_id="INTEGRATOR12",
            transport=httpx.MockTransport(fake), sleep=sleeps.append, clock=clock,
            retry=RetryPolicy(jitter=False),
        )
        options.update(overrides)
        client = PayTraceClient("https://api.sandbox.paytrace.com", **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> PayTraceClient:
    return make_client()
