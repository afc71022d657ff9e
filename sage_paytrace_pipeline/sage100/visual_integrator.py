"""Visual Integrator (VI) import files for Sage 100: the writer, the layouts and the demo import.

For sites that import with VI jobs on Sage's scheduler instead of BOI (reference/sage100.md §5.4):

- `VisualIntegratorWriter(folder, reader)` implements `Sage100Writer` by writing one CSV per
  operation plus a manifest per batch (`flush`), and later confirms each document by reading it
  back through the reader (`confirm`). See vi_writer.py.
- The CSV layouts, the file conventions (dates, amounts, formula-injection guard, record types)
  and the manifest are documented in vi_layouts.py, the one place both sides use.
- `import_visual_integrator_folder(folder, db_path)` does what the VI jobs would do, on the demo
  company, through `DemoCompanyWriter`; the round-trip test proves that importing the files gives
  the same company as calling the demo writer directly. See vi_import.py.
"""

from __future__ import annotations

from sage_paytrace_pipeline.sage100.vi_import import ImportReport, RefusedItem, import_visual_integrator_folder
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
    "ImportReport",
    "Layout",
    "RefusedItem",
    "SalesOrderInvoice",
    "VisualIntegratorError",
    "VisualIntegratorFileError",
    "VisualIntegratorWriter",
    "import_visual_integrator_folder",
]
