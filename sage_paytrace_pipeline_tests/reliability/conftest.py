"""The Sage 100 tests' demo company fixtures (a generated company made once, copied per test)."""

from sage_paytrace_pipeline_tests.sage100.conftest import (  # noqa: F401 (fixtures)
    company,
    company_template,
    writer,
)
