"""Which Sage writer a site uses is the setting sage.writer, resolved through entry points; every
setting that cannot work fails with one line that says what to set."""

import re
from pathlib import Path

import pytest

from sage_paytrace_pipeline.config import ConfigError, load_config
from sage_paytrace_pipeline.defs.sage100.resources import Sage100Resource
from sage_paytrace_pipeline.sage100.errors import Sage100ConfigurationError
from sage_paytrace_pipeline.sage100.vi_writer import VisualIntegratorWriter
from sage_paytrace_pipeline.sage100.writers import available_writers
from sage_paytrace_pipeline.sandbox.sage100.company.writer import DemoCompanyWriter

ODBC = "DSN=SOTAMAS90;UID=ops;PWD=secret;Company=ABC"


def test_both_writers_are_registered_and_the_demo_company_is_the_default(company):
    assert available_writers() == ["demo_company", "visual_integrator"]
    writer = Sage100Resource(database=str(company), posting="entry").open_writer()
    assert type(writer) is DemoCompanyWriter and writer.posting == "entry"


def test_visual_integrator_writes_files_to_its_folder_and_reads_the_company_back(company, tmp_path):
    resource = Sage100Resource(database=str(company), writer="visual_integrator", vi_folder=str(tmp_path / "vi"))
    writer = resource.open_writer()
    assert isinstance(writer, VisualIntegratorWriter) and writer.folder == tmp_path / "vi"
    assert writer.reader.source == f"demo company {company}"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"writer": "boi"}, "sage.writer: unknown Sage writer 'boi'; available: demo_company, visual_integrator"),
        ({"database": ODBC}, "sage.writer is demo_company but SAGE100_DATABASE is an ODBC connection string"),
        ({"database": ODBC, "writer": "visual_integrator"},
         "sage.writer is visual_integrator: set SAGE100_VI_FOLDER to the folder"),
    ],
)
def test_a_writer_that_cannot_work_fails_with_one_line(company, settings, message):
    resource = Sage100Resource(**{"database": str(company), **settings})
    with pytest.raises(Sage100ConfigurationError) as raised:
        resource.open_writer()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert "secret" not in str(raised.value)


def test_an_unknown_writer_in_the_config_fails_at_load_with_its_key(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("sage:\n  writer: boi\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("sage.writer: Value error, unknown Sage writer 'boi'; available: "
                                                    "demo_company, visual_integrator")):
        load_config(path)
    path.write_text("sage:\n  writer: visual_integrator\n", encoding="utf-8")
    assert load_config(path).sage.writer == "visual_integrator"
