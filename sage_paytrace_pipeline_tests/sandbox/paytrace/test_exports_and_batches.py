"""Transaction exports (formats, filters) and settlement batches (nightly cutoff, totals, brands)."""

import re
from datetime import datetime
from decimal import Decimal

VISA = "4012000098765439"
MASTERCARD = "5499740000000057"
DISCOVER = "6011000993026909"
AMEX = "371449635392376"
TIMESTAMP = re.compile(r"^([1-9]|1[0-2])/([1-9]|[12]\d|3[01])/\d{4} ([1-9]|1[0-2]):[0-5]\d:[0-5]\d (AM|PM)$")


def sale(api, amount="10.00", number=VISA, route="/v1/transactions/sale/keyed", **extra):
    body = {"amount": amount, "credit_card": {"number": number, "expiration_month": 7, "expiration_year": 2029},
            "billing_address": {"name": "Pat Buyer", "zip": "99201"}, **extra}
    status, answer = api.post(route, body)
    assert status == 200, answer
    return answer["transaction_id"]


def day_export(api, day="03/02/2026", **filters):
    status, body = api.post("/v1/transactions/export/by_date_range", {"start_date": day, "end_date": day, **filters})
    assert status == 200, body
    return body["transactions"]


def at(engine, *args):
    engine.set_clock(at=datetime(*args))


def test_export_record_formats(paytrace_api):
    transaction_id = sale(paytrace_api, "110.00", MASTERCARD, tax_amount="8.10", invoice_id="inv1234",
                          customer_reference_id="PO123456", description="Store Purchase")
    [record] = day_export(paytrace_api)
    assert record["transaction_id"] == transaction_id and record["transaction_type"] == "SALE"
    assert record["amount"] == 110 and isinstance(record["amount"], int)  # a JSON number, not a string
    assert record["tax_amount"] == "8.10"
    assert record["credit_card"] == {"masked_number": "************0057", "expiration_month": 7, "expiration_year": 29}
    assert record["created"]["at"] == "3/2/2026 10:00:00 AM" and TIMESTAMP.match(record["created"]["at"])
    assert record["created"]["through"] == "API" and record["created"]["by"] == "demo_api"
    assert (record["status_code"], record["status_message"], record["settled"]) == ("Y", "Pending Settlement", "")
    assert record["customer_id"] == "" and record["invoice_id"] == "inv1234"
    assert set(record["shipping_address"]) >= {"name", "street_address", "city", "county", "state", "zip", "country"}


def test_include_bin_shows_the_first_six_digits(paytrace_api):
    sale(paytrace_api)
    assert day_export(paytrace_api, include_bin=True)[0]["credit_card"]["masked_number"] == "401200******5439"


def test_settled_records_carry_gb_batch_and_settled_time(paytrace_api):
    transaction_id = sale(paytrace_api)
    at(paytrace_api.handle.engine, 2026, 3, 2, 15, 30, 5)
    paytrace_api.post("/v1/transactions/settle")
    [record] = day_export(paytrace_api)
    assert record["transaction_id"] == transaction_id
    assert (record["status_code"], record["status_message"]) == ("GB1", "GB1")
    assert record["settled"] == "3/2/2026 3:30:05 PM"


def test_nightly_batch_closes_at_the_cutoff_when_the_clock_moves(paytrace_api):
    engine = paytrace_api.handle.engine
    before = sale(paytrace_api, "10.00")
    at(engine, 2026, 3, 2, 20, 0, 0)  # exactly the cutoff: the batch closes, this sale waits for tomorrow
    after_cutoff = sale(paytrace_api, "5.00")
    assert paytrace_api.post("/v1/batches/export_one", {"batch_number": 1})[1]["batch"]["transaction_count"] == 1
    moved = engine.set_clock(at=datetime(2026, 3, 4, 9, 0))  # two more cutoffs pass; only one has anything
    assert moved["batches_closed"] == [2]
    records = {r["transaction_id"]: r for r in day_export(paytrace_api)}
    assert records[before]["status_code"] == "GB1" and records[before]["settled"] == "3/2/2026 8:00:00 PM"
    assert records[after_cutoff]["status_code"] == "GB2" and records[after_cutoff]["settled"] == "3/3/2026 8:00:00 PM"
    _status, body = paytrace_api.post("/v1/batches/export", {"start_date": "03/01/2026", "end_date": "03/31/2026"})
    assert [(b["number"], b["created"]) for b in body["batches"]] == [(1, "3/2/2026 8:00:00 PM"),
                                                                      (2, "3/3/2026 8:00:00 PM")]


