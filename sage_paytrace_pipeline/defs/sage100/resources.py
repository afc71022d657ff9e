"""The Sage 100 resource: a demo company file or an ODBC connection string, read-only."""

import dagster as dg
from pydantic import Field

from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.schema import Sage100Schema


def is_odbc_connection_string(database: str) -> bool:
    """`DSN=SOTAMAS90;...` or `Driver={...};...` rather than a file path."""
    head = database.strip().split("=", 1)[0].strip().lower()
    return "=" in database and head in ("dsn", "driver", "filedsn")


class Sage100Resource(dg.ConfigurableResource):
    """Sage 100 company. `database` comes from SAGE100_DATABASE (it may hold an ODBC password)."""

    database: str = Field(description="demo company file, or an ODBC connection string")
    names: dict[str, str] = Field(default_factory=dict, description="site corrections of uncertain Sage names")

    def reader(self) -> Sage100Reader:
        schema = Sage100Schema(self.names)
        if is_odbc_connection_string(self.database):
            return Sage100Reader.for_odbc(self.database, schema=schema)
        return Sage100Reader.for_sqlite(self.database, schema=schema)
