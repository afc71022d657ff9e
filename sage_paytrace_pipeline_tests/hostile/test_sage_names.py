"""Hostile customer names through the Visual Integrator files into Sage: bidi and control characters
gone, formula starts neutralised in Sage's field and once more in the CSV, card numbers masked, Sage's
width kept, everything else literal after the import."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from sage_paytrace_pipeline.sage100.documents import CustomerRecord
from sage_paytrace_pipeline.sage100.visual_integrator import VisualIntegratorWriter
from sage_paytrace_pipeline.sandbox.sage100.vi_import import import_visual_integrator_folder
from sage_paytrace_pipeline_tests.hostile.corpus import LONG, load
from sage_paytrace_pipeline_tests.sage100.conftest import company_template  # noqa: F401 - fixture
from sage_paytrace_pipeline_tests.sage100.writer_support import NOW, query

CASES = load("sage_customer_names.json")


def expanded(text: str) -> str:
    return "x" * int(text[len(LONG):]) if text.startswith(LONG) else text


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_hostile_name_is_safe_in_the_file_and_in_sage(case, company_template, tmp_path):  # noqa: F811
    company = tmp_path / "company.db"
    shutil.copy(company_template, company)
    folder = tmp_path / "vi"
    writer = VisualIntegratorWriter(folder, None, clock=lambda: NOW)
    writer.upsert_customer(CustomerRecord(reference="hostile-1", division="01", name=expanded(case.data["input"])))
    writer.flush()
    [file] = [path for path in folder.glob("*.csv") if "ar_customers" in path.name]
    header, row = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8"))))
    assert dict(zip(header, row))["CustomerName"] == expanded(case.expect["cell"])
    assert import_visual_integrator_folder(folder, company, clock=lambda: NOW).refused == []
    stored = query(company, "SELECT CustomerName FROM AR_Customer WHERE UDF_PAYTRACE_REF = 'hostile-1'")
    assert stored == [(expanded(case.expect["stored"]),)]