def test_batches_close_lazily_on_the_next_call_in_real_or_offset_time(paytrace_api):
    engine = paytrace_api.handle.engine
    sale(paytrace_api)
    engine.update_settings(batch_cutoff="10:30")
    assert engine.settle_due() == []
    engine.set_clock(advance_seconds=1800, mode="offset")  # 10:30 local, now running
    status, body = paytrace_api.post("/v1/batches/export_one", {"batch_number": 1})
    assert status == 200 and body["batch"]["transaction_count"] == 1


def test_auto_settle_off_keeps_everything_pending(paytrace_api):
    engine = paytrace_api.handle.engine
    engine.update_settings(auto_settle=False)
    sale(paytrace_api)
    assert engine.set_clock(at=datetime(2026, 3, 5, 9, 0))["batches_closed"] == []
    assert day_export(paytrace_api)[0]["status_code"] == "Y"


def test_batch_totals_match_transaction_list_and_brands(paytrace_api):
    engine = paytrace_api.handle.engine
    for amount, number in (("10.00", VISA), ("20.50", VISA), ("7.25", MASTERCARD), ("3.10", DISCOVER), ("15.00", AMEX)):
        sale(paytrace_api, amount, number)
    refunded = sale(paytrace_api, "9.99", MASTERCARD)
    paytrace_api.post("/v1/transactions/sale/keyed", {"amount": "1.12", "credit_card": {
        "number": VISA, "expiration_month": 7, "expiration_year": 2029}})  # declined: never batched
    at(engine, 2026, 3, 3, 9, 0)
    assert paytrace_api.post("/v1/transactions/refund/for_transaction",
                             {"transaction_id": refunded, "amount": "4.00"})[1]["response_code"] == 106
    sale(paytrace_api, "1.00", DISCOVER)
    at(engine, 2026, 3, 4, 9, 0)
    for number in (1, 2):
        batch = paytrace_api.post("/v1/batches/export_one", {"batch_number": number})[1]["batch"]
        listed = paytrace_api.post("/v1/batches/transaction_list", {"batch_number": number})[1]["transactions"]
        _assert_batch_ties_out(batch, listed)
    second = paytrace_api.post("/v1/batches/export_one", {"batch_number": 2})[1]["batch"]
    assert (second["sales_amount"], second["refund_amount"], second["net_amount"]) == (1, 4, -3)
    assert second["card_brands"] == {
        "MASTERCARD": {"sales_count": 0, "sales_amount": 0, "refund_count": 1, "refund_amount": 4},
        "DISCOVER": {"sales_count": 1, "sales_amount": 1, "refund_count": 0, "refund_amount": 0},
    }
    first = paytrace_api.post("/v1/batches/export_one", {"batch_number": 1})[1]["batch"]
    assert first["card_brands"]["VISA"]["sales_amount"] == Decimal("30.5")
    assert set(first["card_brands"]) == {"VISA", "MASTERCARD", "DISCOVER", "AMEX"}


def _assert_batch_ties_out(batch, listed):
    sales = [r["amount"] for r in listed if r["transaction_type"] != "REFUND"]
    refunds = [r["amount"] for r in listed if r["transaction_type"] == "REFUND"]
    assert batch["transaction_count"] == len(listed)
    assert (batch["sales_count"], batch["refund_count"]) == (len(sales), len(refunds))
    assert batch["sales_amount"] == sum(sales) and batch["refund_amount"] == sum(refunds)
    assert batch["net_amount"] == sum(sales) - sum(refunds)
    assert all(r["status_code"] == f"GB{batch['number']}" for r in listed)
    brand_totals = sum(b["sales_amount"] - b["refund_amount"] for b in batch["card_brands"].values())
    assert brand_totals == batch["net_amount"]


def test_export_one_without_number_is_the_pending_batch_and_unknown_is_812(paytrace_api):
    sale(paytrace_api, "4.00")
    sale(paytrace_api, "6.00")
    status, body = paytrace_api.post("/v1/batches/export_one", {})
    assert status == 200
    assert (body["batch"]["number"], body["batch"]["transaction_count"], body["batch"]["net_amount"]) == (1, 2, 10)
    status, body = paytrace_api.post("/v1/batches/export_one", {"batch_number": 42})
    assert status == 400 and body["errors"] == {"812": ["The Batch Number that you provided was not found."]}
    assert "812" in paytrace_api.post("/v1/batches/transaction_list", {"batch_number": 42})[1]["errors"]


