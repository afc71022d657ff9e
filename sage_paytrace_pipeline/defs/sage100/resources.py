"""The Sage 100 resource: a demo company file or an ODBC connection string, and the site's writer.

Reads go through `Sage100Reader` (the SQLite file or ODBC, by the form of `database`). Writes go
through the writer the site names in `sage.writer` (config.py), found by its entry point
(sage100/writers.py): `demo_company` writes the demo company file directly, `visual_integrator`
writes import files to `vi_folder` for Sage's VI jobs, confirmed by the next run's read-back.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from sage_paytrace_pipeline.sage100.reader import Sage100Reader, is_odbc_connection_string
from sage_paytrace_pipeline.sage100.schema import Sage100Schema
from sage_paytrace_pipeline.sage100.writer import Sage100Writer
from sage_paytrace_pipeline.sage100.writers import DEFAULT_WRITER, WriterTarget, open_writer

__all__ = ["SAGE_WRITE_RETRY", "Sage100Resource", "is_odbc_connection_string"]

# Steps that write to Sage retry a failure (a lost session, a locked file, a warehouse lock): a
# retry starts with the look-up of what Sage already holds, so it never writes anything twice.
# A document Sage refuses is an exception row, not a failure, so it is not retried blindly.
SAGE_WRITE_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL,
                                  jitter=dg.Jitter.PLUS_MINUS)


class Sage100Resource(dg.ConfigurableResource):
    """Sage 100 company. `database` comes from SAGE100_DATABASE (it may hold an ODBC password)."""

    database: str = Field(description="demo company file, or an ODBC connection string")
    names: dict[str, str] = Field(default_factory=dict, description="site corrections of uncertain Sage names")
    posting: Literal["post", "entry"] = Field("post", description="post: update the journal; entry: leave for review")
    writer: str = Field(DEFAULT_WRITER, description="sage.writer: demo_company or visual_integrator (entry point name)")
    vi_folder: str = Field("", description="Visual Integrator import folder (SAGE100_VI_FOLDER)")

    def sage_schema(self) -> Sage100Schema:
        return Sage100Schema(self.names)

    def reader(self) -> Sage100Reader:
        if is_odbc_connection_string(self.database):
            return Sage100Reader.for_odbc(self.database, schema=self.sage_schema())
        return Sage100Reader.for_sqlite(self.database, schema=self.sage_schema())

    def writer_target(self) -> WriterTarget:
        return WriterTarget(database=self.database, schema=self.sage_schema(), posting=self.posting,
                            vi_folder=self.vi_folder, reader=self.reader)

    def open_writer(self) -> Sage100Writer:
        """The writer named by `writer` (sage.writer), opened on this company."""
        return open_writer(self.writer, self.writer_target())
