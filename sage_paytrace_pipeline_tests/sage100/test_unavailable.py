"""A company that cannot be read now (locked, link lost, ODBC login failing): one sentence, never a password."""

from __future__ import annotations

import sqlite3
import time

import pytest

from sage_paytrace_pipeline.sage100.errors import Sage100ConnectionError
from sage_paytrace_pipeline.sage100.reader import Sage100Reader, describe_connection_string


def test_a_locked_demo_company_says_it_is_locked_within_the_busy_timeout(company):
    holder = sqlite3.connect(company)
    holder.execute("BEGIN EXCLUSIVE")  # another program in the middle of a write
    try:
        started = time.monotonic()
        with pytest.raises(Sage100ConnectionError) as caught:
            Sage100Reader.for_sqlite(company).customers()
        assert time.monotonic() - started < 10  # SQLite's 5 s busy timeout, no retry loop
    finally:
        holder.rollback()
        holder.close()
    assert str(caught.value).startswith(f"demo company {company} is locked by another program (database is locked)")
    assert "run again" in str(caught.value)
    assert Sage100Reader.for_sqlite(company).customers()  # released: readable again


def test_a_lost_odbc_link_names_the_dsn_and_masks_the_password():
    connection_string = "DSN=SOTAMAS90;UID=ops;PWD=hunter2;COMPANY=ABC"

    class DroppedLink:
        def cursor(self):
            return self

        def execute(self, sql, params):
            raise RuntimeError(f"[08S01] Communication link failure ({connection_string})")

        def close(self):
            pass

    reader = Sage100Reader(DroppedLink, source=describe_connection_string(connection_string))
    with pytest.raises(Sage100ConnectionError) as caught:
        reader.customers()
    assert str(caught.value).startswith("lost the connection to ODBC DSN SOTAMAS90, company ABC ([08S01]")
    assert "hunter2" not in str(caught.value)


def test_an_odbc_login_failure_names_the_dsn_without_the_password():
    connection_string = "DSN=SOTAMAS90;UID=ops;PWD=hunter2;COMPANY=ABC"

    def refuse():
        raise RuntimeError(f"[28000] login failed for {connection_string}")

    reader = Sage100Reader(refuse, source=describe_connection_string(connection_string))
    with pytest.raises(Sage100ConnectionError) as caught:
        reader.customers()
    assert str(caught.value).startswith("cannot connect to ODBC DSN SOTAMAS90, company ABC: [28000] login failed")
    assert "hunter2" not in str(caught.value)
