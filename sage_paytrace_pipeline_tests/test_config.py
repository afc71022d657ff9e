"""The YAML configuration: the example works, and every mistake names its key and the fix."""

from pathlib import Path

import pytest

from sage_paytrace_pipeline.config import ConfigError, add_customer_link, load_config, require_environment

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
    ],
)
def test_mistakes_are_reported_with_their_key_path(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value)


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
