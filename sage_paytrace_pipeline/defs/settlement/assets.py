"""Settlement: PayTrace batches, bank statements, batch <-> clearing <-> deposit reconciliation,
and the GL journal entries that clear each deposited batch, posted to Sage once.

Thin assets around `domain/settlement` (the decisions), `banking` (statement files) and the Sage
writer. A day's reconciliation looks at the batches of the lookback window too, so a deposit is
assigned to exactly one batch the same way whichever day is run; each day keeps its own rows.
"""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.banking import read_statement_folder
from sage_paytrace_pipeline.banking.store import StatementStore
from sage_paytrace_pipeline.config import statement_folder
from sage_paytrace_pipeline.defs.metadata import money_total, preview
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.assets import API_RETRY
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.settlement import checks
from sage_paytrace_pipeline.domain.settlement import (
    JournalPlan,
    SettlementPolicy,
    journal_entries,
    reconcile,
    to_journal_entries,
)
from sage_paytrace_pipeline.paytrace.frames import (
    batch_brands_frame,
    transactions_frame,
)
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.settlement_inputs import (
    account_map,
    batch_window,
    for_day,
    line_keys,
    lookback_days,
    not_configured_exception,
    parked_in_sage,
    text_columns,
)

OWNERS = ["team:finance"]
_LOAD_TIME = load_time_config()
LOOKBACK = lookback_days(_LOAD_TIME.settlement.deposit_window_business_days if _LOAD_TIME.settlement else 3)
_EXCEPTION_COLUMNS = ["kind", "severity", "batch_number", "source_ids", "problem", "action"]


def _out(description: str, *, partitioned: bool = True, kinds: set[str] | None = None,
         required: bool = True) -> dg.AssetOut:
    return dg.AssetOut(group_name="settlement", kinds=kinds or {"python", "duckdb"}, owners=OWNERS,
                       tags={"domain": "settlement"}, description=description, is_required=required,
                       metadata={"partition_expr": "business_date"} if partitioned else {})


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = text_columns(frame.reset_index(drop=True))
    frame.insert(0, "business_date", day)
    return frame


def _tie_out_policy(settings: PipelineSettings) -> SettlementPolicy:
    """The configured policy; batch tie-out does not depend on the discount method, so an
    unconfigured one does not stop reading batches."""
    return settings.config().settlement or SettlementPolicy(discount_method="daily")


@dg.multi_asset(
    outs={
        "paytrace_settlement_batches": _out("Batches PayTrace closed on the day, per brand, tied out against "
                                            "their transactions (summary vs detail counts and amounts)."),
        "paytrace_batch_transactions": _out("The transactions of each batch closed on the day."),
    },
    partitions_def=business_day_partitions,
    pool="duckdb",
    retry_policy=API_RETRY,
    can_subset=False,
    check_specs=[
        dg.AssetCheckSpec("batch_totals_equal_transactions", asset="paytrace_settlement_batches",
                          description="each batch's per-brand counts and amounts equal the sum of its transactions"),
        dg.AssetCheckSpec("settled_transaction_in_one_batch", asset="paytrace_batch_transactions",
                          description="every settled transaction is listed in exactly one batch"),
    ],
)
def settlement_batches(context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings):
    day = date.fromisoformat(context.partition_key)
    client = paytrace.get_client()
    batches = client.export_batches(day, day)  # one call for the day, then one per batch (not per transaction)
    exports = {batch.number: client.read_batch_transactions(batch.number) for batch in batches}
    # A record PayTrace sends malformed is left out (masked, named in the metadata): its batch then
    # does not tie out, so its entry is held and the tie-out says which batch and brand to check.
    rejected = [f"batch {number}: {record.describe()}" for number, export in exports.items() for record in export.rejected]
    for problem in rejected:
        context.log.warning("PayTrace batch record left out: %s", problem)
    transactions = _with_brands(client, transactions_frame(
        [record for export in exports.values() for record in export.transactions], day))
    brands = batch_brands_frame(batches, day)
    recon = reconcile(_batch_input(brands), transactions, _no_receipts(), _no_deposits(), _tie_out_policy(settings), day)
    summary = brands.merge(recon.tie_out, on=["batch_number", "brand"], how="left")
    yield dg.Output(text_columns(summary), output_name="paytrace_settlement_batches", metadata={
        "batches": len(batches), "sales": money_total(brands["sales_cents"]), "refunds": money_total(brands["refund_cents"]),
        "rejected_records": dg.MetadataValue.json(rejected),
        "preview": preview(summary, ["batch_number", "brand", "sales_count", "sales_cents", "refund_cents"]),
    })
    yield dg.Output(transactions, output_name="paytrace_batch_transactions", metadata={"transactions": len(transactions)})
    yield checks.batch_totals_equal_transactions(recon.tie_out)
    yield checks.settled_transaction_in_one_batch(transactions)


