"""One run of the dispute flow: load new reports, rebuild the cases, post what moved money, report problems.

Called by the `disputes` assets (defs/disputes/) and by tests; the deadline alerts are sent by the
sensor over the alert channels (deadlines.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.disputes.case_store import build_cases, save, warehouse_sales
from sage_paytrace_pipeline.disputes.posting import DisputeConversion, PostingLog, PostingOutcome, post_cases
from sage_paytrace_pipeline.disputes.report_store import FolderLoad, ReportStore, load_folder
from sage_paytrace_pipeline.domain.disputes.linking import EXCEPTIONS, link_exceptions
from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.sage100.writer import Sage100Writer


@dataclass(frozen=True)
class DisputeRun:
    load: FolderLoad
    stages: pd.DataFrame
    cases: pd.DataFrame
    posting: PostingOutcome | None
    exceptions: pd.DataFrame


def load_and_build(connection: duckdb.DuckDBPyConnection, config: PipelineConfig, folder: Path,
                   run_id: str) -> tuple[FolderLoad, pd.DataFrame, pd.DataFrame]:
    """New reports loaded; every case rebuilt from all loaded rows against the warehouse's sales and saved."""
    settings = config.disputes
    assert settings is not None, "disputes is not configured"
    store = ReportStore(connection)
    load = load_folder(folder, store, settings.csv, run_id)
    rows = store.rows()
    stages, cases = build_cases(rows, warehouse_sales(connection, set(rows["card_last4"])))
    save(connection, stages, cases)
    return load, stages, cases


def run_disputes(connection: duckdb.DuckDBPyConnection, config: PipelineConfig, folder: Path, writer: Sage100Writer,
                 *, as_of: date, run_id: str, reader: Sage100Reader | None = None,
                 conversion: DisputeConversion | None = None) -> DisputeRun:
    """`reader` (Sage) is needed with disputes.reopen_invoice: which receipts to reverse; `conversion`
    when PayTrace's currency is not Sage's (the entries in Sage's, disputes/posting.py)."""
    load, stages, cases = load_and_build(connection, config, folder, run_id)
    posting = post_cases(stages, config, writer, PostingLog(connection, run_id), as_of=as_of, cases=cases,
                         reader=reader, conversion=conversion) if len(stages) else None
    return DisputeRun(load, stages, cases, posting, EXCEPTIONS.concat([
        load.exceptions, link_exceptions(cases) if len(cases) else EXCEPTIONS.empty(), stage_exceptions(stages),
        posting.exceptions if posting else EXCEPTIONS.empty()]))


def stage_exceptions(stages: pd.DataFrame) -> pd.DataFrame:
    """A warning per stage that goes back in its case (a report row out of order, or a typo in the stage)."""
    if stages.empty:
        return EXCEPTIONS.empty()
    bad = stages[stages["out_of_order"]]
    return EXCEPTIONS.rows(
        "dispute_stage_out_of_order", "warning", None, size=len(bad),
        source_ids=(bad["source_file"] + ":" + bad["source_line"].astype(str)).to_numpy(dtype=object),
        problem=("case " + bad["case_number"] + ": " + bad["stage"] + " on " + bad["activity_date"].astype(str)
                 + " comes after a later stage of the case").to_numpy(dtype=object),
        action="check the stage with the processor; the case's money follows the stages in date order")
