"""The YAML configuration: the example works, and every mistake names its key and the fix."""

from pathlib import Path

import pytest
import yaml

from sage_paytrace_pipeline.config import (
    ConfigError,
    PipelineConfig,
    add_customer_link,
    load_config,
    require_environment,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def test_the_documented_example_loads():
    config = load_config(EXAMPLE)
    assert config.sage.posting == "post" and config.sage.payment_types["MASTERCARD"] == "MC"
    assert config.merchant.time_zone == "America/Los_Angeles"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("sage:\n  postng: post\n", "sage.postng: unknown key"),
        ("sage:\n  posting: pst\n", "sage.posting: Input should be 'post' or 'entry'"),
        ("merchant:\n  time_zone: Mars/Olympus\n", "merchant.time_zone: Value error, unknown time zone"),
        ("merchant:\n  batch_cutoff: '25:00'\n", "merchant.batch_cutoff"),
        ("gl_accounts:\n  bank: '=1+1'\n", "gl_accounts.bank: Value error, '=1+1' is not a Sage account"),
        ("customer_links:\n  CUST1: ABF\n", "customer_links: Value error, CUST1: link to a Sage customer"),
        ("sage:\n  payment_types:\n    VISA: TOOLONGCODE\n", "sage.payment_types: Value error, VISA"),
        ("sage: [unclosed\n", "line 2: not valid YAML"),
        ("- a list\n", "expected a mapping of sections"),
        ("alerts: {}\n", "alerts: Value error, configure at least one channel"),
        ("alerts:\n  slack: {webhook_url: 'https://hooks.slack.com/x'}\n", "alerts.slack.webhook_url: unknown key"),
        ("alerts:\n  email: {host: h, from: a@example.com, to: [b@example.com], password: x}\n",
         "alerts.email.password: unknown key"),
        ("alerts:\n  email: {host: h, from: a@example.com, to: []}\n", "alerts.email.to: List should have at least 1"),
        ("alerts:\n  email: {host: h, from: a@example.com, to: [nobody]}\n", "alerts.email.to.0: String should match"),
        ("alerts:\n  email: {host: h, from: a@example.com, to: [b@example.com], user: u, security: none}\n",
         "alerts.email: Value error, security: none would send the SMTP password in clear"),
        ("alerts:\n  teams: {webhook_url_env: 'https://example.com/hook'}\n", "alerts.teams.webhook_url_env: String"),
        ("matching:\n  refund_flow: true\n", "matching: Value error, add the `refunds` section instead"),
    ],
)
def test_mistakes_are_reported_with_their_key_path(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


def test_the_refunds_section_switches_matching_to_the_refund_flow(tmp_path):
    assert load_config(EXAMPLE).matching_policy().refund_flow  # the example turns the flow on
    off = PipelineConfig()
    assert off.refunds is None and not off.matching_policy().refund_flow
    on = PipelineConfig.model_validate({"refunds": {"start_date": "2026-12-01"}, "customers": {"auto_create": True}})
    policy = on.matching_policy()
    assert policy.refund_flow and policy.auto_create_customers


def test_a_missing_file_says_which_variable_points_to_it(tmp_path):
    with pytest.raises(ConfigError, match="SAGE_PAYTRACE_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_missing_environment_variables_are_all_named():
    with pytest.raises(ConfigError) as caught:
        require_environment({"PAYTRACE_API_URL": "http://127.0.0.1:8765", "PAYTRACE_USERNAME": "u"})
    message = str(caught.value)
    for name in ("PAYTRACE_PASSWORD", "SAGE100_DATABASE", "SAGE_PAYTRACE_WAREHOUSE", "SAGE_PAYTRACE_CONFIG"):
        assert name in message
    assert "PAYTRACE_USERNAME" not in message


def test_an_operator_link_is_added_keeping_the_rest_of_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    add_customer_link(path, "CUST000021", "01-harb0321")
    config = add_customer_link(path, "CUST000022", "01-ABC")
    assert config.customer_links == {"CUST000021": "01-HARB0321", "CUST000022": "01-ABC"}
    assert load_config(path) == config
    assert "# sage-paytrace-pipeline configuration" in path.read_text()  # comments survive


def test_a_bad_link_leaves_the_file_untouched_and_names_the_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    before = path.read_text()
    with pytest.raises(ConfigError, match=r"config.yaml: customer_links: .*DIVISION-CUSTOMERNO"):
        add_customer_link(path, "CUST000021", "1-ABC")
    assert path.read_text() == before and not list(tmp_path.glob("*.new"))


def test_the_documented_alerts_example_loads_once_uncommented():
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# alerts:")
    block = [line[2:] for line in lines[start:] if line.startswith("# ") or line == "#"]
    config = load_config_text("\n".join(block))
    assert config.alerts.email.to[0] == "accounts-receivable@example.com"
    assert config.alerts.email.password_env == "SAGE_PAYTRACE_SMTP_PASSWORD"
    assert config.alerts.slack.webhook_url_env == "SAGE_PAYTRACE_SLACK_WEBHOOK_URL"


def test_alert_webhooks_default_to_their_documented_variables():
    config = load_config_text("alerts:\n  slack: {}\n  teams: {}\n")
    assert config.alerts.slack.webhook_url_env == "SAGE_PAYTRACE_SLACK_WEBHOOK_URL"
    assert config.alerts.teams.webhook_url_env == "SAGE_PAYTRACE_TEAMS_WEBHOOK_URL"
    assert config.alerts.email is None and load_config(EXAMPLE).alerts is None


def load_config_text(text: str):
    return PipelineConfig.model_validate(yaml.safe_load(text))


def test_one_currency_is_the_default_and_converts_nothing():
    config = load_config(EXAMPLE)
    assert (config.currency.paytrace, config.currency.sage, config.currency.converts) == ("USD", "USD", False)


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("currency:\n  paytrace: USD\n  sage: CAD\n  rate_file: r.csv\n", "currency.rate_file: unknown key"),
    ("currency:\n  sage: cad\n", "currency.sage: String should match pattern"),
    ("currency:\n  paytrace: USD\n  sage: CAD\n",
     "set rates_file and exchange_difference_account"),
    ("currency:\n  paytrace: USD\n  sage: CAD\n  rates_file: r.csv\n  exchange_difference_account: 'x y'\n",
     "'x y' is not a Sage account"),
])
def test_currency_mistakes_name_their_key(tmp_path, yaml_text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=r"config\.yaml") as error:
        load_config(path)
    assert expected in str(error.value)


