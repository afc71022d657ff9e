"""PayTrace -> Sage refunds and voids: each PayTrace refund recorded in Sage once, voids after posting reversed.

Thin: reads the day's `paytrace_transactions`, the warehouse's earlier sales and refunds (one
query) and Sage (a few chunked reads), calls refunds/paytrace_to_sage.py and refunds/reversals.py,
writes the day's refund-log rows (`sage_card_refunds`) and exceptions (`refund_exceptions`), and
checks inline that every refund the flow owns is in Sage or has an exception. Runs after the
day's `sage_cash_receipts` (a refund needs its sale's receipt). With no `refunds:` section the
assets exist, do nothing and say so. Built from the config in the `@dg.definitions` function
below, so importing this module reads nothing.
"""

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb import DuckDBResource

from sage_paytrace_pipeline.config import PipelineConfig
from sage_paytrace_pipeline.defs.exchange import exchange_rates, receipt_exchange
from sage_paytrace_pipeline.defs.metadata import exception_metadata, money_total, preview
from sage_paytrace_pipeline.defs.outages import fails_fast_on_outage
from sage_paytrace_pipeline.defs.partitions import business_day_partitions
from sage_paytrace_pipeline.defs.ranges import BACKFILL_POLICY, combined_check, of_day, run_days, stacked, with_days
from sage_paytrace_pipeline.defs.sage100.resources import SAGE_WRITE_RETRY, Sage100Resource
from sage_paytrace_pipeline.defs.settings import PipelineSettings, load_time_config
from sage_paytrace_pipeline.defs.warehouse import holding_the_warehouse
from sage_paytrace_pipeline.refunds.paytrace_to_sage import (
    REFUND_EXCEPTIONS,
    Conversion,
    RefundFlowSettings,
    RefundOutcome,
    WarehouseHistory,
    post_paytrace_refunds,
    problems_frame,
    warehouse_transactions,
)
from sage_paytrace_pipeline.refunds.posting_log import RefundLog
from sage_paytrace_pipeline.refunds.reversals import ReversalOutcome, reverse_voids, sales_voided_by_requests

OWNERS = ["team:accounts-receivable"]
GROUP = "refunds"
_SHOWN = 20


def _out(description: str, kinds: set[str]) -> dg.AssetOut:
    return dg.AssetOut(group_name=GROUP, kinds=kinds, owners=OWNERS, tags={"domain": "refunds"},
                       metadata={"partition_expr": "business_date"}, description=description, is_required=True)


