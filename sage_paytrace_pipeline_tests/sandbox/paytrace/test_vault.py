"""Customer profiles (vault): create, update, delete, export, and what is (not) stored."""

VISA = "4012000098765439"
MASTERCARD = "5499740000000057"


def create(api, customer_id="CUST000001", number=VISA, **extra):
    body = {"customer_id": customer_id, "csc": "999",
            "credit_card": {"number": number, "expiration_month": "3", "expiration_year": "2030"},
            "billing_address": {"name": "Nathan Williams", "street_address": "1 Main St", "zip": "99201"},
            "email": "nathan@example.com", "phone": "509-555-0100", **extra}
    return api.post("/v1/customer/create", body)


def test_create_is_160_with_masked_number(paytrace_api):
    status, body = create(paytrace_api)
    assert status == 200
    assert body == {"success": True, "response_code": 160,
                    "status_message": "The customer profile for CUST000001/Nathan Williams was successfully created.",
                    "customer_id": "CUST000001", "masked_card_number": "xxxxxxxxxxxx5439"}


def test_duplicate_is_171_and_missing_id_is_47(paytrace_api):
    create(paytrace_api)
    status, body = create(paytrace_api)
    assert status == 400 and body["errors"] == {"171": ["Please provide a unique customer ID."]}
    assert "47" in create(paytrace_api, customer_id="")[1]["errors"]
    assert "35" in create(paytrace_api, customer_id="C-9", number="1234")[1]["errors"]


def test_a_card_number_as_customer_id_is_refused(paytrace_api):
    assert "47" in create(paytrace_api, customer_id=MASTERCARD)[1]["errors"]


def test_update_changes_fields_card_and_id(paytrace_api):
    create(paytrace_api)
    status, body = paytrace_api.post("/v1/customer/update", {
        "customer_id": "CUST000001", "new_id": "CUST-NEW", "email": "n.w@example.com",
        "billing_address": {"city": "Spokane"}, "credit_card": {"number": MASTERCARD, "expiration_month": 9,
                                                                "expiration_year": 2031}})
    assert status == 200 and body["response_code"] == 161
    assert body["status_message"] == "The customer profile for CUST-NEW/Nathan Williams was successfully updated."
    assert body["customer_id"] == "CUST-NEW" and body["masked_card_number"] == "xxxxxxxxxxxx0057"
    [exported] = paytrace_api.post("/v1/customer/export", {"customer_id": "CUST-NEW"})[1]["customers"]
    assert exported["email"] == "n.w@example.com"
    assert exported["billing_address"]["city"] == "Spokane" and exported["billing_address"]["name"] == "Nathan Williams"
    assert exported["credit_card"] == {"masked_number": "************0057", "expiration_month": 9,
                                       "expiration_year": 31}
    assert "30" in paytrace_api.post("/v1/customer/export", {"customer_id": "CUST000001"})[1]["errors"]


def test_update_expiry_only_and_rename_to_taken_id(paytrace_api):
    create(paytrace_api)
    create(paytrace_api, customer_id="OTHER")
    status, body = paytrace_api.post("/v1/customer/update", {"customer_id": "CUST000001",
                                                             "credit_card": {"expiration_year": 2033}})
    assert status == 200 and body["masked_card_number"] == "xxxxxxxxxxxx5439"
    [exported] = paytrace_api.post("/v1/customer/export", {"customer_id": "CUST000001"})[1]["customers"]
    assert exported["credit_card"]["expiration_year"] == 33 and exported["credit_card"]["expiration_month"] == 3
    renamed = {"customer_id": "CUST000001", "new_id": "OTHER"}
    assert "171" in paytrace_api.post("/v1/customer/update", renamed)[1]["errors"]
    assert "43" in paytrace_api.post("/v1/customer/update", {"customer_id": "CUST000001",
                                                             "credit_card": {"expiration_month": 0}})[1]["errors"]


def test_delete_is_162_then_unknown_is_30(paytrace_api):
    create(paytrace_api)
    status, body = paytrace_api.post("/v1/customer/delete", {"customer_id": "CUST000001"})
    assert status == 200 and body["response_code"] == 162 and body["customer_id"] == "CUST000001"
    assert body["status_message"].endswith("was successfully deleted.")
    status, body = paytrace_api.post("/v1/customer/delete", {"customer_id": "CUST000001"})
    assert status == 400 and body["errors"] == {"30": ["Customer ID, CUST000001, was not found or is incomplete."]}
    assert "30" in paytrace_api.post("/v1/customer/update", {"customer_id": "CUST000001"})[1]["errors"]


def test_export_all_with_contract_fields(paytrace_api):
    create(paytrace_api, discretionary_data={"terms": "NET30"})
    create(paytrace_api, customer_id="CUST000002", number=MASTERCARD)
    status, body = paytrace_api.post("/v1/customer/export", {})
    assert status == 200 and body["response_code"] == 1 and body["success"] is True
    assert [c["customer_id"] for c in body["customers"]] == ["CUST000001", "CUST000002"]
    first = body["customers"][0]
    assert set(first) == {"customer_id", "credit_card", "billing_address", "shipping_address", "email", "phone",
                          "fax", "created", "discretionary_data"}
    assert first["created"] == "3/2/2026 10:00:00 AM" and first["discretionary_data"] == {"terms": "NET30"}
    assert first["credit_card"]["masked_number"] == "************5439"
    with_bin = paytrace_api.post("/v1/customer/export", {"customer_id": "CUST000001", "include_bin": True})[1]
    assert with_bin["customers"][0]["credit_card"]["masked_number"] == "401200******5439"


def test_card_numbers_typed_into_profile_text_are_masked(paytrace_api):
    create(paytrace_api, billing_address={"name": f"Pay with {VISA}"}, discretionary_data={"note": f"card {VISA}"})
    [exported] = paytrace_api.post("/v1/customer/export", {})[1]["customers"]
    assert exported["billing_address"]["name"] == "Pay with xxxxxxxxxxxx5439"
    assert exported["discretionary_data"] == {"note": "card xxxxxxxxxxxx5439"}