def _with_brands(client, transactions: pd.DataFrame) -> pd.DataFrame:
    """Card brands for batch transactions. PayTrace's batch listing masks the whole number, so the
    brand (which the tie-out and the per-brand clearing need) comes from the transaction export
    with the BIN: one call covering the days the batch's transactions were created."""
    unknown = transactions["card_brand"].isna() | transactions["card_brand"].isin(["", "UNKNOWN"])
    if not unknown.any():
        return transactions
    created = transactions.loc[unknown, "created_at"].dropna().dt.tz_convert(client.zone).dt.date
    if created.empty:
        return transactions
    export = client.read_transactions(created.min(), created.max(), include_bin=True)  # bad records: no brand
    brands = {record.transaction_id: record.card.brand for record in export.transactions if record.card}
    found = transactions["transaction_id"].map(brands)
    return transactions.assign(card_brand=transactions["card_brand"].where(~unknown | found.isna(), found))


def _batch_input(brands: pd.DataFrame) -> pd.DataFrame:
    frame = brands.assign(closed_date=pd.to_datetime(brands["business_date"]).dt.date)
    return frame[["batch_number", "closed_date", "brand", "sales_count", "sales_cents", "refund_count", "refund_cents"]]


def _no_receipts() -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": pd.Series(dtype="int64"), "amount_cents": pd.Series(dtype="int64"),
                         "payment_type": pd.Series(dtype=object), "state": pd.Series(dtype=object)})


def _no_deposits() -> pd.DataFrame:
    return pd.DataFrame({"source_file": pd.Series(dtype=object), "source_line": pd.Series(dtype="int64"),
                         "account_id": pd.Series(dtype=object), "posted_date": pd.Series(dtype=object),
                         "amount_cents": pd.Series(dtype="int64"), "type_code": pd.Series(dtype=object),
                         "bank_reference": pd.Series(dtype=object), "description": pd.Series(dtype=object)})


@dg.multi_asset(
    outs={
        "bank_deposits": _out("Every bank statement line loaded from the statement folder (BAI2, OFX/QFX, CSV), "
                              "each file once by content hash.", partitioned=False),
        "bank_statement_exceptions": _out("Statement files that could not be read: file, line, what is wrong, "
                                          "how to fix it. Nothing of such a file is loaded.", partitioned=False),
    },
    pool="duckdb",
    can_subset=False,
)
def bank_statements(context: dg.AssetExecutionContext, settings: PipelineSettings, warehouse: DuckDBResource):
    config = settings.config()
    folder = statement_folder(config, settings.config_path)
    folder.mkdir(parents=True, exist_ok=True)
    with warehouse.get_connection() as connection:
        store = StatementStore(connection)
        scan = read_statement_folder(folder, seen_hashes=store.seen_hashes(), csv_format=config.bank.csv)
        for statement in scan.loaded:
            store.add(statement, context.run.run_id)
        lines = store.lines()
    errors = pd.DataFrame({
        "file": pd.Series([error.path.name if error.path else "" for error in scan.errors], dtype="string"),
        "line": pd.Series([error.line for error in scan.errors], dtype="Int64"),
        "problem": pd.Series([error.problem for error in scan.errors], dtype="string"),
        "action": pd.Series([error.fix for error in scan.errors], dtype="string"),
    })
    yield dg.Output(lines, output_name="bank_deposits", metadata={
        "files_loaded_now": len(scan.loaded), "files_already_loaded": len(scan.skipped), "lines": len(lines),
        "credits": money_total(lines.loc[lines["amount_cents"] > 0, "amount_cents"]), "folder": str(folder),
    })
    yield dg.Output(errors, output_name="bank_statement_exceptions", metadata={
        "files_refused": len(errors),
        "preview": preview(errors, ["file", "line", "problem", "action"]),
    })


