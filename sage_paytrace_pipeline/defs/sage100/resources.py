"""The Sage 100 resource: a demo company file or an ODBC connection string.

Reads go through `Sage100Reader` (SQLite file or ODBC). Writes go to the demo company directly,
or, for a real company (ODBC), into Visual Integrator import files in `vi_folder`, which Sage's
VI jobs import; the next run's read-back confirms them.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from sage_paytrace_pipeline.sage100.demo_writer import DemoCompanyWriter
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.schema import Sage100Schema
from sage_paytrace_pipeline.sage100.vi_writer import VisualIntegratorWriter
from sage_paytrace_pipeline.sage100.writer import Sage100Writer

# Steps that write to Sage retry a failure (a lost session, a locked file, a warehouse lock): a
# retry starts with the look-up of what Sage already holds, so it never writes anything twice.
# A document Sage refuses is an exception row, not a failure, so it is not retried blindly.
SAGE_WRITE_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL,
                                  jitter=dg.Jitter.PLUS_MINUS)


def is_odbc_connection_string(database: str) -> bool:
    """`DSN=SOTAMAS90;...` or `Driver={...};...` rather than a file path."""
    head = database.strip().split("=", 1)[0].strip().lower()
    return "=" in database and head in ("dsn", "driver", "filedsn")


class Sage100Resource(dg.ConfigurableResource):
    """Sage 100 company. `database` comes from SAGE100_DATABASE (it may hold an ODBC password)."""

    database: str = Field(description="demo company file, or an ODBC connection string")
    names: dict[str, str] = Field(default_factory=dict, description="site corrections of uncertain Sage names")
    posting: Literal["post", "entry"] = Field("post", description="post: update the journal; entry: leave for review")
    vi_folder: str = Field("", description="Visual Integrator import folder (SAGE100_VI_FOLDER), for ODBC companies")

    def schema(self) -> Sage100Schema:
        return Sage100Schema(self.names)

    def reader(self) -> Sage100Reader:
        if is_odbc_connection_string(self.database):
            return Sage100Reader.for_odbc(self.database, schema=self.schema())
        return Sage100Reader.for_sqlite(self.database, schema=self.schema())

    def writer(self) -> Sage100Writer:
        """The demo company's writer, or Visual Integrator files for a real company."""
        if not is_odbc_connection_string(self.database):
            return DemoCompanyWriter(self.database, posting=self.posting, schema=self.schema())
        if not self.vi_folder:
            raise ValueError("SAGE100_DATABASE is an ODBC connection: set SAGE100_VI_FOLDER to the folder "
                             "Sage's Visual Integrator jobs import from")
        return VisualIntegratorWriter(self.vi_folder, self.reader())
