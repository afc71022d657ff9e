"""Jobs: the daily pass over one business day."""

import dagster as dg

paytrace_daily_job = dg.define_asset_job(
    "paytrace_daily_job",
    selection=dg.AssetSelection.groups("paytrace", "sage100", "receivables", "refunds", "anomalies")
    | dg.AssetSelection.assets("paytrace_settlement_batches", "paytrace_batch_transactions"),
    description="Read the business day's PayTrace activity and the Sage snapshot, match the payments, post them "
                "as Sage cash receipts, send approved refund requests and record every refund and void in Sage, "
                "list every exception, and read the batches PayTrace closed that day.",
    tags={"dagster/max_retries": 1},
)

settlement_daily_job = dg.define_asset_job(
    "settlement_daily_job",
    selection=dg.AssetSelection.assets("settlement_reconciliation", "gl_journal_entries", "settlement_exceptions",
                                       "sage_gl_postings"),
    description="Reconcile the day's batches (read by the daily job) with the Sage receipts and the bank deposits, "
                "and post the journal entries that clear the deposited ones.",
    tags={"dagster/max_retries": 1},
)

bank_statements_job = dg.define_asset_job(
    "bank_statements_job",
    selection=dg.AssetSelection.assets("bank_deposits", "bank_statement_exceptions"),
    description="Load new bank statement files from the statement folder (each file once, by content hash).",
)