@pytest.mark.parametrize("marker", ["none", "card_payment_type"])
def test_a_conversion_takes_both_refund_directions_and_the_store(tmp_path, marker):
    path = tmp_path / "config.yaml"
    path.write_text("currency:\n  paytrace: USD\n  sage: CAD\n  rates_file: r.csv\n"
                    f"  exchange_difference_account: 7950-00\nrefunds:\n  request_marker: {marker}\nstore: {{}}\n")
    config = load_config(path)
    assert config.currency.converts and config.refunds is not None and config.refunds.request_marker == marker
    assert config.store is not None


def test_a_conversion_takes_the_dispute_flow(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("currency:\n  paytrace: USD\n  sage: CAD\n  rates_file: r.csv\n"
                    "  exchange_difference_account: 7950-00\ndisputes:\n  reopen_invoice: true\n")
    config = load_config(path)
    assert config.currency.converts and config.disputes is not None and config.disputes.reopen_invoice


def test_a_conversion_reads_its_rates_file_beside_the_config(tmp_path):
    from sage_paytrace_pipeline.config import rates_file

    path = tmp_path / "config.yaml"
    path.write_text("currency:\n  paytrace: USD\n  sage: CAD\n  rates_file: rates.csv\n"
                    "  exchange_difference_account: 7950-00\n")
    config = load_config(path)
    assert config.currency.converts and rates_file(config, path) == tmp_path / "rates.csv"
    assert rates_file(load_config(EXAMPLE), EXAMPLE) is None


def test_the_documented_currency_example_loads_once_uncommented(tmp_path):
    text = EXAMPLE.read_text()
    block = text[text.index("# currency:"):text.index("customer_links: {}")]
    uncommented = "\n".join(line[2:] if line.startswith("#") else line for line in block.splitlines())
    path = tmp_path / "config.yaml"
    path.write_text(uncommented)
    config = load_config(path)
    assert (config.currency.paytrace, config.currency.sage, config.currency.max_rate_age_days) == ("USD", "CAD", 4)
    assert config.currency.exchange_difference_account == "7950-00"