def _window_in(key: str) -> dg.AssetIn:
    """Batches closed up to LOOKBACK days before the day and after it: later batches' deposits compete
    for the same bank lines, so each line goes to one batch only. The daily job reads each day's
    batches the night they close, so a morning's settlement run has every batch up to yesterday."""
    return dg.AssetIn(key, partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-LOOKBACK, end_offset=LOOKBACK, allow_nonexistent_upstream_partitions=True))


@dg.multi_asset(
    outs={
        # Not materialized (and nothing posted downstream) while settlement is not configured.
        "settlement_reconciliation": _out("Each batch's expected deposits (per funding group) matched to a bank "
                                          "line, with method, fee and variance; status matched/short/over/pending/missing.",
                                          required=False),
        "gl_journal_entries": _out("Balanced journal lines that clear each deposited batch (Dr bank, Dr fees, "
                                   "Dr refunds, Cr card clearing per brand) and fee/chargeback debits.", required=False),
        "settlement_exceptions": _out("Missing or short deposits, unposted batch transactions, transactions in no "
                                      "batch, unmapped GL accounts: what is wrong and what fixes it."),
    },
    ins={"batches": _window_in("paytrace_settlement_batches"),
         "batch_transactions": _window_in("paytrace_batch_transactions"),
         "bank_deposits": dg.AssetIn("bank_deposits")},
    # The day's receipts are posted first when both run together (e.g. `--select '*'`): a sale of the
    # day's batch is then a confirmed receipt, not parked as unposted. Read from the posting log.
    deps=["sage_cash_receipts"],
    partitions_def=business_day_partitions,
    pool="duckdb",
    can_subset=False,
    check_specs=[dg.AssetCheckSpec("journals_balance", asset="gl_journal_entries",
                                   description="every journal entry's debits equal its credits")],
)
def settlement_reconciliation(
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource, warehouse: DuckDBResource,
    batches: pd.DataFrame, batch_transactions: pd.DataFrame, bank_deposits: pd.DataFrame,
):
    day = date.fromisoformat(context.partition_key)
    config = settings.config()
    if config.settlement is None:  # a receivables-only deployment: say so, guess nothing, post nothing
        yield from _settlement_not_configured(day)
        return
    policy = config.settlement
    first, last = batch_window(day, policy.deposit_window_business_days)
    batches = batches.assign(business_date=pd.to_datetime(batches["business_date"]).dt.date)
    batches = batches[batches["business_date"].between(first, last)]
    transactions = batch_transactions[batch_transactions["batch_number"].isin(batches["batch_number"])]
    receipts = _posted_receipts(warehouse, context.run.run_id, transactions["transaction_id"].tolist())
    deposits = bank_deposits.assign(posted_date=pd.to_datetime(bank_deposits["posted_date"]).dt.date)
    deposits = deposits[deposits["posted_date"] > first]
    as_of = datetime.now(ZoneInfo(config.merchant.time_zone)).date()
    recon = reconcile(_batch_input(batches), transactions, receipts, deposits.drop(columns=["sha256", "currency"]),
                      policy, as_of)
    reader = sage100.reader()
    chart = reader.gl_accounts()
    accounts = account_map(config, reader.payment_types(), chart)
    plan = journal_entries(recon, accounts=accounts, parked=parked_in_sage(reader, accounts, chart))
    own = for_day(recon, set(batches.loc[batches["business_date"] == day, "batch_number"]),
                  line_keys(deposits[deposits["posted_date"] == day]))
    entries = plan.entries[plan.entries["batch_number"].isin(own["expected"]["batch_number"])
                           | (plan.entries["batch_number"].isna() & (plan.entries["posting_date"] == day))]
    lines = plan.lines[plan.lines["reference"].isin(entries["reference"])].merge(
        entries.drop(columns=["debit_cents", "credit_cents"], errors="ignore"), on="reference", how="left")
    journal_problems = plan.exceptions[plan.exceptions["batch_number"].isin(own["expected"]["batch_number"])]
    exceptions = pd.concat([own["exceptions"], journal_problems], ignore_index=True)[_EXCEPTION_COLUMNS]
    reconciliation = own["expected"].merge(own["matches"], on=["batch_number", "funding_group"], how="left",
                                           suffixes=("", "_match"))
    yield dg.Output(_dated(reconciliation, day), output_name="settlement_reconciliation", metadata={
        "expected_deposits": len(own["expected"]),
        "by_status": dg.MetadataValue.json(own["expected"]["deposit_status"].value_counts().to_dict()),
        "deposited": money_total(own["matches"]["deposit_cents"]) if len(own["matches"]) else "0.00",
        "fees": money_total(own["matches"]["fee_cents"]) if len(own["matches"]) else "0.00",
    })
    yield dg.Output(_dated(lines, day), output_name="gl_journal_entries", metadata={
        "entries": len(entries), "lines": len(lines),
        "by_kind": dg.MetadataValue.json(entries["kind"].value_counts().to_dict()),
    })
    yield dg.Output(_dated(exceptions, day), output_name="settlement_exceptions", metadata={
        "exceptions": len(exceptions),
        "by_kind": dg.MetadataValue.json(exceptions["kind"].value_counts().sort_index().to_dict()),
        "preview": preview(exceptions, ["kind", "severity", "batch_number", "problem", "action"]),
    })
    yield checks.journals_balance(lines)


