"""Jobs: the daily pass over one business day."""

import dagster as dg

paytrace_daily_job = dg.define_asset_job(
    "paytrace_daily_job",
    selection=dg.AssetSelection.groups("paytrace", "sage100", "receivables", "refunds", "customers", "anomalies")
    | dg.AssetSelection.assets("paytrace_settlement_batches", "paytrace_batch_transactions"),
    description="Read the business day's PayTrace activity, sync vault profiles and Sage customers (when "
                "customers.sync is on), read the Sage snapshot, match the payments, post them "
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

customer_sync_job = dg.define_asset_job(
    "customer_sync_job",
    selection=dg.AssetSelection.assets("paytrace_customers") | dg.AssetSelection.groups("customers"),
    description="Read the PayTrace vault and sync it with Sage's customers and saved cards, both ways (started by "
                "customer_sync_sensor when Sage's customers or the vault change).",
    tags={"dagster/max_retries": 1},
)

disputes_job = dg.define_asset_job(
    "disputes_job",
    selection=dg.AssetSelection.groups("disputes"),
    description="Load new dispute reports, rebuild the cases, post each case stage's GL entry once and send the "
                "deadline alerts.",
)
