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
