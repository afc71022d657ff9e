"""Invariants of the settlement assets, as inline asset-check results (ERROR severity), and the
bank statement folder's health (WARN severity).

`journals_balance` and `clearing_nets_to_zero` guard money: their specs are blocking, so a failure
stops what depends on the asset. `statement_files_loaded` is a warning: the other files' deposits
still reconcile, and the alert sensors send its failure to the alert channels.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.sage100.reader import Sage100Reader
from sage_paytrace_pipeline.settlement.ledger import ClearingLedger, clearing_nets

_SHOWN = 20


def _result(name: str, asset: str, failing: list, checked: int, what: str, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key=asset, passed=not failing, severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failing)} of {checked} {what} fail" if failing else f"all {checked} {what} pass",
        metadata={"checked": checked, "failing": len(failing),
                  "failing_examples": dg.MetadataValue.json([str(item) for item in failing[:_SHOWN]]), **metadata},
    )


def batch_totals_equal_transactions(tie_out: pd.DataFrame) -> dg.AssetCheckResult:
    failing = [f"batch {row.batch_number} {row.brand}" for row in tie_out[~tie_out["ties"].astype(bool)].itertuples()]
    return _result("batch_totals_equal_transactions", "paytrace_settlement_batches", failing, len(tie_out),
                   "batch x brand totals equal to their transactions")


def settled_transaction_in_one_batch(transactions: pd.DataFrame) -> dg.AssetCheckResult:
    repeated = transactions["transaction_id"][transactions["transaction_id"].duplicated()].unique().tolist()
    return _result("settled_transaction_in_one_batch", "paytrace_batch_transactions", repeated,
                   int(transactions["transaction_id"].nunique()), "transactions listed in exactly one batch")


def journals_balance(lines: pd.DataFrame) -> dg.AssetCheckResult:
    sums = lines.groupby("reference")[["debit_cents", "credit_cents"]].sum()
    failing = sums.index[sums["debit_cents"] != sums["credit_cents"]].tolist()
    return _result("journals_balance", "gl_journal_entries", failing, len(sums), "journal entries balanced")


def clearing_nets_to_zero(reader: Sage100Reader, lines: pd.DataFrame, posted: pd.DataFrame,
                          batch_transactions: pd.DataFrame, ledger: ClearingLedger | None = None
                          ) -> dg.AssetCheckResult:
    """Per deposited batch, card clearing in Sage's GL_DetailPosting (its receipts' debits minus its
    journal entries' credits, see `settlement.ledger.clearing_nets`) is zero. `ledger`: the GL lines
    read once for the run's days."""
    nets = clearing_nets(reader, lines, posted, batch_transactions, ledger)
    if not nets:
        return _result("clearing_nets_to_zero", "sage_gl_postings", [], 0, "deposited batches")
    failing = [f"batch {batch}: clearing nets to {net} cents" for batch, net in nets.items() if net]
    return _result("clearing_nets_to_zero", "sage_gl_postings", failing, len(nets), "deposited batches",
                   net_cents_by_batch=dg.MetadataValue.json({str(k): v for k, v in nets.items()}))


def statement_files_loaded(refused: pd.DataFrame, files_read: int) -> dg.AssetCheckResult:
    """Every new file in the statement folder loaded; `refused` holds file, line, problem, action."""
    shown = [f"{row.file} line {row.line}: {row.problem}. Fix: {row.action}"
             for row in refused.head(_SHOWN).itertuples()]
    files = "file" if len(refused) == 1 else "files"
    description = (f"{len(refused)} statement {files} refused (their lines are not loaded): " + "; ".join(shown)
                   if len(refused) else f"all {files_read} new statement files loaded")
    return dg.AssetCheckResult(
        check_name="statement_files_loaded", asset_key="bank_deposits", passed=refused.empty,
        severity=dg.AssetCheckSeverity.WARN, description=description,
        metadata={"files_read": files_read, "refused": len(refused),
                  "refused_files": dg.MetadataValue.json(shown)},
    )