def _settlement_not_configured(day: date):
    problem = not_configured_exception()
    yield dg.Output(_dated(problem[_EXCEPTION_COLUMNS], day), output_name="settlement_exceptions",
                    metadata={"exceptions": 1, "by_kind": dg.MetadataValue.json(problem["kind"].value_counts().to_dict())})
    yield dg.AssetCheckResult(check_name="journals_balance", asset_key="gl_journal_entries", passed=True,
                              description="settlement is not configured: no journal entries")


def _posted_receipts(warehouse: DuckDBResource, run_id: str, transaction_ids: list[int]) -> pd.DataFrame:
    with warehouse.get_connection() as connection:
        entries = PostingLog(connection, run_id).entries(transaction_ids=[int(t) for t in transaction_ids])
    return entries[["transaction_id", "amount_cents", "payment_type", "state"]].astype(
        {"transaction_id": "int64", "amount_cents": "int64"})


@dg.asset(
    partitions_def=business_day_partitions,
    group_name="settlement",
    kinds={"python", "duckdb", "sage"},
    owners=OWNERS,
    tags={"domain": "settlement"},
    metadata={"partition_expr": "business_date"},
    pool="duckdb",
    retry_policy=SAGE_WRITE_RETRY,
    check_specs=[dg.AssetCheckSpec("clearing_nets_to_zero", asset="sage_gl_postings",
                                   description="for each deposited batch, its receipts' debits and the journal's credits "
                                               "to card clearing in GL_DetailPosting net to zero")],
)
def sage_gl_postings(context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
                     gl_journal_entries: pd.DataFrame, paytrace_batch_transactions: pd.DataFrame):
    """The day's journal entries posted to Sage's general ledger, each once (idempotent by reference)."""
    day = date.fromisoformat(context.partition_key)
    entries = gl_journal_entries.drop_duplicates("reference")
    plan = JournalPlan(entries=entries.assign(posting_date=pd.to_datetime(entries["posting_date"]).dt.date),
                       lines=gl_journal_entries, exceptions=pd.DataFrame(), held=pd.DataFrame())
    writer = sage100.open_writer()
    rows = []
    for document in to_journal_entries(plan):
        result = writer.post_journal_entry(document)
        rows.append({"reference": document.reference, "posting_date": document.posting_date,
                     "entry_no": result.documents.get("EntryNo", ""), "created": result.created,
                     "documents_json": json.dumps(result.documents, sort_keys=True)})
    flush = getattr(writer, "flush", None)
    if callable(flush):
        flush()
    posted = pd.DataFrame(rows, columns=["reference", "posting_date", "entry_no", "created", "documents_json"])
    posted = posted.merge(entries[["reference", "kind", "batch_number", "funding_group"]], on="reference", how="left")
    yield dg.Output(_dated(posted, day), metadata={
        "entries": len(posted), "created_now": int(posted["created"].sum()) if len(posted) else 0})
    yield checks.clearing_nets_to_zero(sage100.reader(), gl_journal_entries, posted, paytrace_batch_transactions)
