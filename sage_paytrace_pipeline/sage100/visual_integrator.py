"""Visual Integrator (VI) import files for Sage 100: the writer and the layouts.

For sites that import with VI jobs on Sage's scheduler instead of BOI (reference/sage100.md §5.4):

- `VisualIntegratorWriter(folder, reader)` implements `Sage100Writer` by writing one CSV per
  operation plus a manifest per batch (`flush`), and later confirms each document by reading it
  back through the reader (`confirm`). See vi_writer.py.
- The CSV layouts, the file conventions (dates, amounts, formula-injection guard, record types)
  and the manifest are documented in vi_layouts.py, the one place both sides use.
- What the VI jobs would do, played on the demo company, is a stand-in:
  `import_visual_integrator_folder` in sandbox/sage100/vi_import.py.
"""

from __future__ import annotations

from sage_paytrace_pipeline.sage100.vi_layouts import (
    LAYOUTS,
    Layout,
    SalesOrderInvoice,
    VisualIntegratorError,
    VisualIntegratorFileError,
)
from sage_paytrace_pipeline.sage100.vi_writer import CONFIRMED, PENDING, VisualIntegratorWriter

__all__ = [
    "CONFIRMED",
    "LAYOUTS",
    "PENDING",
    "Layout",
    "SalesOrderInvoice",
    "VisualIntegratorError",
    "VisualIntegratorFileError",
    "VisualIntegratorWriter",
]