def _dated(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    frame = frame.drop(columns=["business_date"], errors="ignore").copy()
    frame.insert(0, "business_date", day)
    return frame


def record_paytrace_refunds(
    context: dg.AssetExecutionContext, settings: PipelineSettings, sage100: Sage100Resource,
    warehouse: DuckDBResource, paytrace_transactions: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Record the day's PayTrace refunds in Sage and reverse the voids that came after posting."""
    days = run_days(context)
    refunds_config = settings.config().refunds
    with warehouse.get_connection() as connection:
        log = RefundLog(connection, context.run.run_id)
        if refunds_config is None:
            yield from _flow_off(log, days)
            return
        config = settings.config()
        rates = exchange_rates(config, settings.config_path)  # None: one currency, nothing converts
        flow = RefundFlowSettings(
            start_date=date.fromisoformat(refunds_config.start_date) if refunds_config.start_date else date.min,
            credit_memo_account=refunds_config.credit_memo_account or config.gl_accounts.refunds,
            conversion=None if rates is None else Conversion(
                rates, _receipt_rates(connection, context.run.run_id),
                (config.currency.paytrace, config.currency.sage)))
        reader, writer = sage100.reader(), sage100.open_writer()
        recorded = []
        # read once: the transactions step stored every day of the run before this step started
        stored = warehouse_transactions(connection)
        # a range's days each read every sale and refund: prepared once (keys, carried-over selection)
        history = WarehouseHistory(stored) if len(days) > 1 else None
        for day in days:  # in order: a refund of a sale sold earlier in the range finds its receipt posted
            transactions = of_day(paytrace_transactions, day, days)
            # as the day's own run saw the warehouse: the run's later days are not stored yet
            earlier = stored if history is None else history.without_days([later for later in days if later > day])
            refunds = post_paytrace_refunds(transactions, earlier, day=day, settings=flow, reader=reader,
                                            writer=writer, log=log)
            voids = reverse_voids(transactions, day=day, reader=reader, writer=writer, log=log,
                                  voided_by_requests=lambda ids: sales_voided_by_requests(connection, ids))
            recorded.append((day, refunds, voids, log.entries(business_date=day)))
    per_day = [(day, refunds, voids, entries,
                REFUND_EXCEPTIONS.concat([refunds.exceptions(), problems_frame(voids.problems)]))
               for day, refunds, voids, entries in recorded]
    entries = stacked(_dated(day_entries, day) for day, _, _, day_entries, _ in per_day)
    exceptions = stacked(_dated(day_exceptions, day) for day, _, _, _, day_exceptions in per_day)
    yield dg.Output(entries, output_name="sage_card_refunds",
                    metadata=with_days(_metadata(entries, [r for _, r, _, _, _ in per_day],
                                                 [v for _, _, v, _, _ in per_day]), days))
    yield dg.Output(exceptions, output_name="refund_exceptions",
                    metadata=with_days(exception_metadata(exceptions), days))
    results = []
    for day, refunds, _, _, day_exceptions in per_day:
        in_sage = {int(r.transaction_id) for r in reader.card_refunds_for_transaction_ids(map(str, refunds.selected))}
        results.append((day, every_refund_in_sage_or_excepted(refunds.selected, in_sage, day_exceptions)))
    yield combined_check(results)


def _receipt_rates(connection: duckdb.DuckDBPyConnection, run_id: str) -> Callable[[list[int]], dict[int, Decimal]]:
    """Each sale's rate as its confirmed receipt recorded it (none: absent)."""
    receipts_of = receipt_exchange(connection, run_id)
    return lambda sale_ids: {sale: receipt.rate for sale, receipt in receipts_of(sale_ids).items()
                             if receipt.rate is not None}


def _flow_off(log: RefundLog, days: list[date]) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """No `refunds:` section: nothing read or written; refunds stay receivables' `refund_not_posted` exceptions."""
    off = {"flow": "off: no refunds section in the config; refunds stay refund_not_posted exceptions"}
    entries = stacked(_dated(log.entries(business_date=day), day) for day in days)
    exceptions = stacked(_dated(REFUND_EXCEPTIONS.empty(), day) for day in days)
    yield dg.Output(entries, output_name="sage_card_refunds", metadata={**off, "refunds": 0})
    yield dg.Output(exceptions, output_name="refund_exceptions", metadata={**off, "exceptions": 0})
    yield every_refund_in_sage_or_excepted([], set(), exceptions)


def _metadata(entries: pd.DataFrame, refunds_by_day: list[RefundOutcome], voids_by_day: list[ReversalOutcome]) -> dict:
    confirmed = entries[entries["state"] == "confirmed"]

    def total(outcomes: list, attribute: str) -> int:
        return sum(len(getattr(outcome, attribute)) for outcome in outcomes)

    skipped: dict = {}
    for refunds in refunds_by_day:
        for key, value in refunds.skipped.items():
            skipped[key] = skipped.get(key, 0) + value
    return {
        "refunds_of_the_day": total(refunds_by_day, "selected"),
        "written_this_run": total(refunds_by_day, "written"),
        "found_in_sage_before_writing": total(refunds_by_day, "confirmed_existing"),
        "awaiting_sale": total(refunds_by_day, "awaiting_sale"),
        "receipts_reversed": total(voids_by_day, "receipts_reversed"),
        "refunds_reversed": total(voids_by_day, "refunds_reversed"),
        "amount_refunded_confirmed": money_total(confirmed.loc[confirmed["kind"] == "refund", "amount_cents"]),
        "amount_receipts_reversed": money_total(confirmed.loc[confirmed["kind"] == "receipt_reversal",
                                                              "amount_cents"]),
        "skipped": dg.MetadataValue.json(skipped),
        "by_state": dg.MetadataValue.json((entries["kind"] + ":" + entries["state"]).value_counts().sort_index()
                                          .to_dict()),
        "preview": preview(entries, ["transaction_id", "kind", "sale_transaction_id", "division", "customer_no",
                                     "amount_cents", "state"]),
    }


def every_refund_in_sage_or_excepted(selected: list[int], in_sage: set[int],
                                     exceptions: pd.DataFrame) -> dg.AssetCheckResult:
    """Each PayTrace refund of the day this flow owns is in Sage (read back) or has an exception row."""
    excepted = set(exceptions["transaction_id"].dropna().astype("int64").tolist())
    failing = sorted(set(selected) - in_sage - excepted)
    return dg.AssetCheckResult(
        check_name="every_refund_in_sage_or_excepted", asset_key="sage_card_refunds", passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{len(failing)} of {len(selected)} refunds neither in Sage nor excepted" if failing
                     else f"all {len(selected)} refunds in Sage or excepted"),
        metadata={"checked": len(selected), "failing": len(failing),
                  "failing_transaction_ids": dg.MetadataValue.json(failing[:_SHOWN])})


def build_paytrace_refund_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    refunds = dg.multi_asset(
        outs={
            "sage_card_refunds": _out("PayTrace refunds recorded in Sage (credit memos + card refund, Dr AR / "
                                      "Cr clearing) and voids after posting reversed: the refund log's rows of the "
                                      "day, state intent / written / confirmed / rejected.",
                                      {"python", "duckdb", "sage"}),
            "refund_exceptions": _out("Refunds the flow could not record (sale unknown, ambiguous, awaiting its "
                                      "receipt, refused by Sage), with the action that fixes each.",
                                      {"python", "duckdb"}),
        },
        ins={"paytrace_transactions": dg.AssetIn("paytrace_transactions")},
        # A refund needs its sale's receipt: the day's receipts post first. Sage-initiated requests are
        # sent and recorded first too, so a sale a request voided is never also reversed here.
        deps=["sage_cash_receipts", "sage_refund_requests"],
        partitions_def=business_day_partitions(config),
        pool="duckdb",
        retry_policy=SAGE_WRITE_RETRY,
        backfill_policy=BACKFILL_POLICY,
        can_subset=False,
        check_specs=[dg.AssetCheckSpec("every_refund_in_sage_or_excepted", asset="sage_card_refunds",
                                       description="each PayTrace refund of the day the flow owns is in Sage or "
                                                   "has an exception row")],
    )(holding_the_warehouse(fails_fast_on_outage(record_paytrace_refunds)))
    return [refunds]


@dg.definitions
def paytrace_refund_assets() -> dg.Definitions:
    return dg.Definitions(assets=dg.with_source_code_references(build_paytrace_refund_assets(load_time_config())))
