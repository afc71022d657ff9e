"""Settlement: PayTrace batches, bank statements, batch <-> clearing <-> deposit reconciliation,
and the GL journal entries that clear each deposited batch, posted to Sage once.

Thin assets around the `settlement/` application package (reads, decisions through
`domain/settlement`, Sage posting) and `banking` (statement files): read inputs, call it, write
outputs, report metadata. The checks that guard money (`journals_balance`, `clearing_nets_to_zero`)
are blocking: a failing one fails its step, so nothing downstream runs. Built by
`build_settlement_assets(config)` from the `@dg.definitions` function below, so importing this
module reads no configuration (the partitions and the lookback window come from it).
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.banking import read_statement_folder
from sage_paytrace_pipeline.banking.store import StatementStore
from sage_paytrace_pipeline.config import PipelineConfig, statement_folder
from sage_paytrace_pipeline.defs.exchange import exchange_rates
from sage_paytrace_pipeline.defs.metadata import (
    batch_preview,
    exception_list,
    money_total,
    preview,
)
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage, outages_fail_the_step
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.paytrace.assets import API_RETRY
from sage_paytrace_pipeline.defs.paytrace.resources import PayTraceResource
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, combined_check, days_of, run_days, stacked, with_days
from sage_paytrace_pipeline.defs.sage100.resources import (
    SAGE_WRITE_RETRY,
    Sage100Resource,
)
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.settlement import checks
from sage_paytrace_pipeline.defs.warehouse import holding_the_warehouse
from sage_paytrace_pipeline.disputes.case_store import saved_stages
from sage_paytrace_pipeline.domain.currency import PAYTRACE_AMOUNT, exchange_of_log
from sage_paytrace_pipeline.domain.disputes.settlement import name_netted_cases
from sage_paytrace_pipeline.domain.settlement import SettlementPolicy
from sage_paytrace_pipeline.receivables.posting_log import PostingLog
from sage_paytrace_pipeline.settlement.batches import read_closed_batches_by_day
from sage_paytrace_pipeline.settlement.day import (
    post_journal_entries,
    range_window_inputs,
    read_books,
    settle_day,
)
from sage_paytrace_pipeline.settlement.frames import (
    EXCEPTION_COLUMNS,
    dated,
    lookback_days,
    not_configured_exception,
    receipts_from_log,
)
from sage_paytrace_pipeline.settlement.ledger import ClearingLedger
from sage_paytrace_pipeline.settlement.refunds import refunds_in_sage_currency, refunds_recorded_in_sage
from sage_paytrace_pipeline.settlement.write_offs import WriteOffStore, resolved_by_write_offs, write_off_plan

OWNERS = ["team:finance"]


def settlement_lookback(config: PipelineConfig) -> int:
    """Calendar days of batches reconciled with a day's (the partition mapping's reach, both ways)."""
    return lookback_days(config.settlement.deposit_window_business_days if config.settlement else 3)


def _out(description: str, *, partitioned: bool = True, kinds: set[str] | None = None,
         required: bool = True) -> dg.AssetOut:
    return dg.AssetOut(group_name="settlement", kinds=kinds or {"python", "duckdb"}, owners=OWNERS,
                       tags={"domain": "settlement"}, description=description, is_required=required,
                       metadata={"partition_expr": "business_date"} if partitioned else {})


def _tie_out_policy(settings: PipelineSettings) -> SettlementPolicy:
    """The configured policy; batch tie-out does not depend on the discount method, so an
    unconfigured one does not stop reading batches."""
    return settings.config().settlement or SettlementPolicy(discount_method="daily")


def settlement_batches(context: dg.AssetExecutionContext, paytrace: PayTraceResource, settings: PipelineSettings):
    days = run_days(context)
    client, policy = paytrace.get_client(), _tie_out_policy(settings)
    with outages_fail_the_step():  # the range's batches in the calls one day needs, split into its days
        by_day = read_closed_batches_by_day(client, days, policy)
    read = [(day, by_day[day]) for day in days]
    for problem in (problem for _, closed in read for problem in closed.rejected):
        context.log.warning("PayTrace batch record left out: %s", problem)
    brands = stacked(closed.brands for _, closed in read)
    summary = stacked(closed.summary for _, closed in read)
    yield dg.Output(summary, output_name="paytrace_settlement_batches", metadata=with_days({
        "batches": sum(closed.batch_count for _, closed in read), "sales": money_total(brands["sales_cents"]),
        "refunds": money_total(brands["refund_cents"]),
        "rejected_records": dg.MetadataValue.json([problem for _, closed in read for problem in closed.rejected]),
        "preview": preview(summary, ["batch_number", "brand", "sales_count", "sales_cents", "refund_cents"]),
    }, days))
    transactions = stacked(closed.transactions for _, closed in read)
    yield dg.Output(transactions, output_name="paytrace_batch_transactions",
                    metadata=with_days({"transactions": len(transactions)}, days))
    yield combined_check([(day, checks.batch_totals_equal_transactions(closed.tie_out)) for day, closed in read])
    yield combined_check([(day, checks.settled_transaction_in_one_batch(closed.transactions)) for day, closed in read])


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
        "preview": exception_list(errors, ["file", "line"]),
    })
    yield checks.statement_files_loaded(errors, files_read=len(scan.loaded) + len(errors))


def settlement_reconciliation(  # noqa: PLR0917 - Dagster refuses keyword-only asset inputs
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource, warehouse: DuckDBResource,
    batches: pd.DataFrame, batch_transactions: pd.DataFrame, bank_deposits: pd.DataFrame,
):
    days = run_days(context)
    config = settings.config()
    if config.settlement is None:  # a receivables-only deployment: say so, guess nothing, post nothing
        yield from _settlement_not_configured(days)
        return
    as_of = datetime.now(ZoneInfo(config.merchant.time_zone)).date()
    reader, settled_days = sage100.reader(), []
    rates = exchange_rates(config, settings.config_path)  # None: one currency, nothing converts
    with warehouse.get_connection() as connection:
        log = PostingLog(connection, context.run.run_id)
        dispute_stages = saved_stages(connection) if config.disputes else None
        # people's decisions to write off what the processor receivable holds for a batch
        decisions = WriteOffStore(connection).decisions() if config.gl_accounts.processor_receivable else None
        # Read once for the run's days (nothing read here is written while the step runs): Sage's books,
        # the posting log's rows of every day's transactions, the refunds recorded in Sage; each day
        # takes its own rows, the ones its own reads would return.
        books = read_books(config, reader)
        day_inputs = list(zip(days, range_window_inputs(days, config.settlement, batches, batch_transactions,
                                                        bank_deposits, short_owed=books.short_owed), strict=True))
        every_id = [int(t) for _, inputs in day_inputs for t in inputs.transactions["transaction_id"]]
        all_logged = log.entries(transaction_ids=every_id)
        all_recorded = refunds_recorded_in_sage(connection, every_id) if config.refunds else frozenset()
        all_refund_cents = (refunds_in_sage_currency(connection, all_recorded)
                            if rates is not None and all_recorded else {})
        log_rows = _rows_by_transaction(all_logged)
        for day, inputs in day_inputs:
            ids = inputs.transactions["transaction_id"].astype("int64")
            # the day's receipts, as the posting log holds them
            logged = _rows_of(all_logged, log_rows, ids)
            # and, with the refund flow on, its refunds that flow recorded in Sage (they went through clearing)
            recorded = all_recorded & frozenset(ids.tolist())
            receipts = receipts_from_log(logged)
            if rates is not None:  # each receipt's PayTrace amount, as the log recorded it before the write
                receipts[PAYTRACE_AMOUNT] = exchange_of_log(logged["applications_json"])[PAYTRACE_AMOUNT].to_numpy()
            # under a conversion, what those refunds credited clearing in Sage (at their sales' rates)
            refund_cents = ({refund: all_refund_cents[refund] for refund in recorded if refund in all_refund_cents}
                            if rates is not None and recorded else None)
            settled_days.append((day, settle_day(day, config, inputs, receipts, reader=reader, as_of=as_of,
                                                 recorded_refunds=recorded, rates=rates, refund_cents=refund_cents,
                                                 books=books)))
    write_offs = write_off_plan(config, reader, decisions) if decisions is not None and len(decisions) else None
    reconciliation = stacked(dated(settled.reconciliation, day) for day, settled in settled_days)
    expected = stacked(settled.expected for _, settled in settled_days)
    matches = stacked(settled.matches for _, settled in settled_days)
    refunds = stacked(settled.refunds for _, settled in settled_days)
    lines = stacked(dated(settled.lines, day) for day, settled in settled_days)
    entries = stacked(settled.entries for _, settled in settled_days)
    exceptions = stacked(dated(settled.exceptions, day) for day, settled in settled_days)
    if write_offs is not None:  # posted with the run's last day, each once (PT-W…, read back from Sage)
        if len(write_offs.entries):
            lines = pd.concat([lines, dated(write_offs.lines.merge(write_offs.entries.drop(
                columns=["debit_cents", "credit_cents"]), on="reference", how="left"), days[-1])], ignore_index=True)
            entries = pd.concat([entries, write_offs.entries], ignore_index=True)
        exceptions = resolved_by_write_offs(exceptions, write_offs.resolved)
        if len(write_offs.exceptions):
            exceptions = pd.concat([exceptions, dated(write_offs.exceptions, days[-1])], ignore_index=True)
    if dispute_stages is not None:  # a netted chargeback's exception names its dispute case
        exceptions = name_netted_cases(exceptions, matches, dispute_stages)
    yield dg.Output(reconciliation, output_name="settlement_reconciliation", metadata=with_days({
        "expected_deposits": len(expected),
        "by_status": dg.MetadataValue.json(expected["deposit_status"].value_counts().to_dict()),
        "deposited": money_total(matches["deposit_cents"]) if len(matches) else "0.00",
        "fees": money_total(matches["fee_cents"]) if len(matches) else "0.00",
        # expensed (no refund flow, or before its start date), through_clearing (recorded in Sage), not_in_sage
        "refunds_by_treatment": dg.MetadataValue.json(refunds["treatment"].value_counts().to_dict()),
        # per batch and funding group: did the deposit come, what fee was booked, from which bank line
        "batches": batch_preview(reconciliation),
    }, days))
    yield dg.Output(lines, output_name="gl_journal_entries", metadata=with_days({
        "entries": len(entries), "lines": len(lines),
        "by_kind": dg.MetadataValue.json(entries["kind"].value_counts().to_dict()),
    }, days))
    yield dg.Output(exceptions, output_name="settlement_exceptions", metadata=with_days({
        "exceptions": len(exceptions),
        "by_kind": dg.MetadataValue.json(exceptions["kind"].value_counts().sort_index().to_dict()),
        "preview": exception_list(exceptions, ["batch_number"]),
    }, days))
    yield combined_check([(day, checks.journals_balance(settled.lines)) for day, settled in settled_days])


def _rows_by_transaction(logged: pd.DataFrame) -> dict[int, np.ndarray]:
    """The positions of each transaction's rows in the run's posting-log rows, found once for the run: each
    day then takes its own without a pass over every day's rows (a year's run made that quadratic)."""
    return pd.Series(np.arange(len(logged))).groupby(logged["transaction_id"].to_numpy()).indices


def _rows_of(logged: pd.DataFrame, rows: dict[int, np.ndarray], ids: pd.Series) -> pd.DataFrame:
    """`logged[logged["transaction_id"].isin(ids)]`, in the log's order, by `_rows_by_transaction`."""
    found = [rows[transaction_id] for transaction_id in set(ids.tolist()) if transaction_id in rows]
    positions = np.sort(np.concatenate(found)) if found else np.zeros(0, dtype="int64")
    return logged.take(positions).reset_index(drop=True)


