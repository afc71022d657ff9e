from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from sage_paytrace_pipeline.config import PipelineConfig, dispute_report_folder, load_config


def test_off_by_default_and_read_from_yaml(tmp_path):
    assert PipelineConfig().disputes is None
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"disputes": {"case_fee": 15.1, "csv": {"case_number_column": "Case #",
                                                                          "date_format": "%Y-%m-%d"}}}))
    config = load_config(path)
    assert config.disputes is not None
    assert config.disputes.case_fee == Decimal("15.10")  # exact, not a float
    assert config.disputes.csv.case_number_column == "Case #"
    assert dispute_report_folder(config, path) == tmp_path / "dispute_reports"


@pytest.mark.parametrize("bad", [{"case_fee": "1.234"}, {"chargeback_account": "1250"}, {"csv": {"nope": 1}},
                                 {"warn_days_before_due": -1}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        PipelineConfig.model_validate({"disputes": bad})
