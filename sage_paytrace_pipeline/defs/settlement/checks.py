"""Invariants of the settlement assets, as inline asset-check results (ERROR severity)."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.sage100.models import as_money
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_SHOWN = 20
_GL_COLUMNS = ["AccountKey", "SourceJournal", "DocumentNo", "DebitAmount", "CreditAmount", "PostingComment"]


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
                          batch_transactions: pd.DataFrame) -> dg.AssetCheckResult:
    """Per deposited batch, read back from GL_DetailPosting: the card-clearing debits of its
    receipts (cash receipts journal, by transaction id) minus the clearing credits of its journal
    entries (general journal, by entry number: the deposit entry, and the reclass of each parked sale
    whose receipt has posted since) is zero."""
    of_batches = posted[posted["batch_number"].notna()]
    deposited = of_batches.loc[of_batches["kind"] == "deposit", "batch_number"]
    deposits = of_batches[of_batches["batch_number"].isin(deposited)]
    if deposits.empty:
        return _result("clearing_nets_to_zero", "sage_gl_postings", [], 0, "deposited batches")
    clearing = set(lines.loc[lines["role"] == "clearing", "account"])
    keys = {account.account_key for account in reader.gl_accounts() if account.account in clearing}
    gl = pd.DataFrame([row for key in sorted(keys) for row in reader.rows_where("GL_DetailPosting", "AccountKey", key,
                                                                                 _GL_COLUMNS)], columns=_GL_COLUMNS)
    gl["net_cents"] = [decimal_to_cents(as_money(d)) - decimal_to_cents(as_money(c))
                       for d, c in zip(gl["DebitAmount"], gl["CreditAmount"])]
    receipts = gl[gl["SourceJournal"] == "CR"]
    by_transaction = receipts.assign(transaction_id=receipts["PostingComment"].astype(str).str.split().str[-1])
    journal = gl[gl["SourceJournal"] == "GJ"].groupby("DocumentNo")["net_cents"].sum()
    failing, nets = [], {}
    for batch, entries in deposits.groupby("batch_number"):
        ids = set(batch_transactions.loc[batch_transactions["batch_number"] == batch, "transaction_id"].astype(str))
        debits = int(by_transaction.loc[by_transaction["transaction_id"].isin(ids), "net_cents"].sum())
        credits = int(journal.reindex(entries["entry_no"].astype(str)).fillna(0).sum())
        nets[int(batch)] = debits + credits
        if debits + credits != 0:
            failing.append(f"batch {int(batch)}: clearing nets to {debits + credits} cents")
    return _result("clearing_nets_to_zero", "sage_gl_postings", failing, len(nets), "deposited batches",
                   net_cents_by_batch=dg.MetadataValue.json({str(k): v for k, v in nets.items()}))
