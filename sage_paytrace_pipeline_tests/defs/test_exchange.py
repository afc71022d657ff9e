"""The rates a run converts with: none for one currency; a missing or bad file converts nothing and says why."""

from datetime import date
from decimal import Decimal

from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.defs.exchange import exchange_rates

CAD = "currency:\n  paytrace: USD\n  sage: CAD\n  rates_file: rates.csv\n  exchange_difference_account: 7950-00\n"


def test_one_currency_reads_no_rates(tmp_path):
    (tmp_path / "config.yaml").write_text("merchant: {}\n")
    assert exchange_rates(load_config(tmp_path / "config.yaml"), str(tmp_path / "config.yaml")) is None


def test_the_rates_file_beside_the_config_gives_each_day_its_rate(tmp_path):
    (tmp_path / "config.yaml").write_text(CAD)
    (tmp_path / "rates.csv").write_text("date,rate\n2026-03-06,1.3725\n")
    rates = exchange_rates(load_config(tmp_path / "config.yaml"), str(tmp_path / "config.yaml"))
    assert rates is not None and rates.rate_on(date(2026, 3, 9)) == Decimal("1.3725")


def test_a_missing_or_bad_file_converts_nothing_and_names_the_file_and_line(tmp_path):
    config_path = tmp_path / "config.yaml"
    config_path.write_text(CAD)
    config = load_config(config_path)
    missing = exchange_rates(config, str(config_path))
    assert missing is not None and missing.rate_on(date(2026, 3, 6)) is None
    assert "file not found" in missing.missing_reason(date(2026, 3, 6))
    (tmp_path / "rates.csv").write_text("date,rate\n2026-03-06,1.3725\n2026-03-09,one\n")
    bad = exchange_rates(config, str(config_path))
    assert bad is not None and bad.rate_on(date(2026, 3, 6)) is None
    assert "rates.csv line 3: 'one' is not a number" in bad.missing_reason(date(2026, 3, 6))


def test_a_sales_receipt_is_read_back_with_its_rate_and_both_amounts(tmp_path):
    """What the dispute flow converts a case at: the confirmed receipt as the posting log recorded it."""
    import json

    import duckdb

    from sage_paytrace_pipeline.defs.exchange import receipt_exchange
    from sage_paytrace_pipeline.domain.disputes.currency import SaleExchange
    from sage_paytrace_pipeline.receivables.posting_log import Intent, PostingLog

    def intent(sale: int, sage_cents: int, lines: list[dict]) -> Intent:
        return Intent(transaction_id=sale, business_date=date(2026, 3, 6), division="01", customer_no="ABF",
                      amount_cents=sage_cents, payment_type="VISA", payload_sha256="x",
                      applications_json=json.dumps(lines), link_json="{}")

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        log = PostingLog(connection, "r1")
        converted = [{"invoice_no": "1", "amount_cents": 8_000, "paytrace_amount_cents": 5_830, "fx_rate": "1.3725"},
                     {"invoice_no": "2", "amount_cents": 5_725, "paytrace_amount_cents": 4_170, "fx_rate": "1.3725"}]
        unconverted = [{"invoice_no": "3", "amount_cents": 5_000}]
        log.record_intents([intent(7, 13_725, converted), intent(8, 5_000, unconverted), intent(9, 1_000, converted)])
        for sale in (7, 8):
            log.record_confirmed(None, sale, deposit_no="1", entry_no="1", found_in_sage=False)
        found = receipt_exchange(connection, "r2")([7, 8, 9, 10])
    assert found == {7: SaleExchange(Decimal("1.3725"), 13_725, 10_000),
                     8: SaleExchange(None, 5_000, 5_000)}  # posted before the conversion: no rate; 9 not confirmed