def _settlement_not_configured(days: list[date]):
    problem = not_configured_exception()
    yield dg.Output(stacked(dated(problem[EXCEPTION_COLUMNS], day) for day in days),
                    output_name="settlement_exceptions",
                    metadata={"exceptions": len(days),
                              "by_kind": dg.MetadataValue.json((problem["kind"].value_counts() * len(days)).to_dict()),
                              "preview": exception_list(problem, [])})
    yield dg.AssetCheckResult(check_name="journals_balance", asset_key="gl_journal_entries", passed=True,
                              description="settlement is not configured: no journal entries")


def sage_gl_postings(context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
                     gl_journal_entries: pd.DataFrame, paytrace_batch_transactions: pd.DataFrame):
    """The day's journal entries posted to Sage's general ledger, each once (idempotent by reference)."""
    days = run_days(context)
    writer, reader, done = sage100.open_writer(), sage100.reader(), []
    for day, lines in days_of(gl_journal_entries, days).items():  # in order: an entry two days' windows share
        done.append((day, lines, post_journal_entries(writer, lines)))  # is created by the earlier day
    posted = stacked(dated(day_posted, day) for day, _, day_posted in done)
    yield dg.Output(posted, metadata=with_days({
        "entries": len(posted), "created_now": int(posted["created"].sum()) if len(posted) else 0}, days))
    ledger = ClearingLedger(reader, gl_journal_entries)  # read once, after every day posted
    transactions = days_of(paytrace_batch_transactions, days)
    yield combined_check([(day, checks.clearing_nets_to_zero(reader, lines, day_posted, transactions[day], ledger))
                          for day, lines, day_posted in done])


