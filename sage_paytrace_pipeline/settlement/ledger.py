"""What the settlement flow reads back from Sage's general ledger (through the Sage reader).

Sage is the book of record: parked sales and the card-clearing balance are read from
GL_DetailPosting, not from what the pipeline believes it posted.
"""

from __future__ import annotations

import pandas as pd

from sage_paytrace_pipeline.domain.money import decimal_to_cents
from sage_paytrace_pipeline.domain.settlement import (
    GlAccountMap,
    missing_deposits_booked,
    parked_sales,
    short_deposits_booked,
)
from sage_paytrace_pipeline.domain.settlement.journal import MISSING
from sage_paytrace_pipeline.sage100.models import GlAccount, as_money
from sage_paytrace_pipeline.sage100.reader import Sage100Reader

_GL_COLUMNS = ["AccountKey", "SourceJournal", "DocumentNo", "DebitAmount", "CreditAmount", "PostingComment"]
# A card refund (`record_card_refund`) posts through the sales journal, its comment starting with the
# PayTrace refund id: "Card refund <transaction id> <division>-<customer> ...".
_CARD_REFUND_JOURNAL = "SJ"
_CARD_REFUND_COMMENT = "Card refund "


def gl_lines_of(reader: Sage100Reader, chart: list[GlAccount], account: str | None,
                columns: list[str]) -> list[dict]:
    """`columns` of Sage's GL detail lines on `account` (none when it is not configured or not in the chart)."""
    keys = [entry.account_key for entry in chart if account is not None and entry.account == account]
    return reader.rows_where("GL_DetailPosting", "AccountKey", keys[0], columns) if keys else []


def cents_of(rows: list[dict], column: str) -> list[int]:
    """The amounts of `column` in cents."""
    return [decimal_to_cents(as_money(row[column])) for row in rows]


def parked_in_sage(reader: Sage100Reader, accounts: GlAccountMap, chart: list[GlAccount]) -> pd.DataFrame:
    """The sales posted deposit entries parked in the unposted-sales account, read back from Sage's
    GL detail (transaction_id, amount_cents); none when the account is not configured."""
    rows = gl_lines_of(reader, chart, accounts.unposted_sales, ["PostingComment", "CreditAmount"])
    return parked_sales([row["PostingComment"] for row in rows], cents_of(rows, "CreditAmount"))


def missing_in_sage(reader: Sage100Reader, accounts: GlAccountMap, chart: list[GlAccount]) -> pd.DataFrame:
    """The groups (batch_number, funding_group) whose missing deposit posted entries booked to the
    processor receivable, read back from Sage's GL detail; none when the account is not configured."""
    rows = gl_lines_of(reader, chart, accounts.processor_receivable, ["PostingComment", "DebitAmount"])
    return missing_deposits_booked([row["PostingComment"] for row in rows], cents_of(rows, "DebitAmount"))


def short_owed_in_sage(reader: Sage100Reader, accounts: GlAccountMap, chart: list[GlAccount]) -> pd.DataFrame:
    """The short deposits posted entries booked to the processor receivable (batch_number, funding_group,
    owed_cents, booked_date), read back from Sage's GL detail; none when the account is not configured."""
    rows = gl_lines_of(reader, chart, accounts.processor_receivable, ["PostingComment", "DebitAmount", "PostingDate"])
    return short_deposits_booked([row["PostingComment"] for row in rows], cents_of(rows, "DebitAmount"),
                                 [row["PostingDate"] for row in rows])


