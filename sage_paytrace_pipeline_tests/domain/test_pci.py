import logging

from sage_paytrace_pipeline.domain.pci import FILTERED, ScrubbingLogFilter, scrub_payload, scrub_text

PAN = "4012000098765439"


def test_scrub_payload_hides_secrets_but_keeps_batch_numbers():
    payload = {
        "credit_card": {"number": PAN, "expiration_month": 12},
        "csc": "999",
        "password": "hunter2",
        "batch": {"number": 17},
        "description": f"card {PAN}",
        "items": [{"hpf_token": "abc", "enc_key": "def"}],
    }
    cleaned = scrub_payload(payload)
    assert cleaned["credit_card"]["number"] == FILTERED
    assert cleaned["csc"] == cleaned["password"] == FILTERED
    assert cleaned["batch"]["number"] == 17
    assert PAN not in str(cleaned) and cleaned["description"].endswith("5439")
    assert cleaned["items"][0] == {"hpf_token": FILTERED, "enc_key": FILTERED}
    assert payload["csc"] == "999"  # the original is not modified


def test_scrub_text_covers_headers_json_forms_and_reprs():
    text = (
        'Authorization: Bearer 1a2b:3c4d:secret-token {"password": "p@ss", "access_token":"tok"} '
        f"grant_type=password&password=hunter2 {{'csc': '123'}} {PAN}"
    )
    cleaned = scrub_text(text)
    for secret in ("secret-token", "p@ss", "tok\"", "hunter2", "'123'", PAN):
        assert secret not in cleaned


def test_log_filter_scrubs_message_args_and_tracebacks(caplog):
    logger = logging.getLogger("test.pci")
    handler_filter = ScrubbingLogFilter()
    logger.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="test.pci"):
            logger.info("charging %s with password=%s", PAN, "hunter2")
            try:
                raise ValueError(f"bad card {PAN}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(handler_filter)
    assert PAN not in caplog.text and "hunter2" not in caplog.text
    assert "xxxxxxxxxxxx5439" in caplog.text


def test_scrub_text_covers_odbc_yaml_url_credentials_and_webhook_signatures():
    text = ("DSN=SOTAMAS90;UID=bob;PWD=s3cret-odbc;COMPANY=ABC password: hunter2 "
            "postgresql://dagster:pg-secret@db:5432/dagster Authorization: Basic dXNlcjpwYXNz "
            "https://prod.logic.azure.com/workflows/1/invoke?api-version=1&sig=AbC123sig")
    cleaned = scrub_text(text)
    for secret in ("s3cret-odbc", "hunter2", "pg-secret", "dXNlcjpwYXNz", "AbC123sig"):
        assert secret not in cleaned
    assert "COMPANY=ABC" in cleaned and "@db:5432/dagster" in cleaned  # only the secret goes
    assert scrub_text("batch 17 closed: basic checks passed") == "batch 17 closed: basic checks passed"