def _window_in(key: str, days: int) -> dg.AssetIn:
    """Batches closed up to `days` days before the day and after it: later batches' deposits compete
    for the same bank lines, so each line goes to one batch only. The daily job reads each day's
    batches the night they close, so a morning's settlement run has every batch up to yesterday."""
    return dg.AssetIn(key, partition_mapping=dg.TimeWindowPartitionMapping(
        start_offset=-days, end_offset=days, allow_nonexistent_upstream_partitions=True))


def build_settlement_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions, days = business_day_partitions(config), settlement_lookback(config)
    batches = dg.multi_asset(
        outs={
            "paytrace_settlement_batches": _out("Batches PayTrace closed on the day, per brand, tied out against "
                                                "their transactions (summary vs detail counts and amounts)."),
            "paytrace_batch_transactions": _out("The transactions of each batch closed on the day."),
        },
        partitions_def=partitions,
        pool="duckdb",
        retry_policy=API_RETRY,
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[
            dg.AssetCheckSpec("batch_totals_equal_transactions", asset="paytrace_settlement_batches",
                              description="each batch's per-brand counts and amounts equal the sum of its "
                                          "transactions"),
            dg.AssetCheckSpec("settled_transaction_in_one_batch", asset="paytrace_batch_transactions",
                              description="every settled transaction is listed in exactly one batch"),
        ],
    )(settlement_batches)
    statements = dg.multi_asset(
        outs={
            "bank_deposits": _out("Every bank statement line loaded from the statement folder (BAI2, OFX/QFX, CSV), "
                                  "each file once by content hash.", partitioned=False),
            "bank_statement_exceptions": _out("Statement files that could not be read: file, line, what is wrong, "
                                              "how to fix it. Nothing of such a file is loaded.", partitioned=False),
        },
        pool="duckdb",
        can_subset=False,
        check_specs=[dg.AssetCheckSpec("statement_files_loaded", asset="bank_deposits",
                                       description="every new file in the statement folder loads; a refused "
                                                   "file (warning) names its line, what is wrong and the fix, "
                                                   "and reaches the alert channels")],
    )(holding_the_warehouse(bank_statements))
    reconciliation = dg.multi_asset(
        outs={
            # Not materialized (and nothing posted downstream) while settlement is not configured.
            "settlement_reconciliation": _out("Each batch's expected deposits (per funding group) matched to a bank "
                                              "line, with method, fee and variance; status matched/short/over/"
                                              "pending/missing.", required=False),
            "gl_journal_entries": _out("Balanced journal lines that clear each deposited batch (Dr bank, Dr fees, "
                                       "Dr refunds, or Dr card clearing for refunds the refund flow recorded in "
                                       "Sage, Cr card clearing per brand) and fee/chargeback debits.",
                                       required=False),
            "settlement_exceptions": _out("Missing or short deposits, unposted batch transactions, transactions in "
                                          "no batch, unmapped GL accounts: what is wrong and what fixes it."),
        },
        ins={"batches": _window_in("paytrace_settlement_batches", days),
             "batch_transactions": _window_in("paytrace_batch_transactions", days),
             "bank_deposits": dg.AssetIn("bank_deposits")},
        # The day's receipts are posted first when both run together (e.g. `--select '*'`): a sale of the
        # day's batch is then a confirmed receipt, not parked as unposted. Read from the posting log. Its
        # refunds are recorded first too, so they pass through clearing instead of holding the entry.
        deps=["sage_cash_receipts", "sage_refund_requests", "sage_card_refunds"],
        partitions_def=partitions,
        pool="duckdb",
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[dg.AssetCheckSpec("journals_balance", asset="gl_journal_entries", blocking=True,
                                       description="every journal entry's debits equal its credits")],
    )(holding_the_warehouse(settlement_reconciliation))
    postings = dg.asset(
        partitions_def=partitions,
        group_name="settlement",
        kinds={"python", "duckdb", "sage"},
        owners=OWNERS,
        tags={"domain": "settlement"},
        metadata={"partition_expr": "business_date"},
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        backfill_policy=BACKFILL_POLICY,
        check_specs=[dg.AssetCheckSpec("clearing_nets_to_zero", asset="sage_gl_postings", blocking=True,
                                       description="for each deposited batch, its receipts' debits, its card "
                                                   "refunds' credits and the journal's lines to card clearing in "
                                                   "GL_DetailPosting net to zero")],
    )(fails_fast_on_outage(sage_gl_postings))
    return [batches, statements, reconciliation, postings]


@dg.definitions
def settlement_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_settlement_assets(load_time_config())))