class ClearingLedger:
    """Sage's GL detail lines on the card-clearing accounts of a run's journal `lines`, read on first use,
    once for all the run's days: read after every day's entries posted (Sage does not change while the
    days are checked), each day takes the lines of its own clearing accounts, the rows its own read gives.

    The lines are summed once for the run, per account, by what `clearing_nets` looks a batch up by (a
    receipt's or card refund's transaction id, a journal entry's number): a day adds up its batches' sums
    instead of parsing the comments of every line read (a year of receipts, each day of a year's run)."""

    def __init__(self, reader: Sage100Reader, lines: pd.DataFrame) -> None:
        self._reader, self._run_lines = reader, lines
        self._sums: dict[str, pd.DataFrame] | None = None

    def sums(self, accounts: set[str]) -> dict[str, pd.DataFrame]:
        """Net cents (debit - credit) of the GL lines on `accounts`, one frame per way a batch finds its
        lines ("receipts", "card_refunds": by transaction id; "journal": by entry number), a column per
        account of the run's clearing accounts (0 where an account has none), those of `accounts` kept."""
        if self._sums is None:
            self._sums = _sums_by_key(self._read())
        return {name: frame[[account for account in frame.columns if account in accounts]]
                for name, frame in self._sums.items()}

    def _read(self) -> pd.DataFrame:
        clearing = _clearing_accounts(self._run_lines)
        accounts = {entry.account_key: entry.account for entry in self._reader.gl_accounts()
                    if entry.account in clearing}
        gl = pd.DataFrame([{**row, "account": accounts[key]} for key in sorted(accounts)
                           for row in self._reader.rows_where("GL_DetailPosting", "AccountKey", key, _GL_COLUMNS)],
                          columns=[*_GL_COLUMNS, "account"])
        gl["net_cents"] = pd.Series([decimal_to_cents(as_money(d)) - decimal_to_cents(as_money(c))
                                     for d, c in zip(gl["DebitAmount"], gl["CreditAmount"])], dtype="int64")
        return gl


def _sums_by_key(gl: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The clearing lines' net cents summed by key and account: a receipt (cash receipts journal) by the
    transaction id ending its comment, a card refund (sales journal, "Card refund <id> ...") by its refund
    id, a journal entry (general journal) by its entry number."""
    comments = gl["PostingComment"].astype(str)
    receipts = gl["SourceJournal"] == "CR"
    card_refunds = (gl["SourceJournal"] == _CARD_REFUND_JOURNAL) & comments.str.startswith(_CARD_REFUND_COMMENT)
    keyed = {
        "receipts": (receipts, comments[receipts].str.split().str[-1]),
        "card_refunds": (card_refunds, comments[card_refunds].str.slice(len(_CARD_REFUND_COMMENT)).str.split().str[0]),
        "journal": (gl["SourceJournal"] == "GJ", gl.loc[gl["SourceJournal"] == "GJ", "DocumentNo"]),
    }
    return {name: gl.loc[rows, ["account", "net_cents"]].assign(key=keys)
            .groupby(["key", "account"])["net_cents"].sum().unstack("account", fill_value=0)
            for name, (rows, keys) in keyed.items()}


def _clearing_accounts(lines: pd.DataFrame) -> set[str]:
    return set(lines.loc[lines["role"] == "clearing", "account"])


def clearing_nets(reader: Sage100Reader, lines: pd.DataFrame, posted: pd.DataFrame,
                  batch_transactions: pd.DataFrame, ledger: ClearingLedger | None = None) -> dict[int, int]:
    """Card clearing per deposited batch (cents; zero when the batch is cleared), read back from
    GL_DetailPosting: the card-clearing debits of its receipts (cash receipts journal, by
    transaction id), the clearing credits of its refunds recorded in Sage as card refunds (sales
    journal, by refund id; the refund flow), and the net of its journal entries (general journal,
    by entry number: the deposit entry, which credits the sales and debits those refunds, and the
    reclass of each parked sale whose receipt has posted since). `ledger`: the GL lines read once
    for a run's days (read here for the day's own accounts when not given)."""
    of_batches = posted[posted["batch_number"].notna()]
    deposited = of_batches.loc[of_batches["kind"].isin(["deposit", MISSING]), "batch_number"]
    deposits = of_batches[of_batches["batch_number"].isin(deposited)]
    if deposits.empty:
        return {}
    sums = (ledger if ledger is not None else ClearingLedger(reader, lines)).sums(_clearing_accounts(lines))
    nets = {}
    for batch, entries in deposits.groupby("batch_number"):
        ids = list(set(batch_transactions.loc[batch_transactions["batch_number"] == batch, "transaction_id"]
                       .astype(str)))
        nets[int(batch)] = (_total(sums["receipts"], ids) + _total(sums["card_refunds"], ids)
                            + _total(sums["journal"], entries["entry_no"].astype(str).tolist()))
    return nets


def _total(sums: pd.DataFrame, keys: list[str]) -> int:
    """The net cents summed under `keys` (each as often as listed; a key with no line adds nothing)."""
    return int(sums.reindex(keys, fill_value=0).to_numpy().sum())
