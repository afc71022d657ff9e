"""Resources for tests that hand every resource to `dg.materialize` explicitly."""

from pathlib import Path

from sage_paytrace_pipeline.defs.settings import PipelineSettings

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def example_settings() -> PipelineSettings:
    """The documented example config, without the environment check (the test passes connections itself)."""
    return PipelineSettings(config_path=str(EXAMPLE_CONFIG), check_environment=False)
