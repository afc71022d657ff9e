"""The demo company fixtures of the Sage 100 tests (a generated company made once, copied per test)."""

from sage_paytrace_pipeline_tests.sage100.conftest import (  # noqa: F401 (fixtures)
    company,
    company_template,
    writer,
)
