"""The Sage 100 tests' demo company fixtures (a generated company made once, copied per test)."""

from sage_paytrace_pipeline.definitions import defs
from sage_paytrace_pipeline_tests.sage100.conftest import (  # noqa: F401 (fixtures)
    company,
    company_template,
    writer,
)

# The definitions read the config once per process, when first loaded (partitions, schedules). Load
# them now, before a campaign points SAGE_PAYTRACE_CONFIG at its own file, so that the tests that run
# after it in this process see the same definitions as when they run alone.
defs()
