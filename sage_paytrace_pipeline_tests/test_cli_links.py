"""`sage-paytrace link add|remove|list`: every link is checked in Sage and never replaced by accident."""

from pathlib import Path

import pytest

from sage_paytrace_pipeline.cli import main
from sage_paytrace_pipeline.config import load_config
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sandbox.sage100.generator import create_demo_company

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
README = Path(__file__).resolve().parents[1] / "README.md"
README_CUSTOMER = "01-BAYV0067"  # the README's example: a customer `sage-paytrace demo` (seed 7) creates


@pytest.fixture(scope="module")
def demo_company(tmp_path_factory) -> Path:
    """The demo's Sage company: `sage-paytrace demo` uses seed 7 and its random customers come first."""
    return Path(create_demo_company(tmp_path_factory.mktemp("sage") / "sage.sqlite3", seed=7).db_path)


@pytest.fixture
def config(tmp_path, monkeypatch, demo_company) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text())
    monkeypatch.setenv("SAGE100_DATABASE", str(demo_company))
    monkeypatch.setenv("SAGE_PAYTRACE_CONFIG", str(path))
    return path


def test_the_readme_links_a_customer_the_demo_company_has(demo_company):
    assert f"link add CUST000021 {README_CUSTOMER}" in README.read_text()
    division, _, number = README_CUSTOMER.partition("-")
    customer = Sage100Reader.for_sqlite(demo_company).customer(division, number)
    assert customer is not None and customer.status == "A"


def test_a_link_to_an_active_customer_is_written_with_its_name(config, capsys):
    assert main(["link", "add", "CUST000021", README_CUSTOMER.lower()]) == 0
    assert f"linked CUST000021 -> {README_CUSTOMER} Bayview Veterinary Group" in capsys.readouterr().out
    assert load_config(config).customer_links == {"CUST000021": README_CUSTOMER}
    assert main(["link", "add", "CUST000021", README_CUSTOMER]) == 0, "the same link again is fine"


@pytest.mark.parametrize(("customer", "message"), [
    ("01-WRONGNO", "Sage customer 01-WRONGNO does not exist in division 01"),
    ("01-BAYV0284", "Sage customer 01-BAYV0284 (Bayview"),  # inactive in the demo company
    ("1-ABC", "link to a Sage customer as DIVISION-CUSTOMERNO"),
])
def test_a_missing_or_inactive_customer_is_refused_in_one_line(config, capsys, customer, message):
    before = config.read_text()
    assert main(["link", "add", "NEWCO-7781", customer]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")
    assert config.read_text() == before


def test_an_existing_link_is_replaced_only_with_replace(config, capsys):
    assert main(["link", "add", "CUST000021", README_CUSTOMER]) == 0
    assert main(["link", "add", "CUST000021", "01-BAYV0084"]) == 1
    err = capsys.readouterr().err
    assert f"CUST000021 is already linked to {README_CUSTOMER}; pass --replace" in err
    assert load_config(config).customer_links == {"CUST000021": README_CUSTOMER}
    assert main(["link", "add", "CUST000021", "01-BAYV0084", "--replace"]) == 0
    assert f"(was {README_CUSTOMER})" in capsys.readouterr().out
    assert load_config(config).customer_links == {"CUST000021": "01-BAYV0084"}


def test_a_link_is_removed_and_an_unknown_one_is_refused(config, capsys):
    assert main(["link", "add", "CUST000021", README_CUSTOMER]) == 0
    assert main(["link", "add", "CUST000022", "01-BAYV0084"]) == 0
    assert main(["link", "remove", "CUST000021"]) == 0
    assert f"removed the link CUST000021 -> {README_CUSTOMER}" in capsys.readouterr().out
    assert load_config(config).customer_links == {"CUST000022": "01-BAYV0084"}
    assert main(["link", "remove", "CUST000022"]) == 0
    assert load_config(config).customer_links == {}
    assert main(["link", "remove", "CUST000022"]) == 1
    assert "no link for CUST000022" in capsys.readouterr().err
    assert main(["link", "list"]) == 0 and capsys.readouterr().out == ""


def test_a_link_without_a_sage_company_names_the_variable(config, capsys, monkeypatch):
    monkeypatch.delenv("SAGE100_DATABASE")
    assert main(["link", "add", "CUST000021", README_CUSTOMER]) == 1
    assert "SAGE100_DATABASE" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["link", "list"], ["link", "add", "CUST000021", README_CUSTOMER],
                                     ["link", "remove", "CUST000021"],
                                     ["refunds", "request", "--transaction", "1", "--amount", "1.00", "--reason", "x"]])
def test_a_misspelled_key_is_one_line_from_every_command_that_reads_the_config(config, capsys, monkeypatch, command):
    config.write_text(config.read_text().replace("\nmerchant:", "\nmerchnat:", 1))
    monkeypatch.delenv("SAGE_PAYTRACE_DEBUG", raising=False)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err == f"error: {config}: merchnat: unknown key (check the spelling against config/example.yaml)\n"

    monkeypatch.setenv("SAGE_PAYTRACE_DEBUG", "1")
    with pytest.raises(ValueError, match="merchnat: unknown key"):
        main(command)
