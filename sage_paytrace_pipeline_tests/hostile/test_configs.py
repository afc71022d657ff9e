"""Each hostile configuration fails at load with the key's path and what is allowed (never a crash, never
an echoed secret or card number), or loads when it is only odd."""

from __future__ import annotations

import pytest

from sage_paytrace_pipeline.config import ConfigError, PipelineConfig, load_config
from sage_paytrace_pipeline.domain.cards import find_card_numbers
from sage_paytrace_pipeline_tests.hostile.corpus import LONG, load

CASES = load("configs.json")


def text_of(case) -> str:
    return case.data["yaml"].replace(f'"{LONG}500"', '"' + "x" * 500 + '"')


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_wrong_config_is_refused_naming_the_key(case, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(text_of(case), encoding="utf-8")
    if case.expect["outcome"] == "ok":
        assert isinstance(load_config(path), PipelineConfig)
        return
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for phrase in case.expect["says"]:
        assert phrase in message, message
    for secret in case.expect.get("never", []):
        assert secret not in message, message
    assert find_card_numbers(message) == []