def test_export_filters(paytrace_api):
    engine = paytrace_api.handle.engine
    paytrace_api.post("/v1/customer/create", {"customer_id": "ACME-7", "credit_card": {
        "number": MASTERCARD, "expiration_month": 1, "expiration_year": 2030}, "billing_address": {"name": "Acme Co"}})
    vault_sale = paytrace_api.post("/v1/transactions/sale/by_customer",
                                   {"customer_id": "ACME-7", "amount": "12.00"})[1]["transaction_id"]
    keyed_sale = sale(paytrace_api, "30.00", invoice_id="SO-55120", description="Order for Fred")
    auth = sale(paytrace_api, "9.00", route="/v1/transactions/authorization/keyed")
    voided = sale(paytrace_api, "5.00")
    paytrace_api.post("/v1/transactions/void", {"transaction_id": voided})
    declined = paytrace_api.post("/v1/transactions/sale/keyed", {"amount": "0.29", "credit_card": {
        "number": VISA, "expiration_month": 7, "expiration_year": 2029}})[1]["transaction_id"]

    def ids(**filters):
        return [r["transaction_id"] for r in day_export(paytrace_api, **filters)]

    assert ids(customer_id="ACME-7") == [vault_sale]
    assert ids(including_text="so-551") == [keyed_sale]
    assert ids(including_text="fred") == [keyed_sale]
    assert ids(including_text="acme co") == [vault_sale]
    assert ids(transaction_type="AUTHORIZATION") == [auth]
    assert ids(transaction_type="VOID") == [voided]
    assert ids(transaction_type="DECLINED") == [declined]
    assert ids(transaction_type="PENDING") == [vault_sale, keyed_sale]
    assert ids(transaction_type="SALE") == [vault_sale, keyed_sale, voided, declined]
    assert ids(transaction_id=keyed_sale) == [keyed_sale]
    assert ids(day="03/01/2026") == []
    at(engine, 2026, 3, 3, 9, 0)
    assert ids(transaction_type="SETTLED") == [vault_sale, keyed_sale]
    _status, body = paytrace_api.post("/v1/transactions/export/by_date_range", {"start_date": "03/03/2026",
                                                                                 "end_date": "03/03/2026"})
    assert body == {"success": True, "response_code": 1,
                    "status_message": "Your request has been successfully completed.", "transactions": []}


def test_export_date_range_is_inclusive_local_days(paytrace_api):
    engine = paytrace_api.handle.engine
    at(engine, 2026, 3, 2, 23, 59, 59)  # 07:59:59 UTC on 3/3: still 3/2 for the merchant
    late = sale(paytrace_api)
    at(engine, 2026, 3, 3, 0, 0, 0)
    next_day = sale(paytrace_api)
    assert [r["transaction_id"] for r in day_export(paytrace_api, "03/02/2026")] == [late]
    _status, body = paytrace_api.post("/v1/transactions/export/by_date_range",
                                      {"start_date": "3/2/2026", "end_date": "03/03/2026"})
    assert [r["transaction_id"] for r in body["transactions"]] == [late, next_day]
    assert body["transactions"][0]["created"]["at"] == "3/2/2026 11:59:59 PM"
    assert body["transactions"][1]["created"]["at"] == "3/3/2026 12:00:00 AM"


def test_export_needs_valid_dates(paytrace_api):
    status, body = paytrace_api.post("/v1/transactions/export/by_date_range", {"start_date": "2026-03-02"})
    assert status == 400 and "840" in body["errors"]


def test_a_capture_settles_in_the_batch_after_the_capture(paytrace_api):
    engine = paytrace_api.handle.engine
    sold = sale(paytrace_api, "10.00")
    auth = sale(paytrace_api, "25.00", route="/v1/transactions/authorization/keyed")
    at(engine, 2026, 3, 3, 9, 0)  # the 3/2 batch closed with the sale only
    assert paytrace_api.post("/v1/transactions/authorization/capture", {"transaction_id": auth})[0] == 200
    assert engine.settle_due() == []  # captured today: waits for tonight, no late batch for 3/2
    at(engine, 2026, 3, 3, 21, 0)
    records = {r["transaction_id"]: r for r in day_export(paytrace_api)}
    assert records[sold]["status_code"] == "GB1"
    assert (records[auth]["status_code"], records[auth]["settled"]) == ("GB2", "3/3/2026 8:00:00 PM")
    assert records[auth]["created"]["at"] == "3/2/2026 10:00:00 AM"
