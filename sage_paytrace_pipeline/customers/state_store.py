"""The sync's memory in the warehouse: links, every vault id seen, the agreed field values per
customer (the base of the three-way merge), the newest Sage change stamp read (the watermark), and
the profiles the fuzzy cascade could not place with the fingerprint of Sage's customers they were
tried against (so an unchanged unplaced profile is not re-matched every run).

Saved in one transaction after a run has carried its plan out, so a crash part-way leaves the
previous state and the next run plans again what is still different (every write is idempotent).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sage_paytrace_pipeline.domain.customer_sync import SyncState
from sage_paytrace_pipeline.domain.customer_sync.linking import UNMATCHED_COLUMNS
from sage_paytrace_pipeline.domain.customer_sync.plan import BASE_COLUMNS

SCHEMA = "pipeline"
LINKS, SEEN, BASE, WATERMARK, UNMATCHED, SAGE_FINGERPRINT = (
    f"{SCHEMA}.customer_sync_{name}" for name in ("links", "seen", "base", "watermark", "unmatched",
                                                  "sage_fingerprint"))
_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {LINKS} (vault_id VARCHAR PRIMARY KEY, division VARCHAR NOT NULL,
                                    customer_no VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS {SEEN} (vault_id VARCHAR PRIMARY KEY);
CREATE TABLE IF NOT EXISTS {BASE} ({", ".join(f"{c} VARCHAR NOT NULL" for c in BASE_COLUMNS)},
                                   PRIMARY KEY (division, customer_no));
CREATE TABLE IF NOT EXISTS {WATERMARK} (stamp TIMESTAMP);
CREATE TABLE IF NOT EXISTS {UNMATCHED} ({", ".join(f"{c} VARCHAR NOT NULL" for c in UNMATCHED_COLUMNS)},
                                        PRIMARY KEY (vault_id));
CREATE TABLE IF NOT EXISTS {SAGE_FINGERPRINT} (fingerprint VARCHAR NOT NULL);
"""


class SyncStateStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        connection.execute(_DDL)

    def load(self) -> SyncState:
        links = self.connection.execute(f"SELECT vault_id, division, customer_no FROM {LINKS} ORDER BY vault_id").df()
        seen = frozenset(self.connection.execute(f"SELECT vault_id FROM {SEEN}").df()["vault_id"].astype(str))
        base = self.connection.execute(f"SELECT {', '.join(BASE_COLUMNS)} FROM {BASE}").df()
        row = self.connection.execute(f"SELECT max(stamp) FROM {WATERMARK}").fetchone()
        watermark = pd.Timestamp(row[0]) if row and row[0] is not None else None
        unmatched = self.connection.execute(f"SELECT {', '.join(UNMATCHED_COLUMNS)} FROM {UNMATCHED}").df()
        fingerprint = self.connection.execute(f"SELECT max(fingerprint) FROM {SAGE_FINGERPRINT}").fetchone()
        return SyncState(links=links.astype(object), seen=seen, base=base.astype(object), watermark=watermark,
                         unmatched=unmatched.astype(object),
                         sage_fingerprint=str(fingerprint[0]) if fingerprint and fingerprint[0] else "")

    def save(self, state: SyncState) -> None:
        links = state.links.loc[:, ["vault_id", "division", "customer_no"]].astype(str)
        seen = pd.DataFrame({"vault_id": sorted(state.seen)}, dtype=object)
        base = state.base.loc[:, list(BASE_COLUMNS)].fillna("").astype(str)
        watermark = pd.DataFrame({"stamp": [state.watermark]})
        watermark["stamp"] = pd.to_datetime(watermark["stamp"])
        unmatched = state.unmatched.loc[:, list(UNMATCHED_COLUMNS)].fillna("").astype(str)
        fingerprint = pd.DataFrame({"fingerprint": [state.sage_fingerprint]} if state.sage_fingerprint else
                                   {"fingerprint": pd.Series(dtype=str)})
        self.connection.execute("BEGIN TRANSACTION")
        try:
            for table, frame in ((LINKS, links), (SEEN, seen), (BASE, base), (WATERMARK, watermark),
                                 (UNMATCHED, unmatched), (SAGE_FINGERPRINT, fingerprint)):
                self.connection.execute(f"DELETE FROM {table}")
                self.connection.register("incoming", frame)
                self.connection.execute(f"INSERT INTO {table} SELECT * FROM incoming")
                self.connection.unregister("incoming")
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def save_links(self, links: pd.DataFrame) -> None:
        """The links alone (right after creating customers, before the rest of the run)."""
        state = self.load()
        self.save(SyncState(links=links, seen=state.seen, base=state.base, watermark=state.watermark,
                            unmatched=state.unmatched, sage_fingerprint=state.sage_fingerprint))
